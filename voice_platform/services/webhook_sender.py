"""Sending webhook deliveries: one sender per endpoint at a time, oldest first, signed, retried.

An endpoint's deliveries are sent by whoever holds its lease (``lease_until``, taken by one
conditional UPDATE; the value taken is the holder's token, so only the holder renews it or gives
it back). Under the lease they leave strictly oldest first: a delivery waiting for its retry holds
back the later ones, so a receiver never sees one endpoint's events out of order; after its last
attempt it is ``failed`` and the next one goes. Outcomes are written in small batches: a process
stopping before the write only means a second send (at least once; receivers dedupe on
``webhook-id``). One keep-alive client per drained endpoint, every request through the SSRF
guard (``services.outbound``), bounded by ``WEBHOOK_TIMEOUT_SECONDS``.

Each attempt is signed the Standard Webhooks way with the endpoint's current secret, so after a
rotation even deliveries queued before it carry the new signature. An endpoint that fails for
``DISABLE_AFTER`` without one success is switched off and its organization's admins e-mailed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import bindparam, or_, update
from sqlmodel import select

from voice_platform.errors import DomainError
from voice_platform.models import Membership, Organization, Role, User, WebhookDelivery, WebhookEndpoint, WebhookEvent
from voice_platform.models.base import aware, utcnow
from voice_platform.models.webhooks import DELIVERED, FAILED, PENDING
from voice_platform.security import decrypt_text
from voice_platform.services import audit, background, mail, outbound
from voice_platform.services.rbac import ORG_ADMIN
from voice_platform.settings import get_settings

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24
LEASE = timedelta(seconds=60)
# Renewed when less than the request timeout plus this is left: a live sender never loses it.
LEASE_MARGIN = timedelta(seconds=15)
BATCH = 100  # deliveries read per query
RECORD_EVERY = 20  # outcomes written per transaction
RESPONSE_BYTES = 2048  # of an answer's body, read (the start of an error's goes into last_error)
DISABLE_AFTER = timedelta(days=3)
USER_AGENT = "VoicePlatform-Webhooks/1.0"


# -- Standard Webhooks signing ------------------------------------------------------------------
def new_secret() -> str:
    """``whsec_`` + base64 of random bytes: the form every Standard Webhooks library takes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: ``v1,`` + base64 HMAC-SHA256 of ``{id}.{timestamp}.{body}``."""
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


# -- what one drain works with ---------------------------------------------------------------------
@dataclass
class Target:
    """The endpoint as the sender needs it, read again with every batch (URL, secret may change)."""

    id: uuid.UUID
    organization_id: uuid.UUID
    url: str
    key: bytes
    failing_since: datetime | None


@dataclass(frozen=True)
class Due:
    id: uuid.UUID
    attempts: int
    message_id: str
    body: bytes
    next_attempt_at: datetime


@dataclass(frozen=True)
class Outcome:
    due: Due
    ok: bool
    status: int | None
    duration_ms: float
    error: str | None
    at: datetime


# -- the database side (blocking: run in a thread) ----------------------------------------------------
def _scope():
    from voice_platform.db import session_scope

    return session_scope()


def _lease_free(now: datetime):
    return or_(WebhookEndpoint.lease_until.is_(None), WebhookEndpoint.lease_until < now)


def due_endpoints(skip: set[uuid.UUID] = frozenset()) -> list[uuid.UUID]:
    """Enabled endpoints nobody is sending to whose oldest pending delivery is due."""
    now = utcnow()
    oldest = (select(WebhookDelivery.next_attempt_at)
              .where(WebhookDelivery.endpoint_id == WebhookEndpoint.id, WebhookDelivery.status == PENDING)
              .order_by(WebhookDelivery.created_at, WebhookDelivery.id).limit(1)
              .correlate(WebhookEndpoint).scalar_subquery())
    with _scope() as session:
        ids = session.exec(select(WebhookEndpoint.id).where(WebhookEndpoint.enabled.is_(True), _lease_free(now),
                                                             oldest <= now)).all()
    return [i for i in ids if i not in skip]


def _lease_update(session, endpoint_id: uuid.UUID, condition, value: datetime | None) -> bool:
    return session.execute(
        update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id, condition)
        .values(lease_until=value, updated_at=WebhookEndpoint.updated_at)  # not an edit: keep updated_at
        .returning(WebhookEndpoint.id).execution_options(synchronize_session=False)
    ).first() is not None


def _give_back(session, endpoint_id: uuid.UUID, held: datetime) -> None:
    _lease_update(session, endpoint_id, WebhookEndpoint.lease_until == held, None)


def renew_lease(endpoint_id: uuid.UUID, held: datetime) -> datetime | None:
    until = utcnow() + LEASE
    with _scope() as session:
        return until if _lease_update(session, endpoint_id, WebhookEndpoint.lease_until == held, until) else None


def _target(endpoint_id: uuid.UUID, organization_id: uuid.UUID, url: str, secret_encrypted: str,
            failing_since: datetime | None) -> Target:
    return Target(endpoint_id, organization_id, url, secret_key(decrypt_text(secret_encrypted)), aware(failing_since))


def _pending(session, endpoint_id: uuid.UUID) -> list[Due]:
    rows = session.execute(
        select(WebhookDelivery.id, WebhookDelivery.attempts, WebhookDelivery.next_attempt_at, WebhookEvent.payload)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == PENDING)
        .order_by(WebhookDelivery.created_at, WebhookDelivery.id).limit(BATCH)
    ).all()
    return [Due(i, attempts, payload["id"], body_of(payload), aware(next_at) or utcnow())
            for i, attempts, next_at, payload in rows]


def take_and_load(endpoint_id: uuid.UUID) -> tuple[datetime, Target, list[Due]] | None:
    """A drain's start, one transaction of two statements: the endpoint's lease taken (its end is
    the holder's token), the endpoint and its oldest pending deliveries; None when another holds
    the lease or the endpoint is off."""
    now = utcnow()
    until = now + LEASE
    with _scope() as session:
        row = session.execute(
            update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.enabled.is_(True),
                                          _lease_free(now))
            .values(lease_until=until, updated_at=WebhookEndpoint.updated_at)
            .returning(WebhookEndpoint.organization_id, WebhookEndpoint.url, WebhookEndpoint.secret_encrypted,
                       WebhookEndpoint.failing_since)
            .execution_options(synchronize_session=False)
        ).first()
        if row is None:
            return None
        dues = _pending(session, endpoint_id)
    return until, _target(endpoint_id, *row), dues


def load(endpoint_id: uuid.UUID, lease: datetime) -> tuple[Target, list[Due]] | None:
    """The endpoint and its oldest pending deliveries; None when it is off or the lease is not ours."""
    with _scope() as session:
        endpoint = session.get(WebhookEndpoint, endpoint_id)
        if endpoint is None or not endpoint.enabled or aware(endpoint.lease_until) != lease:
            return None
        target = _target(endpoint.id, endpoint.organization_id, endpoint.url, endpoint.secret_encrypted,
                         endpoint.failing_since)
        return target, _pending(session, endpoint_id)


def _failing_since(current: datetime | None, outcomes: list[Outcome]) -> datetime | None:
    """Start of the run of failures the endpoint is in after these outcomes (None: it succeeded last)."""
    since = current
    for outcome in outcomes:
        since = None if outcome.ok else (since or outcome.at)
    return since


def record(target: Target, outcomes: list[Outcome], *, release: datetime | None = None) -> bool:
    """Write the outcomes and the endpoint's failing state, and give the lease ``release`` back in the
    same transaction (a drain's end); False when the endpoint has just been switched off."""
    delays = get_settings().webhook_retry_delays
    rows = []
    for o in outcomes:
        attempts = o.due.attempts + 1  # after attempt n fails, the next waits delays[n-1]
        retry = not o.ok and attempts <= len(delays)
        rows.append({"delivery": o.due.id, "attempts": attempts, "status": DELIVERED if o.ok else PENDING if retry else FAILED,
                     "response_status": o.status, "duration_ms": o.duration_ms, "last_error": o.error,
                     "next_attempt_at": o.at + timedelta(seconds=delays[attempts - 1]) if retry else None,
                     "delivered_at": o.at if o.ok else None})
    failing = _failing_since(target.failing_since, outcomes)
    with _scope() as session:
        if rows:  # one executemany; a row gone meanwhile (its endpoint deleted) simply matches nothing
            table = WebhookDelivery.__table__
            session.connection().execute(update(table).where(table.c.id == bindparam("delivery")), rows)
        if release is not None:
            _give_back(session, target.id, release)
        if failing != target.failing_since:
            session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == target.id)
                            .values(failing_since=failing, updated_at=WebhookEndpoint.updated_at)
                            .execution_options(synchronize_session=False))
            target.failing_since = failing
        if failing is not None and failing <= utcnow() - DISABLE_AFTER:
            _switch_off(session, target, failing)
            return False
    return True


