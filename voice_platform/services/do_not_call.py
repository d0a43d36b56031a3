"""An organization's do-not-call list: numbers none of its outbound calls or campaigns may dial.

Reading it takes ``call:read``; changing it ``agent:update`` (whoever may make an agent call out
may also stop it calling someone). The agent adds the callee itself when asked (``add_from_call``,
the call-control tool's ``do_not_call``): no person is the actor there, the call is the source.
Numbers are E.164, so "+1 (415) 555-0100" and "+14155550100" are the same entry.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from voice_platform.errors import NotFound, ValidationFailed
from voice_platform.models import CallSession, DoNotCallNumber, User
from voice_platform.models.base import aware
from voice_platform.models.calls import OUTBOUND
from voice_platform.services import audit, validation
from voice_platform.services.rbac import require

NOT_FOUND = "That number is not on the do-not-call list"
MAX_LIST = 10_000  # what one page of the list shows at most


@dataclass(frozen=True)
class Entry:
    number: str
    source: str
    call_session_id: uuid.UUID | None
    created_at: datetime


def _entry(row: DoNotCallNumber) -> Entry:
    return Entry(number=row.number, source=row.source, call_session_id=row.call_session_id,
                 created_at=aware(row.created_at))


def _number(value: object) -> str:
    number = validation.phone_e164(value, field="number")
    if number is None:
        raise ValidationFailed("A phone number in E.164 format is required, e.g. +14155550100", field="number")
    return number


def list_numbers(session: Session, actor: User, org_id: uuid.UUID, *, search: str | None = None) -> list[Entry]:
    require(session, actor, "call:read", org_id)
    query = select(DoNotCallNumber).where(DoNotCallNumber.organization_id == org_id)
    if search and search.strip():
        query = query.where(DoNotCallNumber.number.contains(search.strip()))
    rows = session.exec(query.order_by(DoNotCallNumber.created_at.desc(), DoNotCallNumber.number).limit(MAX_LIST))
    return [_entry(r) for r in rows.all()]


def add(session: Session, actor: User, org_id: uuid.UUID, number: object) -> tuple[Entry, bool]:
    """The entry, and whether it is new (adding a listed number again changes nothing)."""
    require(session, actor, "agent:update", org_id)
    e164 = _number(number)
    entry, created = _insert(session, org_id, e164, source=audit.actor_label(actor))
    if created:
        audit.record(session, actor, org_id, "do_not_call.added", target_type="do_not_call", target_id=e164,
                     summary=f"Added {e164} to the do-not-call list")
    return entry, created


def _insert(session: Session, org_id: uuid.UUID, number: str, *, source: str,
            call_session_id: uuid.UUID | None = None) -> tuple[Entry, bool]:
    existing = session.exec(select(DoNotCallNumber).where(DoNotCallNumber.organization_id == org_id,
                                                          DoNotCallNumber.number == number)).first()
    if existing is not None:
        return _entry(existing), False
    row = DoNotCallNumber(organization_id=org_id, number=number, source=source[:200], call_session_id=call_session_id)
    try:
        with session.begin_nested():  # a concurrent add of the same number: theirs stands
            session.add(row)
            session.flush()
    except IntegrityError:
        existing = session.exec(select(DoNotCallNumber).where(DoNotCallNumber.organization_id == org_id,
                                                              DoNotCallNumber.number == number)).one()
        return _entry(existing), False
    return _entry(row), True


def remove(session: Session, actor: User, org_id: uuid.UUID, number: object) -> None:
    require(session, actor, "agent:update", org_id)
    e164 = _number(number)
    gone = session.execute(delete(DoNotCallNumber).where(DoNotCallNumber.organization_id == org_id,
                                                         DoNotCallNumber.number == e164)).rowcount
    if not gone:
        raise NotFound(NOT_FOUND)
    audit.record(session, actor, org_id, "do_not_call.removed", target_type="do_not_call", target_id=e164,
                 summary=f"Removed {e164} from the do-not-call list")


def is_listed(session: Session, org_id: uuid.UUID, number: str) -> bool:
    """Whether ``number`` (E.164) must not be dialed by ``org_id``."""
    return session.exec(select(func.count()).select_from(DoNotCallNumber).where(
        DoNotCallNumber.organization_id == org_id, DoNotCallNumber.number == number)).one() > 0


def listed_among(session: Session, org_id: uuid.UUID, numbers: list[str]) -> set[str]:
    """Which of ``numbers`` are on the list (one query, for a campaign's contacts)."""
    if not numbers:
        return set()
    return set(session.exec(select(DoNotCallNumber.number).where(
        DoNotCallNumber.organization_id == org_id, DoNotCallNumber.number.in_(numbers))).all())


def add_from_call(session: Session, call_session_id: uuid.UUID) -> str | None:
    """The agent was asked not to call this person again: list the other party of the call.

    On an outbound call that is the callee (``to_number``), on an inbound one the caller
    (``from_number``). None when the call has no such number (a test chat, a withheld caller id).
    """
    call = session.get(CallSession, call_session_id)
    if call is None:
        return None
    other = call.to_number if call.direction == OUTBOUND else call.from_number
    try:
        number = validation.phone_e164(other, field="number") if other else None
    except ValidationFailed:
        number = None
    if number is None:
        return None
    _entry_, created = _insert(session, call.organization_id, number, source="agent (asked on a call)",
                               call_session_id=call.id)
    if created:
        audit.record(session, None, call.organization_id, "do_not_call.added", target_type="do_not_call",
                     target_id=number, summary=f"The agent added {number} to the do-not-call list when asked on a call")
    return number
