"""The campaign dialer: one at a time over every web process, and never a contact dialed twice.

Every web process runs the loop (``start_background``), but only the holder of the
``background_leases`` row ``dialer`` dials: the row is taken by one INSERT .. ON CONFLICT DO UPDATE
that succeeds only when it is free, expired or already ours (holder ``host:pid:uuid``), checked at
each round's start and renewed between its calls, so a holder stalled past ``LEASE_SECONDS``
finds out before its next call. A round (``run_once``) is one planning transaction, then the calls:

1. running campaigns with no contact queued or calling are ``completed``;
2. for each running campaign inside its window (the organization's time zone), its row locked:
   queued contacts whose number is now on the do-not-call list end ``do_not_call`` (never dialed);
   free = min(max_concurrent, plan concurrency - 1) - contacts ``calling``, and no more than the
   organization's lines left once one is kept free for inbound calls; up to ``free`` due contacts
   (queued, next_attempt_at passed, in upload order) are claimed by ONE conditional UPDATE
   queued -> calling (attempts + 1) — all COMMITTED before Twilio is asked;
3. each claimed contact is dialed through ``outbound_calls.open_and_dial`` (the single call's
   path), which writes the contact's ``last_call_id`` in the transaction that opens the call. Its
   refusals: the plan's line taken meanwhile (inbound calls) -> queued again in ``SLOT_RETRY``;
   on the do-not-call list -> ``do_not_call``; the agent cannot call (switched off, no number) ->
   queued again and the campaign paused; Twilio down -> the call ends ``dial_failed`` and the
   contact ``failed``; anything else -> queued again in ``SLOT_RETRY`` unless a call was opened.

The loop is woken by a call's end committed in its process (``wakeups.DIALER``) or in another
(``dialer_wakeup``: PostgreSQL NOTIFY), else polls. Restarts (every ``RECOVER_SECONDS`` and at a
dialer's first round): a contact ``calling`` whose call ended without settling it (a session
closed in bulk as ``lost`` by billing) is settled from the call's end; a contact ``calling`` with
no call id for ``campaign_queue.STRANDED_AFTER`` was claimed by a dialer that died before the call
opened: it is queued again with its attempt given back (no call exists, so none is doubled); an
outbound session opened but never placed is closed by ``outbound_calls.sweep_undialed``.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, update
from sqlmodel import select

from voice_platform.db import session_scope
from voice_platform.errors import DomainError, IntegrationNotConfigured, NotFound, ValidationFailed
from voice_platform.models import BackgroundLease, Campaign, CampaignContact, Subscription
from voice_platform.models.base import utcnow
from voice_platform.models.outbound import CALLING, PAUSED, QUEUED, RUNNING
from voice_platform.services import (
    audit, background, campaign_queue as queue, campaign_rules, dialer_wakeup, outbound_calls, validation, wakeups,
)
from voice_platform.services.campaign_queue import DO_NOT_CALL
from voice_platform.telephony.twilio_rest import TwilioUnavailable

log = logging.getLogger(__name__)

LEASE_NAME = "dialer"
LEASE_SECONDS = 20
RENEW_SECONDS = 5.0  # between a round's calls, a lease renewed this recently is trusted (15 s left)
POLL_SECONDS = 1.0  # nothing to do: look again (work another process committed is found then)
BUSY_POLL_SECONDS = 0.25  # calls in flight: a lost cross-process wake-up costs at most this
SLOT_RETRY = timedelta(seconds=30)
RECOVER_SECONDS = 30.0  # how often the restart checks below run (and at a dialer's first round)


@dataclass
class Round:
    """What one round did (for tests, the bench and the loop's pace)."""

    held: bool = False
    dialed: int = 0
    do_not_call: int = 0
    requeued: int = 0
    completed: int = 0
    busy: bool = False  # calls in flight or dialed: the next round comes soon


class LeaseLost(Exception):
    pass


class Dialer:
    """One dialer identity (``host:pid:uuid``); the process's loop uses ``default``. Tests make two."""

    def __init__(self, holder: str | None = None) -> None:
        self.holder = holder or f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.holding = False
        self._renewed = -math.inf  # monotonic time of the last successful hold
        self._recovered = -math.inf  # a new dialer (a restart) recovers at its first round

    # --- the lease --------------------------------------------------------------------------------
    def hold(self, *, fresh_for: float = 0.0) -> bool:
        """Take the lease if free, expired or ours, and extend it: one statement. With ``fresh_for``,
        a lease renewed less than that many seconds ago is trusted without asking again."""
        if self.holding and time.monotonic() - self._renewed < fresh_for:
            return True
        now, started = utcnow(), time.monotonic()
        with session_scope() as session:
            insert = validation.insert_for(session)(BackgroundLease.__table__).values(
                name=LEASE_NAME, holder=self.holder, lease_until=now + timedelta(seconds=LEASE_SECONDS))
            taken = session.execute(insert.on_conflict_do_update(
                index_elements=["name"],
                set_={"holder": insert.excluded.holder, "lease_until": insert.excluded.lease_until},
                where=or_(BackgroundLease.__table__.c.holder == self.holder,
                          BackgroundLease.__table__.c.lease_until < now),
            ).returning(BackgroundLease.__table__.c.holder)).first()
        self.holding = taken is not None
        if self.holding:
            self._renewed = started
        return self.holding

    def release(self) -> None:
        """Give the lease up at once (a stopping process), so another takes over without waiting."""
        with session_scope() as session:
            session.execute(update(BackgroundLease)
                            .where(BackgroundLease.name == LEASE_NAME, BackgroundLease.holder == self.holder)
                            .values(lease_until=utcnow() - timedelta(seconds=1)))
        self.holding = False

    # --- a round ----------------------------------------------------------------------------------
    def run_once(self, now: datetime | None = None) -> Round:
        """One round, synchronously. ``now`` is the time windows and due retries are judged at
        (tests pass one); leases and records use the clock. One transaction plans the round (the
        campaigns that finished, the contacts to dial, claimed); then each claimed contact is dialed."""
        result = Round()
        if not self.hold():
            return result
        result.held = True
        if time.monotonic() - self._recovered >= RECOVER_SECONDS:
            outbound_calls.sweep_undialed()
            with session_scope() as session:
                result.requeued += queue.recover(session)
            self._recovered = time.monotonic()
        at = now or utcnow()
        with session_scope() as session:
            result.completed = queue.complete(session)
            batches = [(campaign_id, org_id, agent_id, self._claim(session, result, campaign_id, org_id,
                                                                   min(most, plan_most - 1), plan_most, at))
                       for campaign_id, org_id, agent_id, tz, window, most, plan_most in queue.running(session)
                       if campaign_rules.in_window(window, tz, at)]
        for campaign_id, org_id, agent_id, claimed in batches:
            try:
                self._dial_all(result, campaign_id, org_id, agent_id, claimed)
            except LeaseLost:
                log.warning("dialer %s lost its lease in a round; another process dials now", self.holder)
                result.requeued += sum(_give_back(c) for *_ids, c in batches)
                return result
        return result

    @staticmethod
    def _claim(session, result: Round, campaign_id: uuid.UUID, org_id: uuid.UUID, cap: int, plan_most: int,
               now: datetime) -> list[tuple]:
        """The contacts this campaign may dial now, claimed: its free lines, within the plan's. The
        campaign's row is locked first, so even two dialers (a lease that expired under a stalled
        holder) count and claim one after the other: never more than ``cap`` in flight."""
        session.exec(select(Campaign.id).where(Campaign.id == campaign_id).with_for_update()).first()
        result.do_not_call += queue.skip_listed(session, campaign_id, org_id)
        calling = session.exec(select(func.count()).select_from(CampaignContact).where(
            CampaignContact.campaign_id == campaign_id, CampaignContact.state == CALLING)).one()
        active = session.exec(select(Subscription.active_calls)
                              .where(Subscription.organization_id == org_id)).first() or 0
        free = min(cap - calling, plan_most - 1 - active)
        claimed = queue.claim(session, campaign_id, free, now) if free > 0 else []
        result.busy = result.busy or calling > 0 or bool(claimed)
        return claimed

    def _dial_all(self, result: Round, campaign_id: uuid.UUID, org_id: uuid.UUID, agent_id: uuid.UUID,
                  claimed: list[tuple]) -> None:
        while claimed:
            if not self.hold(fresh_for=RENEW_SECONDS):
                raise LeaseLost
            contact_id, to, variables = claimed.pop(0)
            outcome = _dial(campaign_id, org_id, agent_id, contact_id, to, variables)
            result.dialed += outcome == "dialed"
            result.do_not_call += outcome == DO_NOT_CALL
            if outcome in ("stop", "paused"):
                result.requeued += _give_back(claimed)
                claimed.clear()


# --- one contact's call -----------------------------------------------------------------------------

def _give_back(claimed: list[tuple]) -> int:
    if not claimed:
        return 0
    with session_scope() as session:
        return sum(queue.put_back(session, contact_id) for contact_id, _to, _vars in claimed)


def _dial(campaign_id: uuid.UUID, org_id: uuid.UUID, agent_id: uuid.UUID, contact_id: uuid.UUID, to: str,
          variables: dict | None) -> str:
    """Place one claimed contact's call; what came of it: dialed | do_not_call | failed | retry |
    stop (no more this round: the plan is full, Twilio not configured) | paused."""
    try:
        outbound_calls.open_and_dial(org_id, agent_id, to, variables or {}, campaign_contact_id=contact_id)
        return "dialed"
    except outbound_calls.OnDoNotCallList as exc:
        return _settle(contact_id, DO_NOT_CALL, exc.message)
    except outbound_calls.SlotRefused as exc:
        _settle(contact_id, QUEUED, exc.message, delay=SLOT_RETRY)
        return "stop"
    except (outbound_calls.AgentSwitchedOff, NotFound) as exc:
        return _pause(campaign_id, org_id, contact_id, exc.message)
    except TwilioUnavailable as exc:  # the call was opened and ended dial_failed: the contact is failed
        with session_scope() as session:
            session.execute(update(CampaignContact).where(CampaignContact.id == contact_id)
                            .values(last_error=exc.message[:300]).execution_options(synchronize_session=False))
        return "failed"
    except IntegrationNotConfigured as exc:
        log.warning("campaign %s waits: %s", campaign_id, exc.message)
        _settle(contact_id, QUEUED, exc.message, delay=SLOT_RETRY)
        return "stop"
    except ValidationFailed as exc:
        if exc.field == "agent_id":
            return _pause(campaign_id, org_id, contact_id, exc.message)
        return _settle(contact_id, "failed", exc.message)
    except Exception as exc:  # the database or a bug: retried later, unless a call was opened for it
        background.report(log, "campaign %s: dialing contact %s failed", exc, campaign_id, contact_id)
        message = exc.message if isinstance(exc, DomainError) else f"{type(exc).__name__}"
        _settle(contact_id, QUEUED, message, delay=SLOT_RETRY)
        return "retry"


def _settle(contact_id: uuid.UUID, state: str, error: str, *, delay: timedelta | None = None) -> str:
    with session_scope() as session:
        queue.put_back(session, contact_id, state=state, delay=delay, error=error[:300])
    return state


def _pause(campaign_id: uuid.UUID, org_id: uuid.UUID, contact_id: uuid.UUID, why: str) -> str:
    """The agent cannot call anyone now: dialing on would fail every contact, so the campaign waits
    for a person (who fixes the agent and resumes)."""
    with session_scope() as session:
        queue.put_back(session, contact_id, error=why[:300])
        paused = session.execute(update(Campaign).where(Campaign.id == campaign_id, Campaign.status == RUNNING)
                                 .values(status=PAUSED, updated_at=utcnow()).returning(Campaign.name)).first()
        if paused is not None:
            audit.record(session, None, org_id, "campaign.paused", target_type="campaign", target_id=campaign_id,
                         summary=f"Paused campaign {paused[0]!r}: {why}")
    return "paused"


# --- the process's loop ---------------------------------------------------------------------------
default = Dialer()


def run_once(now: datetime | None = None) -> Round:
    """One round of this process's dialer, in the caller's thread (tests, tools)."""
    return default.run_once(now)


def start_background() -> bool:
    """Start this process's dialer loop once; False when it already runs."""
    return _background.start()


def stop_background(timeout: float = 10.0) -> None:
    """Stop the loop after its round and give the lease up (tests, before the database goes)."""
    _background.stop(timeout)


def loop(dialer: Dialer, stop: threading.Event) -> None:
    """Woken by a commit of this process that freed or queued work (``wakeups.DIALER``), by another
    process's (``dialer_wakeup``, while this one holds the lease), else every poll. Not holding the
    lease, a wake-up by a local commit is passed on to the holder. A failing round (the database
    down) is logged once per streak, and the loop goes on."""
    listener = dialer_wakeup.Listener(lambda: dialer.holding)
    listener.start()
    failing, busy, woken = False, False, False
    try:
        while not stop.is_set():
            try:
                if woken and not dialer.holding:  # a commit here freed a line: the holder dials it
                    dialer_wakeup.notify()
                busy = dialer.run_once().busy
                failing = False
            except Exception as exc:
                if not failing:
                    background.report(log, "the campaign dialer's round failed; trying again", exc)
                failing = True
            if stop.is_set():
                break
            woken = wakeups.DIALER.wait(BUSY_POLL_SECONDS if busy else POLL_SECONDS)
            wakeups.DIALER.clear()
    finally:
        listener.stop()
        try:
            dialer.release()
        except Exception:  # noqa: BLE001 - the lease expires by itself
            log.warning("the dialer's lease was not released; it expires in %d s", LEASE_SECONDS)


_background = background.BackgroundLoop("campaign-dialer", lambda stop: loop(default, stop), wakeups.DIALER)