def _switch_off(session, target: Target, since: datetime) -> None:
    reason = (f"Switched off automatically: every delivery failed for {DISABLE_AFTER.days} days "
              f"(since {since:%Y-%m-%d %H:%M} UTC)")
    changed = session.execute(
        update(WebhookEndpoint).where(WebhookEndpoint.id == target.id, WebhookEndpoint.enabled.is_(True))
        .values(enabled=False, disabled_reason=reason).returning(WebhookEndpoint.id)
        .execution_options(synchronize_session=False)
    ).first()
    if changed is None:
        return
    log.warning("webhook endpoint %s switched off: failing since %s", target.id, since.isoformat())
    audit.record(session, None, target.organization_id, "webhook.disabled", target_type="webhook",
                 target_id=target.id, summary=f"Switched off {target.url[:200]}: failing for {DISABLE_AFTER.days} days",
                 before={"enabled": True}, after={"enabled": False, "disabled_reason": reason})
    if not mail.is_configured():
        return
    org = session.get(Organization, target.organization_id)
    admins = session.exec(
        select(User.email).join(Membership, Membership.user_id == User.id).join(Role, Role.id == Membership.role_id)
        .where(Membership.organization_id == target.organization_id, Role.name == ORG_ADMIN, User.is_active.is_(True))
    ).all()
    link = get_settings().public_base_url.rstrip("/") + "/organization/webhooks"
    for email in admins:
        mail.deliver_after_commit(session, mail.Mail(
            to=email, subject="A webhook endpoint was switched off",
            paragraphs=(f"The webhook endpoint {target.url} of {org.name if org else 'your organization'} "
                        f"has failed every delivery since {since:%Y-%m-%d %H:%M} UTC, so we have switched it off.",
                        "Events are not sent to it any more. Fix the receiver, then switch the endpoint on again "
                        "and redeliver what it missed from its deliveries list."),
            link=link, button="Open webhooks"))


