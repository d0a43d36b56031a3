"""Webhook events: written with the change that causes them, then sent at least once, in order.

Making events. ``emit`` (``call.analyzed``) and ``ping`` (the Test button) write an event and
one delivery per endpoint that wants it in the caller's own transaction, so an event exists if
and only if its cause committed. A call's start and end are owed by the call row's
``pending_events`` bits, set by the very statement that changes the call, which keeps the
phone's hot path to one UPDATE; ``fan_out_once`` claims such rows (FOR UPDATE SKIP LOCKED, then
a conditional UPDATE of the bits it saw: exactly once, whichever process gets there) and writes
their events in that same transaction (``emit`` claims its call's owed bits first, so a call's
events keep their order). A payload is frozen when its event is made: every retry sends the same
body under the same ``webhook-id``.

Sending is ``services.webhook_sender`` (one sender per endpoint at a time, oldest first, retries,
switching off an endpoint that keeps failing). ``start_background`` runs fan-out and sender in a
daemon thread of each web process; ``fan_out_once`` and ``send_due_once`` do one round in the
caller's thread, for tests and tools.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import delete, exists, insert, tuple_, update
from sqlmodel import Session, select

from voice_platform.models import CallSession, WebhookDelivery, WebhookEndpoint, WebhookEvent
from voice_platform.models.base import utcnow
from voice_platform.models.calls import EVENT_ENDED, EVENT_STARTED, TEST
from voice_platform.models.webhooks import PENDING
from voice_platform.services import background, wakeups, webhook_sender
from voice_platform.settings import get_settings

log = logging.getLogger(__name__)

CALL_STARTED, CALL_ENDED, CALL_ANALYZED, PING = "call.started", "call.ended", "call.analyzed", "ping"
# What an endpoint may subscribe to; ``ping`` goes only to the endpoint being tested.
EVENT_TYPES = (CALL_STARTED, CALL_ENDED, CALL_ANALYZED)
# Calls claimed per fan-out transaction: their rows stay locked until it commits, so it is kept
# short (a call being closed meanwhile waits for it).
FAN_OUT_BATCH = 20
_OWED = ((EVENT_STARTED, CALL_STARTED), (EVENT_ENDED, CALL_ENDED))
# How long the loop sleeps when nothing wakes it: work another process committed is found then.
POLL_SECONDS = 0.5
# After a commit wakes the loop, the events of the commits that follow within this long are sent
# in the same round: each round costs a few transactions per endpoint whatever its batch holds.
GATHER_SECONDS = 0.05
# Under a steady stream of commits, rounds start at most this often (a lone event still leaves
# GATHER_SECONDS after its commit): the rounds' fixed cost, not the number of events, was most of
# the loop's database work at 20 closed calls a second (bench/RESULTS.md, "call_close").
MIN_ROUND_INTERVAL = 0.25


def public_id(event_id: uuid.UUID) -> str:
    """The event's id as receivers see it (``webhook-id`` and the body's ``id``)."""
    return "evt_" + event_id.hex


# -- making events ---------------------------------------------------------------------------
_stamp_lock = threading.Lock()
_last_stamp = datetime.min.replace(tzinfo=timezone.utc)


def stamp() -> datetime:
    """Now, strictly later than the previous stamp of this process: an endpoint's deliveries are
    sent in ``created_at`` order, and two made within one clock tick must not tie."""
    global _last_stamp
    with _stamp_lock:
        _last_stamp = max(utcnow(), _last_stamp + timedelta(microseconds=1))
        return _last_stamp


def call_data(session: Session, call: CallSession) -> dict[str, Any]:
    """``data`` of a call event: the call as the API shows it, plus ``test`` for test chats."""
    return calls_data(session, [call])[call.id]


def calls_data(session: Session, calls: list[CallSession]) -> dict[uuid.UUID, dict[str, Any]]:
    """``call_data`` of several calls, read together."""
    from voice_platform.services.call_history import call_documents

    documents = call_documents(session, calls)
    for call in calls:
        documents[call.id]["test"] = call.kind == TEST
    return {call_id: {"call": document} for call_id, document in documents.items()}


def _enabled_endpoints(session: Session, org_ids: set[uuid.UUID]) -> dict[uuid.UUID, list[WebhookEndpoint]]:
    rows = session.exec(select(WebhookEndpoint).where(WebhookEndpoint.organization_id.in_(org_ids),
                                                      WebhookEndpoint.enabled.is_(True))).all() if org_ids else []
    out: dict[uuid.UUID, list[WebhookEndpoint]] = {}
    for endpoint in rows:
        out.setdefault(endpoint.organization_id, []).append(endpoint)
    return out


def subscribed(endpoints: list[WebhookEndpoint], event_type: str, agent_id: uuid.UUID | None) -> list[WebhookEndpoint]:
    """The endpoints that want this event: subscribed to its type, for every agent or this one."""
    return [e for e in endpoints if event_type in (e.events or []) and (e.agent_id is None or e.agent_id == agent_id)]


def _build(org_id: uuid.UUID, event_type: str, data: dict[str, Any], endpoints: list[WebhookEndpoint],
           call_id: uuid.UUID | None = None) -> tuple[WebhookEvent, list[WebhookDelivery]]:
    made = stamp()
    event_id = uuid.uuid4()
    payload = {"id": public_id(event_id), "type": event_type, "created_at": made.isoformat(), "data": data}
    event = WebhookEvent(id=event_id, organization_id=org_id, type=event_type, call_session_id=call_id,
                         payload=payload, created_at=made)
    # next_attempt_at is never NULL while pending: "due" is one comparison for the sender.
    return event, [WebhookDelivery(endpoint_id=e.id, event_id=event_id, next_attempt_at=made, created_at=made)
                   for e in endpoints]


def _row(record: WebhookEvent | WebhookDelivery) -> dict[str, Any]:
    return {column.key: getattr(record, column.key) for column in record.__table__.columns}


def _add(session: Session, made: list[tuple[WebhookEvent, list[WebhookDelivery]]]) -> None:
    """Insert the events, then their deliveries: one statement per table, as plain rows (the
    records are never read back through this session, so no unit of work is needed)."""
    session.execute(insert(WebhookEvent.__table__), [_row(event) for event, _ in made])
    deliveries = [_row(d) for _, ds in made for d in ds]
    if deliveries:
        session.execute(insert(WebhookDelivery.__table__), deliveries)
    wakeups.after_commit(session, wakeups.WEBHOOKS)


def emit(session: Session, org_id: uuid.UUID, event_type: str, *, call: CallSession | None = None,
         agent_id: uuid.UUID | None = None, data: dict[str, Any] | None = None) -> WebhookEvent | None:
    """Write ``event_type`` for the organization's endpoints that want it, in the caller's
    transaction (None when none does). ``call``, with no ``data``: the event carries the call as
    it stands. The caller passes the row as the statement that locked it in this transaction
    returned it (an ``UPDATE … RETURNING``): its ``pending_events`` are then current and no one
    can claim them before the commit. The call's own start and end events still owed are
    written first, so receivers get started, ended, then this."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    endpoints = _enabled_endpoints(session, {org_id}).get(org_id, [])
    made = []
    wanted = subscribed(endpoints, event_type, call.agent_id if call is not None else agent_id)
    document = None  # the call's data, read once for every event written here
    if call is not None:
        bits = call.pending_events or 0
        if bits and _claim(session, call.id, bits) and _wants_any(call, bits, endpoints):
            document = call_data(session, call)
            made += _owed(session, call, bits, endpoints, document)
    if wanted:
        if data is None and call is not None:
            data = document or call_data(session, call)
        made.append(_build(org_id, event_type, data or {}, wanted, call.id if call else None))
    if made:
        _add(session, made)
    return made[-1][0] if wanted else None


