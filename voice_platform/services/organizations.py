"""Organizations and their members. Every function checks the actor through ``rbac.require``.

Changes are written to the audit log (``services.audit``) in the same transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from voice_platform.errors import Conflict, NotFound, ValidationFailed
from voice_platform.models import Membership, Organization, Role, User
from voice_platform.services import audit, validation
from voice_platform.services.auth import MAX_BUSINESS_DETAILS, create_organization_for, find_user_by_email
from voice_platform.services.auth import MAX_ORG_NAME as MAX_NAME
from voice_platform.services.rbac import ASSIGNABLE_ROLES, ORG_ADMIN, api_key_of, refuse_api_key, require, role_id, role_of


@dataclass(frozen=True)
class OrgWithRole:
    organization: Organization
    role: str


@dataclass(frozen=True)
class Member:
    user_id: uuid.UUID
    email: str
    full_name: str | None
    role: str
    membership_id: uuid.UUID


def create_organization(session: Session, actor: User, *, name: str, business_details: str | None = None) -> Organization:
    refuse_api_key(actor, "create organizations (a key belongs to one organization)")
    return create_organization_for(session, actor, name, business_details)


def list_organizations(session: Session, actor: User) -> list[OrgWithRole]:
    if api_key_of(actor) is not None:  # a key sees its own organization only
        own = session.get(Organization, actor.organization_id)  # type: ignore[attr-defined]
        return [OrgWithRole(own, actor.role)] if own is not None else []  # type: ignore[attr-defined]
    if actor.is_platform_admin:
        orgs = session.exec(select(Organization).order_by(Organization.name)).all()
        return [OrgWithRole(o, "platform_admin") for o in orgs]
    rows = session.exec(
        select(Organization, Role.name)
        .join(Membership, Membership.organization_id == Organization.id)
        .join(Role, Role.id == Membership.role_id)
        .where(Membership.user_id == actor.id)
        .order_by(Organization.name)
    ).all()
    return [OrgWithRole(o, r) for o, r in rows]


def get_organization(session: Session, actor: User, org_id: uuid.UUID) -> OrgWithRole:
    require(session, actor, "org:read", org_id)
    org = session.get(Organization, org_id)
    assert org is not None  # require() proved it exists
    return OrgWithRole(org, role_of(session, actor, org_id) or "")


def update_organization(session: Session, actor: User, org_id: uuid.UUID, changes: dict) -> Organization:
    require(session, actor, "org:manage", org_id)
    org = session.get(Organization, org_id)
    assert org is not None
    before = _settings_of(org)
    if "name" in changes:
        org.name = validation.text(changes["name"], "name", max_length=MAX_NAME, required=True)
    if "business_details" in changes:
        org.business_details = validation.text(changes["business_details"], "business_details",
                                               max_length=MAX_BUSINESS_DETAILS) or None
    if "timezone" in changes:
        org.timezone = validation.time_zone(changes["timezone"])
    session.add(org)
    session.flush()
    old, new = audit.diff(before, _settings_of(org))
    if new:
        audit.record(session, actor, org_id, "organization.updated", target_type="organization", target_id=org_id,
                     summary=f"Changed the organization's {', '.join(new)}", before=old, after=new)
    return org


def _settings_of(org: Organization) -> dict:
    return {"name": org.name, "business_details": org.business_details, "timezone": org.timezone}


def list_members(session: Session, actor: User, org_id: uuid.UUID) -> list[Member]:
    require(session, actor, "org:read", org_id)
    rows = session.exec(
        select(Membership, User, Role.name)
        .join(User, User.id == Membership.user_id)
        .join(Role, Role.id == Membership.role_id)
        .where(Membership.organization_id == org_id)
        .order_by(User.email)
    ).all()
    return [Member(u.id, u.email, u.full_name, r, m.id) for m, u, r in rows]


def add_member(session: Session, actor: User, org_id: uuid.UUID, *, email: str, role: str) -> Member:
    require(session, actor, "member:manage", org_id)
    validation.choice(role, "role", ASSIGNABLE_ROLES)
    address = validation.email(email)
    user = find_user_by_email(session, address)
    if user is None:
        raise NotFound("No account uses this e-mail; ask them to sign up first", field="email")
    if _membership(session, org_id, user.id) is not None:
        raise Conflict("This person is already a member", field="email")
    membership = Membership(user_id=user.id, organization_id=org_id, role_id=role_id(session, role))
    session.add(membership)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent add of the same person won
        raise Conflict("This person is already a member", field="email") from exc
    audit.record(session, actor, org_id, "member.added", target_type="user", target_id=user.id,
                 summary=f"Added {user.email} as {role.replace('_', ' ')}", after={"email": user.email, "role": role})
    return Member(user.id, user.email, user.full_name, role, membership.id)


def change_member_role(session: Session, actor: User, org_id: uuid.UUID, user_id: uuid.UUID, *, role: str) -> Member:
    require(session, actor, "member:manage", org_id)
    validation.choice(role, "role", ASSIGNABLE_ROLES)
    membership = _membership(session, org_id, user_id)
    if membership is None:
        raise NotFound("Member not found")
    if role != ORG_ADMIN:
        _refuse_removing_last_admin(session, org_id, membership)
    previous = session.get(Role, membership.role_id)
    membership.role_id = role_id(session, role)
    session.add(membership)
    session.flush()
    user = session.get(User, user_id)
    assert user is not None
    old_role = previous.name if previous else None
    if old_role != role:
        audit.record(session, actor, org_id, "member.role_changed", target_type="user", target_id=user.id,
                     summary=f"Changed {user.email}'s role to {role.replace('_', ' ')}",
                     before={"role": old_role}, after={"role": role})
    return Member(user.id, user.email, user.full_name, role, membership.id)


def remove_member(session: Session, actor: User, org_id: uuid.UUID, user_id: uuid.UUID) -> None:
    require(session, actor, "member:manage", org_id)
    membership = _membership(session, org_id, user_id)
    if membership is None:
        raise NotFound("Member not found")
    _refuse_removing_last_admin(session, org_id, membership)
    user = session.get(User, user_id)
    previous = session.get(Role, membership.role_id)
    session.delete(membership)
    session.flush()
    email = user.email if user else str(user_id)
    audit.record(session, actor, org_id, "member.removed", target_type="user", target_id=user_id,
                 summary=f"Removed {email}", before={"email": email, "role": previous.name if previous else None})


def leave_organization(session: Session, actor: User, org_id: uuid.UUID) -> None:
    """Anyone may leave an organization they belong to, except its last org admin."""
    refuse_api_key(actor, "leave an organization; revoke the key instead", org_id)
    membership = _membership(session, org_id, actor.id)
    if membership is None:
        raise NotFound("Organization not found")
    _refuse_removing_last_admin(session, org_id, membership)
    previous = session.get(Role, membership.role_id)
    session.delete(membership)
    session.flush()
    audit.record(session, actor, org_id, "member.left", target_type="user", target_id=actor.id,
                 summary=f"{actor.email} left the organization",
                 before={"email": actor.email, "role": previous.name if previous else None})


def _membership(session: Session, org_id: uuid.UUID, user_id: uuid.UUID) -> Membership | None:
    return session.exec(
        select(Membership).where(Membership.organization_id == org_id, Membership.user_id == user_id)
    ).first()


def _refuse_removing_last_admin(session: Session, org_id: uuid.UUID, membership: Membership) -> None:
    admin_role = role_id(session, ORG_ADMIN)
    if membership.role_id != admin_role:
        return
    # Lock the org's admin rows: two admins demoting each other at once must not both pass.
    admins = len(session.exec(
        select(Membership.id).where(Membership.organization_id == org_id, Membership.role_id == admin_role).with_for_update()
    ).all())
    if admins <= 1:
        # A conflict with the organization as it is (another admin first), not a malformed request.
        raise Conflict("An organization needs at least one org admin", field="role")