# -- the network side ----------------------------------------------------------------------------
def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else " " for c in text).strip()


async def attempt(client: Any, target: Target, due: Due, timeout: float) -> Outcome:
    """One signed POST; every way it can go wrong becomes an outcome, never an exception."""
    timestamp = int(time.time())
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, "webhook-id": due.message_id,
               "webhook-timestamp": str(timestamp),
               "webhook-signature": signature(target.key, due.message_id, timestamp, due.body)}
    started = time.perf_counter()
    status = error = None
    try:
        response = await outbound.request("POST", target.url, headers=headers, content=due.body, timeout=timeout,
                                          max_bytes=RESPONSE_BYTES, client=client)
        status = response.status_code
        if not 200 <= status < 300:
            said = _printable(response.body[:200].decode(errors="replace"))
            error = f"The endpoint answered HTTP {status}" + (f": {said}" if said else "")
    except DomainError as exc:  # refused by the guard, timed out, connection refused ...
        error = exc.message
    except Exception as exc:  # a surprise still ends as an outcome (and a retry), not a lost delivery
        log.exception("webhook delivery %s failed unexpectedly", due.id)
        error = f"{type(exc).__name__} while sending"
    duration = round((time.perf_counter() - started) * 1000, 1)
    return Outcome(due, error is None, status, duration, error[:500] if error else None, utcnow())