def ping(session: Session, endpoint: WebhookEndpoint) -> tuple[WebhookEvent, WebhookDelivery]:
    """A ``ping`` event for this one endpoint (its Test button), whatever it subscribes to."""
    event, [delivery] = made = _build(endpoint.organization_id, PING, {"webhook_id": str(endpoint.id)}, [endpoint])
    _add(session, [made])
    return event, delivery


def _claim(session: Session, call_id: uuid.UUID, bits: int) -> bool:
    """Clear the bits seen, if they are still what was seen (of several claimers, exactly one wins)."""
    return session.execute(
        update(CallSession).where(CallSession.id == call_id, CallSession.pending_events == bits)
        .values(pending_events=0, updated_at=CallSession.updated_at)  # not a change anyone sees
        .returning(CallSession.id).execution_options(synchronize_session=False)
    ).first() is not None


def _claim_all(session: Session, seen: list[tuple[uuid.UUID, int]]) -> list[tuple[uuid.UUID, int]]:
    """``_claim`` of many calls in one statement: those whose bits are still what was seen. SQLite
    has no row locks: the condition alone makes it exactly once there."""
    if not seen:
        return []
    won = set(session.execute(
        update(CallSession).where(tuple_(CallSession.id, CallSession.pending_events).in_(seen))
        .values(pending_events=0, updated_at=CallSession.updated_at)
        .returning(CallSession.id).execution_options(synchronize_session=False)
    ).scalars())
    return [(call_id, bits) for call_id, bits in seen if call_id in won]


