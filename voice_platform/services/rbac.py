"""The one authorisation check used by the API, the dashboard and the CLI.

``require(session, actor, permission, org_id)`` answers NotFound when the actor
is not in the organization (so another tenant's ids reveal nothing) and
PermissionDenied when they are a member whose role lacks the permission.
"""

from __future__ import annotations

import uuid

from sqlmodel import Session, select

from voice_platform.errors import NotFound, PermissionDenied
from voice_platform.models import Membership, Organization, Permission, Role, RolePermission, User

PLATFORM_ADMIN = "platform_admin"
ORG_ADMIN = "org_admin"
MEMBER = "member"

# The catalogue the initial migration seeds; kept here so code and docs name the same things.
PERMISSIONS: dict[str, str] = {
    "org:read": "See the organization, its members and settings",
    "org:manage": "Rename the organization and edit its business details",
    "member:manage": "Add, remove and change the role of members",
    "agent:read": "See voice agents",
    "agent:create": "Create voice agents",
    "agent:update": "Edit voice agents",
    "agent:delete": "Delete voice agents",
    "tool:read": "See the tools attached to agents",
    "tool:configure": "Attach tools, edit their configuration, connect accounts and switch functions",
    "call:read": "See call history and transcripts",
    "billing:manage": "Manage the subscription and billing",
    "platform:tools": "Manage the platform's tool catalogue",
}
ROLE_PERMISSIONS: dict[str, tuple[int, str, list[str]]] = {
    PLATFORM_ADMIN: (100, "Operates the platform; every permission everywhere", list(PERMISSIONS)),
    ORG_ADMIN: (
        50,
        "Runs an organization",
        [p for p in PERMISSIONS if p != "platform:tools"],
    ),
    MEMBER: (10, "Sees the organization's agents, tools and calls", ["org:read", "agent:read", "tool:read", "call:read"]),
}
ASSIGNABLE_ROLES = (ORG_ADMIN, MEMBER)


def api_key_of(actor: object) -> uuid.UUID | None:
    """The API key behind the actor (``services.api_keys.ApiKeyActor``), None for a signed-in user."""
    return getattr(actor, "api_key_id", None)


def refuse_api_key(actor: object, what: str, org_id: uuid.UUID | None = None, *, not_found: str = "Organization not found") -> None:
    """Keys act for an organization, never as a person: "API keys cannot <what>" (403).

    With ``org_id``, a key of another organization gets NotFound first, as everywhere else.
    """
    if api_key_of(actor) is None:
        return
    if org_id is not None and getattr(actor, "organization_id", None) != org_id:
        raise NotFound(not_found)
    raise PermissionDenied(f"API keys cannot {what}")


def role_of(session: Session, actor: User, org_id: uuid.UUID) -> str | None:
    """The actor's role name in the organization, or None when not a member.

    An API key is a member of its own organization with the key's role, a stranger elsewhere.
    """
    if api_key_of(actor) is not None:
        return actor.role if actor.organization_id == org_id else None  # type: ignore[attr-defined]
    if actor.is_platform_admin:
        return PLATFORM_ADMIN
    row = session.exec(
        select(Role.name)
        .join(Membership, Membership.role_id == Role.id)
        .where(Membership.user_id == actor.id, Membership.organization_id == org_id)
    ).first()
    return row


def permissions_of(session: Session, actor: User, org_id: uuid.UUID) -> set[str]:
    if api_key_of(actor) is not None:
        role = role_of(session, actor, org_id)
        if role is None:
            return set()
        return set(session.exec(
            select(Permission.name)
            .join(RolePermission, RolePermission.permission_id == Permission.id)
            .join(Role, Role.id == RolePermission.role_id)
            .where(Role.name == role)
        ).all())
    if actor.is_platform_admin:
        return set(PERMISSIONS)
    rows = session.exec(
        select(Permission.name)
        .join(RolePermission, RolePermission.permission_id == Permission.id)
        .join(Membership, Membership.role_id == RolePermission.role_id)
        .where(Membership.user_id == actor.id, Membership.organization_id == org_id)
    ).all()
    return set(rows)


def require(
    session: Session,
    actor: User,
    permission: str,
    org_id: uuid.UUID,
    *,
    not_found: str = "Organization not found",
) -> None:
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")
    if actor.is_platform_admin:
        if session.get(Organization, org_id) is None:
            raise NotFound(not_found)
        return
    if role_of(session, actor, org_id) is None:
        raise NotFound(not_found)
    if permission not in permissions_of(session, actor, org_id):
        raise PermissionDenied(f"Your role does not allow this ({permission})")


def require_platform(actor: User, permission: str = "platform:tools") -> None:
    if not actor.is_platform_admin:
        raise PermissionDenied(f"Only platform administrators may do this ({permission})")


def role_id(session: Session, name: str) -> uuid.UUID:
    found = session.exec(select(Role.id).where(Role.name == name)).first()
    if found is None:
        raise RuntimeError(f"role {name!r} is missing: run the migrations")
    return found
