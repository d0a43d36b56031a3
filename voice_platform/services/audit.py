"""The audit log: every change an admin makes, recorded once by the service that makes it.

``record`` adds the row to the caller's session, so it commits or rolls back with the change
itself (never a change without its entry, never an entry without its change). Configuration is
stored as before/after; a secret value never is: ``secret_fields`` turns it into "changed".
Nothing in the code updates or deletes an audit row.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from voice_platform.errors import ValidationFailed
from voice_platform.models import AuditEvent
from voice_platform.services.rbac import require

CHANGED = "changed"
# Every action a service records (the audit page's filter lists them). Plan changes are
# written by the billing service.
ACTIONS: tuple[str, ...] = (
    "agent.created", "agent.updated", "agent.deleted",
    "tool.attached", "tool.configured", "tool.detached", "tool.function_switched",
    "tool.account_connected", "tool.account_disconnected",
    "tool.custom_created", "tool.custom_updated", "tool.custom_refreshed", "tool.custom_deleted",
    "member.added", "member.role_changed", "member.removed", "member.left",
    "invitation.created", "invitation.revoked",
    "number.bought", "number.imported", "number.assigned", "number.unassigned", "number.released",
    "api_key.created", "api_key.revoked",
    "organization.updated",
    "plan.changed",
    "webhook.created", "webhook.updated", "webhook.deleted", "webhook.secret_rotated", "webhook.disabled",
    "do_not_call.added", "do_not_call.removed",
    "campaign.created", "campaign.updated", "campaign.started", "campaign.paused", "campaign.resumed",
    "campaign.cancelled",
)
READ = "org:manage"  # the log is for the organization's admins
MAX_LIMIT = 200


@dataclass(frozen=True)
class Page:
    items: list[AuditEvent]
    total: int
    offset: int
    limit: int


def diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys whose value changed, as (before, after): an edit's entry shows what it did."""
    keys = [k for k in dict.fromkeys([*before, *after]) if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def actor_label(actor: Any) -> str:
    """How the actor is shown: a user's e-mail, or "API key <name>" (see services.api_keys)."""
    return str(getattr(actor, "email", None) or "system")[:320]


def _scrub(values: dict[str, Any] | None, secret_fields: tuple[str, ...] | list[str] | set[str]) -> dict[str, Any] | None:
    if values is None:
        return None
    hidden = set(secret_fields)
    return {k: (CHANGED if k in hidden and v not in (None, "") else v) for k, v in values.items()}


def record(
    session: Session,
    actor: Any,
    organization_id: uuid.UUID,
    action: str,
    *,
    target_type: str,
    target_id: uuid.UUID | str | None = None,
    summary: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    secret_fields: tuple[str, ...] | list[str] | set[str] = (),
) -> AuditEvent:
    """Add one audit entry for ``action`` (e.g. ``agent.updated``) to the current transaction.

    ``actor`` is a ``User`` or an API-key actor (anything with ``id``/``email``; an API key's
    actor carries ``api_key_id`` and has no user id).
    """
    changes: dict[str, Any] = {}
    if before is not None:
        changes["before"] = _scrub(before, secret_fields)
    if after is not None:
        changes["after"] = _scrub(after, secret_fields)
    event = AuditEvent(
        organization_id=organization_id,
        actor_user_id=getattr(actor, "id", None) if getattr(actor, "api_key_id", None) is None else None,
        actor_api_key_id=getattr(actor, "api_key_id", None),
        actor_label=actor_label(actor),
        action=action[:60],
        target_type=target_type[:40],
        target_id=str(target_id)[:64] if target_id is not None else None,
        summary=summary[:500],
        changes=changes,
    )
    session.add(event)
    return event


def _like(term: str) -> str:
    return "%" + term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def list_events(
    session: Session,
    actor: Any,
    org_id: uuid.UUID,
    *,
    action: str | None = None,
    actor_query: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Page:
    """The organization's entries, newest first, for its admins (a member: PermissionDenied).

    ``action`` is an exact action (``agent.updated``) or a family (``agent``); ``actor_query``
    matches the actor's e-mail or key name (substring, case-insensitive); ``since`` is
    inclusive, ``until`` exclusive.
    """
    require(session, actor, READ, org_id)
    if offset < 0:
        raise ValidationFailed("offset must be 0 or more", field="offset")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    where = [AuditEvent.organization_id == org_id]
    wanted = (action or "").strip()
    if "\x00" in wanted or len(wanted) > 60:
        raise ValidationFailed("Unknown action", field="action")
    if wanted:
        where.append(AuditEvent.action == wanted if "." in wanted else AuditEvent.action.like(_like(wanted)[1:-1] + ".%", escape="\\"))
    who = (actor_query or "").strip()
    if "\x00" in who or len(who) > 320:
        raise ValidationFailed("actor: at most 320 characters, no NUL", field="actor")
    if who:
        where.append(func.lower(AuditEvent.actor_label).like(_like(who), escape="\\"))
    if since is not None:
        where.append(AuditEvent.created_at >= since)
    if until is not None:
        where.append(AuditEvent.created_at < until)
    total = session.exec(select(func.count()).select_from(AuditEvent).where(*where)).one()
    items = session.exec(
        select(AuditEvent).where(*where).order_by(AuditEvent.created_at.desc(), AuditEvent.id).offset(offset).limit(limit)
    ).all()
    return Page(items=list(items), total=total, offset=offset, limit=limit)
