"""An organization's phone numbers: the inventory agents are assigned from.

A number belongs to one organization (``phone_numbers.e164`` is unique); which agent it
reaches has one source of truth, ``voice_agents.phone_number``; assigning goes through the
agents service, so an agent's rules (permission, uniqueness) apply to it once.

Twilio: the adapter (``voice_platform.telephony.twilio_rest``) is imported lazily, inside
the functions that need it, rather than passed in. Every caller (API, dashboard) would
pass the same module, and tests point that module at a fake Twilio through its
``http_client_factory``, so the real client code runs either way; the lazy import keeps
the twilio library out of everything that does not buy or import numbers. Twilio is asked
only after the permission, tenant and input checks, so a refusal never costs a purchase, and
before our row is written, so a Twilio failure rolls the transaction back with nothing changed.

What the agents service needs too — which numbers exist, who has and who holds one,
registering a manual number, and LiveKit's trunk following the inventory after a commit —
is in ``services.number_inventory``, so the two services do not import each other's rules.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from voice_platform.errors import Conflict, NotFound, ValidationFailed
from voice_platform.models import PhoneNumber, User, VoiceAgent
from voice_platform.models.numbers import TWILIO
from voice_platform.services import agents as agent_service
from voice_platform.services import audit, validation
from voice_platform.services import number_inventory as inventory
from voice_platform.services.number_inventory import TAKEN
from voice_platform.services.rbac import require

ALREADY_OURS = "This phone number is already one of your organization's numbers"
NOT_FOUND = "Phone number not found"
MANAGE = "org:manage"  # buying, importing, assigning and releasing numbers is running the organization
READ = "agent:read"  # who may see agents may see which number reaches them
# What the search and the import take, as patterns the API's schema declares too.
COUNTRY_PATTERN = r"^[A-Za-z]{2}$"  # ISO 3166 alpha-2, either case
AREA_CODE_PATTERN = r"^[0-9]{2,5}$"
CONTAINS_PATTERN = r"^\+?[0-9A-Za-z*%]{2,16}\$?$"  # Twilio's Contains: digits, letters, * for one digit
SID_PATTERN = r"^PN[0-9a-fA-F]{32}$"
_COUNTRY = re.compile(COUNTRY_PATTERN)
_AREA_CODE = re.compile(AREA_CODE_PATTERN)
_CONTAINS = re.compile(CONTAINS_PATTERN)
_SID = re.compile(SID_PATTERN)


@dataclass(frozen=True)
class NumberView:
    """A number of the organization and the agent it reaches (None: unassigned)."""

    number: PhoneNumber
    agent_id: uuid.UUID | None
    agent_name: str | None


@dataclass(frozen=True)
class ProviderStatus:
    """What the numbers page tells the admin about Twilio, and the URLs a manual number needs."""

    twilio_configured: bool
    voice_url: str
    status_callback_url: str


def _twilio():
    from voice_platform.telephony import twilio_rest

    return twilio_rest


# --- reading -----------------------------------------------------------------------------
def provider_status() -> ProviderStatus:
    from voice_platform.telephony.urls import incoming_url, status_callback_url

    return ProviderStatus(twilio_configured=_twilio().is_configured(), voice_url=incoming_url(),
                          status_callback_url=status_callback_url())


def list_numbers(session: Session, actor: User, org_id: uuid.UUID) -> list[NumberView]:
    """The organization's numbers, sorted, each with the agent it reaches."""
    require(session, actor, READ, org_id)
    rows = session.exec(
        select(PhoneNumber, VoiceAgent.id, VoiceAgent.name)
        .join(VoiceAgent, VoiceAgent.phone_number == PhoneNumber.e164, isouter=True)
        .where(PhoneNumber.organization_id == org_id)
        .order_by(PhoneNumber.e164)
    ).all()
    return [NumberView(number=n, agent_id=a_id, agent_name=a_name) for n, a_id, a_name in rows]


def assignable_numbers(session: Session, actor: User, org_id: uuid.UUID, agent_id: uuid.UUID | None = None) -> list[str]:
    """For the agent form: the organization's unassigned numbers, plus the agent's own."""
    return [v.number.e164 for v in list_numbers(session, actor, org_id)
            if v.agent_id is None or (agent_id is not None and v.agent_id == agent_id)]