def _owed(session: Session, call: CallSession, bits: int, endpoints: list[WebhookEndpoint],
          data: dict[str, Any] | None = None) -> list:
    """The events a claimed call owes (started before ended), for the endpoints that want each
    (``data``: the call's, when already read)."""
    made = []
    for bit, event_type in _OWED:
        wanted = subscribed(endpoints, event_type, call.agent_id)
        if bits & bit and wanted:
            data = data or call_data(session, call)
            made.append(_build(call.organization_id, event_type, data, wanted, call.id))
    return made


def _wants_any(call: CallSession, bits: int, endpoints: list[WebhookEndpoint]) -> bool:
    return any(bits & bit and subscribed(endpoints, event_type, call.agent_id) for bit, event_type in _OWED)


def fan_out_once(limit: int = FAN_OUT_BATCH) -> int:
    """Turn the ``pending_events`` bits of up to ``limit`` calls into events; how many calls were
    claimed. Calls another transaction holds (one being closed right now) are skipped, not
    waited for; they are claimed on the next round."""
    from voice_platform.db import session_scope

    with session_scope() as session:
        seen = session.execute(
            select(CallSession.id, CallSession.pending_events).where(CallSession.pending_events != 0)
            .order_by(CallSession.id).limit(limit).with_for_update(skip_locked=True)
        ).all()
        claimed = _claim_all(session, [(call_id, bits) for call_id, bits in seen])
        if not claimed:
            return 0
        calls = {c.id: c for c in session.exec(select(CallSession).where(CallSession.id.in_([c for c, _ in claimed])))}
        endpoints = _enabled_endpoints(session, {c.organization_id for c in calls.values()})
        data = calls_data(session, [calls[call_id] for call_id, bits in claimed
                                    if _wants_any(calls[call_id], bits, endpoints.get(calls[call_id].organization_id, []))])
        made = []
        for call_id, bits in claimed:
            call = calls[call_id]
            made += _owed(session, call, bits, endpoints.get(call.organization_id, []), data.get(call_id))
        if made:
            _add(session, made)
        return len(claimed)


# -- retention -------------------------------------------------------------------------------------
SWEEP_BATCH = 1000  # events deleted per transaction
SWEEP_FIRST_SECONDS = 60.0  # a loop's first sweep, after its process has started
SWEEP_EVERY_SECONDS = 3600.0


def sweep_old_once(batch: int = SWEEP_BATCH) -> int:
    """Delete the events older than ``WEBHOOK_RETENTION_DAYS`` that no delivery waits to send, with
    their deliveries (the foreign key cascades), oldest first, ``batch`` per transaction so no lock
    is held long; how many events went. A pending delivery keeps its event, however old: it is
    still owed. Several processes sweeping at once only find less to delete."""
    from voice_platform.db import session_scope

    days = get_settings().webhook_retention_days
    if days <= 0:
        return 0
    cutoff = utcnow() - timedelta(days=days)
    owed = exists().where(WebhookDelivery.event_id == WebhookEvent.id, WebhookDelivery.status == PENDING)
    oldest = (select(WebhookEvent.id).where(WebhookEvent.created_at < cutoff, ~owed)
              .order_by(WebhookEvent.created_at).limit(batch))
    deleted = 0
    while True:
        with session_scope() as session:
            gone = session.execute(delete(WebhookEvent).where(WebhookEvent.id.in_(oldest.scalar_subquery()))
                                   .execution_options(synchronize_session=False)).rowcount
        deleted += gone
        if gone < batch:
            return deleted


