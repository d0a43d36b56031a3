"""The platform's phone numbers: which exist, which organization has each, which agent holds it,
and LiveKit's inbound trunk following them.

Both the agents service (an agent's ``phone_number`` must be its organization's and no other
agent's) and the phone-number service (buy, import, assign, release) need these answers; they
live here so that neither of those services imports the other's rules back.

A number belongs to one organization (``phone_numbers.e164`` is unique); which agent it reaches
has one source of truth, ``voice_agents.phone_number``.

LiveKit's inbound trunk must accept exactly the platform's numbers: after a transaction that
added or removed one commits, ``sync_trunk_after_commit`` has a background thread read the
committed inventory and hand it to the adapter (``telephony.livekit_sip``), which only talks to
LiveKit. A session ``after_commit`` hook, so both faces (API, dashboard) get it and a rollback
never syncs.
"""

from __future__ import annotations

import logging
import threading
import uuid

from sqlalchemy import event
from sqlmodel import Session, select

from voice_platform.db import session_scope
from voice_platform.errors import Conflict
from voice_platform.models import PhoneNumber, VoiceAgent
from voice_platform.models.base import utcnow
from voice_platform.models.numbers import MANUAL
from voice_platform.services.validation import insert_for
from voice_platform.settings import get_settings
from voice_platform.telephony import livekit_sip

log = logging.getLogger(__name__)

TAKEN = "This phone number belongs to another organization"
_SYNC_PENDING = "number_inventory.trunk_sync_pending"
_SYNC_LISTENING = "number_inventory.trunk_sync_listening"


# --- reading the inventory ------------------------------------------------------------------
def platform_numbers(session: Session) -> list[str]:
    """Every number of every organization, sorted: what LiveKit's inbound trunk must accept."""
    return list(session.exec(select(PhoneNumber.e164).order_by(PhoneNumber.e164)).all())


def holder(session: Session, e164: str) -> VoiceAgent | None:
    """The agent the number reaches, if any."""
    return session.exec(select(VoiceAgent).where(VoiceAgent.phone_number == e164)).first()


def refuse_taken(session: Session, org_id: uuid.UUID, e164: str) -> PhoneNumber | None:
    """The organization's existing row for ``e164`` (or None); Conflict when another organization has it."""
    found = session.exec(select(PhoneNumber).where(PhoneNumber.e164 == e164)).first()
    if found is not None and found.organization_id != org_id:
        raise Conflict(TAKEN, field="phone_number")
    return found


def ensure_registered(session: Session, org_id: uuid.UUID, e164: str) -> PhoneNumber:
    """The organization's row for ``e164``, created as a manual number when missing.

    The agent API accepts any E.164 ``phone_number``: a number the organization does not have
    yet becomes one of its manual numbers, so setups without Twilio credentials keep working.
    """
    found = refuse_taken(session, org_id, e164)
    if found is not None:
        return found
    # One statement that cannot fail on a concurrent registration (no SAVEPOINT: on SQLite a
    # savepoint taken before the transaction's first write commits on release, surviving a rollback).
    table = PhoneNumber.__table__
    insert = insert_for(session)(table).values(
        id=uuid.uuid4(), organization_id=org_id, e164=e164, source=MANUAL, created_at=utcnow(), updated_at=utcnow(),
    ).on_conflict_do_nothing(index_elements=["e164"]).returning(table.c.id)
    created = session.execute(insert).scalar_one_or_none()
    number = session.exec(select(PhoneNumber).where(PhoneNumber.e164 == e164)).one()
    if number.organization_id != org_id:  # registered concurrently by another organization
        raise Conflict(TAKEN, field="phone_number")
    if created is not None:
        sync_trunk_after_commit(session)
    return number


# --- LiveKit's trunk follows the inventory ---------------------------------------------------
class _TrunkSync:
    """LiveKit's trunk is synced off the request's thread: a slow or unreachable LiveKit (up to
    ``livekit_sip.SYNC_TIMEOUT_SECONDS``) holds up no API answer and no dashboard handler. One
    sync at a time; changes committed while one runs make exactly one more, which reads the
    inventory then, so the last sync always lists the numbers of the last change."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._running = self._again = False
        self.last: bool | None = None  # the last sync's outcome: LiveKit lists the numbers (True) or not

    def request(self) -> None:
        with self._lock:
            if self._running:
                self._again = True
                return
            self._running = True
        threading.Thread(target=self._run, name="livekit-trunk-sync", daemon=True).start()

    def _run(self) -> None:
        while True:
            outcome = sync_now()
            with self._lock:
                self.last = outcome
                if not self._again:
                    self._running = False
                    self._lock.notify_all()
                    return
                self._again = False

    def wait(self, timeout: float) -> bool | None:
        """The outcome once no sync is running or due (None: none has run), within ``timeout``."""
        with self._lock:
            if not self._lock.wait_for(lambda: not self._running, timeout):
                raise TimeoutError(f"LiveKit's trunk sync still running after {timeout:g} s")
            return self.last


_trunk = _TrunkSync()


def sync_trunk() -> None:
    """Have LiveKit's inbound trunk accept exactly the platform's numbers, in the background
    (``wait_for_trunk_sync`` waits for it). Never raises: the inventory change stands, a failure
    is logged, and the next change or ``make livekit-setup`` syncs again."""
    _trunk.request()


def wait_for_trunk_sync(timeout: float) -> bool | None:
    return _trunk.wait(timeout)


def sync_now() -> bool:
    """Read the committed inventory and have LiveKit's trunk list it; True when LiveKit now does.

    The inventory is read only when LiveKit's API is configured: without it (development,
    tests) a number change costs no query on the background thread.
    """
    try:
        if not livekit_sip.api_configured(get_settings()):
            return False
        with session_scope() as session:
            numbers = platform_numbers(session)
        return livekit_sip.sync_numbers_if_configured(numbers)
    except Exception:  # noqa: BLE001 - the adapter logs its own failures; anything else is logged here
        log.exception("syncing LiveKit's inbound trunk failed")
        return False


def sync_trunk_after_commit(session: Session) -> None:
    """Sync once the session's outer transaction commits; forget it when that rolls back.

    The listeners stay on the (short-lived) session and act only while a sync is pending:
    SQLAlchemy refuses removing a listener while it runs, and fires these events for
    SAVEPOINTs (``begin_nested``) too, which settle nothing.
    """
    session.info[_SYNC_PENDING] = True
    if session.info.get(_SYNC_LISTENING):
        return
    session.info[_SYNC_LISTENING] = True

    def after_commit(committed: Session) -> None:
        if committed.in_nested_transaction() or not committed.info.pop(_SYNC_PENDING, False):
            return
        sync_trunk()

    def after_rollback(rolled_back: Session, previous) -> None:
        if not previous.nested:
            rolled_back.info.pop(_SYNC_PENDING, None)

    event.listen(session, "after_commit", after_commit)
    event.listen(session, "after_soft_rollback", after_rollback)