async def _send_batch(client: Any, target: Target, dues: list[Due], lease: datetime
                      ) -> tuple[int, datetime | None, bool, list[Outcome]]:
    """Send in order until one must wait; (attempts, the lease now, whether to read the next batch,
    the outcomes not written yet: the caller writes them, with the lease's release when it stops)."""
    settings = get_settings()
    timeout, retries = settings.webhook_timeout_seconds, len(settings.webhook_retry_delays)
    outcomes: list[Outcome] = []
    sent = 0
    for due in dues:
        now = utcnow()
        if due.next_attempt_at > now:  # its retry is not due: the later ones wait behind it
            return sent, lease, False, outcomes
        if lease - now < timedelta(seconds=timeout) + LEASE_MARGIN:
            lease = await asyncio.to_thread(renew_lease, target.id, lease)
            if lease is None:
                return sent, lease, False, outcomes
        outcome = await attempt(client, target, due, timeout)
        outcomes.append(outcome)
        sent += 1
        if not outcome.ok and due.attempts < retries:  # it will be retried: keep the order
            return sent, lease, False, outcomes
        if len(outcomes) >= RECORD_EVERY:
            if not await asyncio.to_thread(record, target, outcomes):
                return sent, lease, False, []
            outcomes = []
    return sent, lease, len(dues) >= BATCH, outcomes  # a short batch was all there was


async def _drain(endpoint_id: uuid.UUID) -> int:
    """Two transactions in the usual case: the lease with the first batch, the outcomes with the
    lease's release. Deliveries made meanwhile are found by the next round (``Loop._drained``)."""
    taken = await asyncio.to_thread(take_and_load, endpoint_id)
    if taken is None:
        return 0
    lease, target, dues = taken
    attempts, client, origin = 0, None, None
    unwritten: list[Outcome] = []
    try:
        while dues:
            parts = urlsplit(target.url)
            if client is None or origin != (parts.scheme, parts.netloc):  # one host per client, always
                if client is not None:
                    await client.aclose()
                client, origin = outbound.guarded_client(get_settings().webhook_timeout_seconds), (parts.scheme, parts.netloc)
            sent, lease, go_on, unwritten = await _send_batch(client, target, dues, lease)
            attempts += sent
            if not go_on or lease is None:
                break
            written, unwritten = unwritten, []
            if written and not await asyncio.to_thread(record, target, written):
                break  # switched off
            loaded = await asyncio.to_thread(load, endpoint_id, lease)
            if loaded is None:
                break
            target, dues = loaded
    finally:
        if client is not None:
            await client.aclose()
        if unwritten or lease is not None:
            await asyncio.to_thread(record, target, unwritten, release=lease)
    return attempts


_quiet_until: dict[uuid.UUID, float] = {}


async def drain(endpoint_id: uuid.UUID) -> int:
    """Send the endpoint's due deliveries, oldest first, if its lease can be taken; attempts made.
    A failure (database down, a secret the configured keys cannot decrypt) is logged once a
    minute per endpoint, not at every round that tries again."""
    try:
        return await _drain(endpoint_id)
    except Exception as exc:
        if time.monotonic() >= _quiet_until.get(endpoint_id, 0.0):
            _quiet_until[endpoint_id] = time.monotonic() + 60
            background.report(log, "sending webhooks to endpoint %s failed; its deliveries wait for the next round",
                              exc, endpoint_id)
        return 0