# -- running it ----------------------------------------------------------------------------------
class Loop:
    """One process's fan-out and senders: a task per endpoint being drained, never two."""

    def __init__(self, *, sweeping: bool = False) -> None:
        self._draining: dict[uuid.UUID, asyncio.Task] = {}
        self.more_to_fan_out = False
        # The process's long-running loop also deletes what is past retention, hourly.
        self._next_sweep = time.monotonic() + SWEEP_FIRST_SECONDS if sweeping else None

    async def round(self) -> list[asyncio.Task]:
        """Fan out one batch of what calls owe, then start a drain for each endpoint with a due
        delivery (a full batch asks for another round at once: the drains start meanwhile)."""
        if self._next_sweep is not None and time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + SWEEP_EVERY_SECONDS
            swept = await asyncio.to_thread(sweep_old_once)
            if swept:
                log.info("deleted %d webhook events past their retention (WEBHOOK_RETENTION_DAYS)", swept)
        self.more_to_fan_out = await asyncio.to_thread(fan_out_once) == FAN_OUT_BATCH
        if self.more_to_fan_out:
            wakeups.WEBHOOKS.set()
        started = []
        for endpoint_id in await asyncio.to_thread(webhook_sender.due_endpoints, set(self._draining)):
            if endpoint_id not in self._draining:
                task = asyncio.create_task(webhook_sender.drain(endpoint_id))
                self._draining[endpoint_id] = task
                task.add_done_callback(functools.partial(self._drained, endpoint_id))
                started.append(task)
        return started

    def _drained(self, endpoint_id: uuid.UUID, task: asyncio.Task) -> None:
        self._draining.pop(endpoint_id, None)
        if not task.cancelled() and task.exception() is None and task.result():
            wakeups.WEBHOOKS.set()  # events may have come in for it while it drained: look again now

    async def finish(self) -> None:
        await asyncio.gather(*self._draining.values(), return_exceptions=True)


async def serve(stop: threading.Event) -> None:
    """Rounds until ``stop``: GATHER_SECONDS after a commit here leaves work, else every POLL_SECONDS.
    Every failure is logged and the loop goes on (a database down now may be back next round)."""
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=8, thread_name_prefix="webhook-db"))
    runner, quiet_until = Loop(sweeping=True), 0.0
    while not stop.is_set():
        wakeups.WEBHOOKS.clear()
        started = time.monotonic()
        try:
            await runner.round()
        except Exception as exc:
            if background.interpreter_exiting(exc):
                return
            if time.monotonic() >= quiet_until:  # once a minute, not twice a second
                background.report(log, "webhook round failed; trying again", exc)
                quiet_until = time.monotonic() + 60
        try:
            if await asyncio.to_thread(wakeups.WEBHOOKS.wait, POLL_SECONDS) and not stop.is_set():
                await asyncio.sleep(GATHER_SECONDS if runner.more_to_fan_out
                                    else max(GATHER_SECONDS, started + MIN_ROUND_INTERVAL - time.monotonic()))
        except RuntimeError as exc:
            if background.interpreter_exiting(exc):
                return
            raise
    await runner.finish()



def start_loop(stop: threading.Event, *, name: str = "webhook-sender") -> threading.Thread:
    """A daemon thread running ``serve`` until ``stop`` is set (a test runs two, as two processes)."""
    thread = threading.Thread(target=_serve_in_thread, args=(stop,), name=name, daemon=True)
    thread.start()
    return thread


def _serve_in_thread(stop: threading.Event) -> None:
    asyncio.run(serve(stop))


def start_background() -> bool:
    """Idempotent: the process's one webhook loop, started on the first call."""
    return _background.start()


def stop_background(timeout: float = 10.0) -> None:
    """Stop the process's loop after its current round (before its database goes away, in tests)."""
    _background.stop(timeout)


_background = background.BackgroundLoop("webhook-sender", _serve_in_thread, wakeups.WEBHOOKS)


async def _send_due() -> int:
    runner, attempts = Loop(), 0
    while (tasks := await runner.round()) or runner.more_to_fan_out:
        attempts += sum(await asyncio.gather(*tasks))
    return attempts


def send_due_once() -> int:
    """Fan out, then send every due delivery until none is due; how many attempts were made.
    Safe beside running loops: an endpoint's lease keeps its deliveries to one sender."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_send_due())
    with ThreadPoolExecutor(max_workers=1) as pool:  # called from async code: a loop of its own, elsewhere
        return pool.submit(asyncio.run, _send_due()).result()