def get_number(session: Session, actor: User, number_id: uuid.UUID, permission: str = MANAGE) -> PhoneNumber:
    number = session.get(PhoneNumber, number_id)
    if number is None:
        raise NotFound(NOT_FOUND)
    require(session, actor, permission, number.organization_id, not_found=NOT_FOUND)
    return number


# --- Twilio: search, buy, import ---------------------------------------------------------
def search_available(session: Session, actor: User, org_id: uuid.UUID, *, country: str = "US",
                     area_code: str | None = None, contains: str | None = None):
    """Numbers Twilio offers (``twilio_rest.AvailableNumber``), filtered by area code and digits."""
    require(session, actor, MANAGE, org_id)
    country = (country or "").strip().upper()
    if not _COUNTRY.match(country):
        raise ValidationFailed("Country must be a two-letter code such as US or GB", field="country")
    area_code = (area_code or "").strip() or None
    if area_code and not _AREA_CODE.match(area_code):
        raise ValidationFailed("Area code must be digits, e.g. 415", field="area_code")
    contains = (contains or "").strip() or None
    if contains and not _CONTAINS.match(contains):
        raise ValidationFailed("Contains must be 2 to 16 digits or letters (* matches one digit)", field="contains")
    return _twilio().search_available(country, area_code=area_code, contains=contains)


def _save(session: Session, number: PhoneNumber) -> PhoneNumber:
    """Flush the row; a concurrent registration of the same number becomes Conflict.

    No SAVEPOINT: the caller's transaction is over after a conflict anyway, and pysqlite
    commits a SAVEPOINT opened before any write (it is then the outermost transaction).
    """
    session.add(number)
    try:
        session.flush()
    except IntegrityError as exc:  # another organization registered it between our check and now
        raise Conflict(TAKEN, field="phone_number") from exc
    inventory.sync_trunk_after_commit(session)
    return number


def buy(session: Session, actor: User, org_id: uuid.UUID, phone_number: object) -> PhoneNumber:
    """Buy a number Twilio offers; its voice URL and status callback point at us."""
    require(session, actor, MANAGE, org_id)
    e164 = validation.phone_e164(phone_number)
    if e164 is None:
        raise ValidationFailed("Phone number is required", field="phone_number")
    if inventory.refuse_taken(session, org_id, e164) is not None:
        raise Conflict(ALREADY_OURS, field="phone_number")
    twilio = _twilio()
    owned = twilio.buy(e164)
    try:
        number = _save(session, PhoneNumber(organization_id=org_id, e164=owned.e164, source=TWILIO,
                                            provider_sid=owned.sid, friendly_name=owned.friendly_name[:64] or None))
    except Conflict:
        twilio.release(owned.sid)  # bought for nobody: give it back rather than pay for it
        raise
    audit.record(session, actor, org_id, "number.bought", target_type="phone_number", target_id=number.id,
                 summary=f"Bought {number.e164} from Twilio", after={"phone_number": number.e164, "source": TWILIO})
    return number


def importable(session: Session, actor: User, org_id: uuid.UUID):
    """The Twilio account's numbers not yet in any organization's inventory (``twilio_rest.OwnedNumber``)."""
    require(session, actor, MANAGE, org_id)
    known = set(inventory.platform_numbers(session))
    return [n for n in _twilio().list_owned() if n.e164 not in known]


