"""An organization's phone numbers: the inventory agents are assigned from.

A number belongs to one organization (``phone_numbers.e164`` is unique). The agent
API keeps accepting any E.164 ``phone_number``: a number the organization does not
have yet is registered to it as a manual number, so setups without Twilio
credentials, and existing API clients, keep working.
"""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from voice_platform.errors import Conflict
from voice_platform.models import PhoneNumber
from voice_platform.models.numbers import MANUAL

TAKEN = "This phone number belongs to another organization"


def ensure_registered(session: Session, org_id: uuid.UUID, e164: str) -> PhoneNumber:
    """The organization's row for ``e164``, created as a manual number when missing."""
    found = session.exec(select(PhoneNumber).where(PhoneNumber.e164 == e164)).first()
    if found is not None:
        if found.organization_id != org_id:
            raise Conflict(TAKEN, field="phone_number")
        return found
    number = PhoneNumber(organization_id=org_id, e164=e164, source=MANUAL)
    try:
        with session.begin_nested():
            session.add(number)
            session.flush()
    except IntegrityError as exc:  # registered concurrently, maybe by another organization
        raise Conflict(TAKEN, field="phone_number") from exc
    return number


def platform_numbers(session: Session) -> list[str]:
    """Every number of every organization, sorted: what LiveKit's inbound trunk must accept."""
    return list(session.exec(select(PhoneNumber.e164).order_by(PhoneNumber.e164)).all())