def import_number(session: Session, actor: User, org_id: uuid.UUID, *, phone_number: object = None,
                  sid: object = None) -> PhoneNumber:
    """Take a number the Twilio account owns into the organization and point its webhooks at us.

    A manual number of the organization that the account turns out to own becomes a Twilio one.
    """
    require(session, actor, MANAGE, org_id)
    if sid not in (None, "") and phone_number not in (None, ""):
        raise ValidationFailed("Give the phone number or its Twilio SID, not both", field="sid")
    if sid not in (None, ""):
        if not isinstance(sid, str) or not _SID.match(sid.strip()):
            raise ValidationFailed("SID must look like PN followed by 32 hex characters", field="sid")
        sid, e164 = sid.strip(), None
    else:
        sid, e164 = None, validation.phone_e164(phone_number)
        if e164 is None:
            raise ValidationFailed("Give the phone number or its Twilio SID", field="phone_number")
        inventory.refuse_taken(session, org_id, e164)
    twilio = _twilio()
    owned = twilio.find_owned(e164=e164, sid=sid)
    if owned is None:
        raise NotFound("The Twilio account has no such number")
    row = inventory.refuse_taken(session, org_id, owned.e164)
    if row is not None and row.source == TWILIO and row.provider_sid == owned.sid:
        raise Conflict(ALREADY_OURS, field="phone_number")
    owned = twilio.point_at_us(owned.sid)
    before = {"source": row.source} if row is not None else None
    row = row or PhoneNumber(organization_id=org_id, e164=owned.e164)
    row.source, row.provider_sid, row.friendly_name = TWILIO, owned.sid, owned.friendly_name[:64] or None
    number = _save(session, row)
    audit.record(session, actor, org_id, "number.imported", target_type="phone_number", target_id=number.id,
                 summary=f"Imported {number.e164} from the Twilio account", before=before,
                 after={"phone_number": number.e164, "source": TWILIO})
    return number


# --- assignment and release --------------------------------------------------------------
def assign(session: Session, actor: User, number_id: uuid.UUID, agent_id: uuid.UUID) -> VoiceAgent:
    """The number now reaches ``agent_id`` (same organization); the agent that had it loses it."""
    number = get_number(session, actor, number_id)
    agent = agent_service.get_agent(session, actor, agent_id, permission="agent:update")
    if agent.organization_id != number.organization_id:
        raise NotFound(agent_service.NOT_FOUND, field="agent_id")
    previous = inventory.holder(session, number.e164)
    if previous is not None and previous.id != agent.id:
        agent_service.update_agent(session, actor, previous.id, {"phone_number": None}, audited=False)
    had = agent.phone_number
    updated = agent_service.update_agent(session, actor, agent.id, {"phone_number": number.e164}, audited=False)
    if previous is None or previous.id != agent.id:
        audit.record(session, actor, number.organization_id, "number.assigned", target_type="phone_number",
                     target_id=number.id, summary=f"{number.e164} now reaches agent {agent.name!r}",
                     before={"agent": previous.name if previous else None, "agent_id": str(previous.id) if previous else None},
                     after={"agent": agent.name, "agent_id": str(agent.id), "agent_previous_number": had})
    return updated


def unassign(session: Session, actor: User, number_id: uuid.UUID) -> None:
    """The number reaches no agent (calls to it are answered 'not in service')."""
    number = get_number(session, actor, number_id)
    holder = inventory.holder(session, number.e164)
    if holder is not None:
        agent_service.update_agent(session, actor, holder.id, {"phone_number": None}, audited=False)
        audit.record(session, actor, number.organization_id, "number.unassigned", target_type="phone_number",
                     target_id=number.id, summary=f"{number.e164} no longer reaches agent {holder.name!r}",
                     before={"agent": holder.name, "agent_id": str(holder.id)}, after={"agent": None, "agent_id": None})


def release(session: Session, actor: User, number_id: uuid.UUID) -> None:
    """Give the number up: Twilio deletes it (source twilio), our row goes, its agent loses it.

    The agent is cleared explicitly rather than trusting ON DELETE SET NULL, which SQLite only
    applies with foreign keys switched on. Our changes are flushed before Twilio is asked, so a
    database refusal never follows an irreversible release.
    """
    number = get_number(session, actor, number_id)
    holder = inventory.holder(session, number.e164)
    if holder is not None:
        holder.phone_number = None
        session.add(holder)
        session.flush()
    session.delete(number)
    session.flush()
    audit.record(session, actor, number.organization_id, "number.released", target_type="phone_number",
                 target_id=number.id, summary=f"Released {number.e164}",
                 before={"phone_number": number.e164, "source": number.source,
                         "agent": holder.name if holder is not None else None})
    if number.source == TWILIO and number.provider_sid:
        _twilio().release(number.provider_sid)
    inventory.sync_trunk_after_commit(session)
