"""Webhook delivery from one web process: how many events per second reach a loopback receiver,
and how long an event takes from its cause's commit to the receiver at 50 events/s.

The sender is this process's own loop (``webhook_outbox.start_loop``: fan-out of the calls'
``pending_events`` bits, one drain per endpoint, signed POSTs through the SSRF guard) against
PostgreSQL migrated with Alembic. The receiver is the tests' ``WebhookReceiver`` (Python's
``ThreadingHTTPServer``, keep-alive, TCP_NODELAY) in a process of its own, as a customer's server
would be, logging each request's arrival time. One endpoint subscribed to ``call.ended``.

- throughput: ``BACKLOG`` phone calls written as ended-and-owing (two turns each), then the loop
  started; events/s = events / (last arrival - loop start).
- latency: open phone calls closed one by one at ``RATE``/s by Twilio's status callback's own
  service (``calls.call_status_changed``: the UPDATE that owes ``call.ended``, billing, commit) in
  a thread of this process, while the loop runs; per event, receiver arrival - commit returned.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

BACKLOG = 3000
WARMUP = 100
RATE = 50.0
PACED = 1000  # 20 s at 50/s
THROUGHPUT_TARGET = 200.0
P95_TARGET_MS = 1000.0
PHONE = "+14155550188"


def _receiver_main(log_path: str, port_path: str) -> None:
    """The receiver process: answer 204, append "<arrival> <call id or event id>" per request."""
    import json

    from tests.fakes.webhook_receiver import WebhookReceiver

    out = open(log_path, "a", buffering=1)

    def answer(_n, received) -> int:
        body = json.loads(received.body)
        out.write(f"{received.at:.6f} {body['data'].get('call', {}).get('id', body['id'])}\n")
        return 204

    with WebhookReceiver(answer) as receiver:
        Path(port_path).write_text(str(receiver.port))
        threading.Event().wait()


def _start_receiver(tmp: Path) -> tuple[subprocess.Popen, int, Path]:
    log, port_file = tmp / "arrivals.log", tmp / "port"
    code = f"from bench.bench_webhook_delivery import _receiver_main; _receiver_main({str(log)!r}, {str(port_file)!r})"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1])
    deadline = time.monotonic() + 30
    while not (port_file.exists() and port_file.read_text()):
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError("the receiver process did not start")
        time.sleep(0.05)
    return proc, int(port_file.read_text()), log


def _arrivals(log: Path) -> dict[str, float]:
    out = {}
    for line in log.read_text().splitlines():
        at, key = line.split()
        out.setdefault(key, float(at))
    return out


def _seed(url: str) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    from voice_platform.db import session_scope
    from voice_platform.services import agents, auth, webhooks

    with session_scope() as session:
        signed, org = auth.signup(session, email=f"bench-{uuid.uuid4().hex[:8]}@example.com",
                                  password="bench password 123", organization_name="Bench clinic")
        agent = agents.create_agent(session, signed.user, org.id, {"name": "Front desk", "phone_number": PHONE})
        endpoint = webhooks.create_endpoint(session, signed.user, org.id, {"url": url, "events": ["call.ended"]})
        return org.id, agent.id, endpoint.endpoint.id


def _insert_calls(org_id, agent_id, count: int, *, ended: bool) -> list[tuple[uuid.UUID, str]]:
    """Phone calls with two turns each: ended and owing call.ended, or still active."""
    from sqlalchemy import insert

    from voice_platform.db import session_scope
    from voice_platform.models import CallSession, CallTurn
    from voice_platform.models.base import utcnow
    from voice_platform.models.calls import ACTIVE, COMPLETED, EVENT_ENDED

    now = utcnow()
    calls, turns = [], []
    for _ in range(count):
        call_id, sid = uuid.uuid4(), "CA" + uuid.uuid4().hex
        started = now - timedelta(seconds=60)
        calls.append({"id": call_id, "organization_id": org_id, "agent_id": agent_id, "kind": "phone",
                      "provider_call_id": sid, "from_number": "+15550001111", "to_number": PHONE,
                      "status": COMPLETED if ended else ACTIVE, "started_at": started, "answered_at": started,
                      "ended_at": now if ended else None, "duration_seconds": 60.0 if ended else None,
                      "end_reason": "caller_hangup" if ended else None, "pending_events": EVENT_ENDED if ended else 0,
                      "created_at": now, "updated_at": now})
        turns += [{"id": uuid.uuid4(), "call_session_id": call_id, "position": 0, "role": "assistant",
                   "text": "Hello, Bright Smile dental, how can I help?", "created_at": now},
                  {"id": uuid.uuid4(), "call_session_id": call_id, "position": 1, "role": "user",
                   "text": "I'd like to book a cleaning next Tuesday morning, please.", "created_at": now}]
    with session_scope() as session:
        session.execute(insert(CallSession), calls)
        session.execute(insert(CallTurn), turns)
    return [(c["id"], c["provider_call_id"]) for c in calls]


def _delivered(endpoint_id) -> int:
    from sqlalchemy import func, select

    from voice_platform.db import session_scope
    from voice_platform.models import WebhookDelivery

    with session_scope() as session:
        return session.execute(select(func.count()).where(WebhookDelivery.endpoint_id == endpoint_id,
                                                          WebhookDelivery.status == "delivered")).scalar()


def _wait_delivered(endpoint_id, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _delivered(endpoint_id) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {_delivered(endpoint_id)} of {count} delivered within {timeout:g} s")
        time.sleep(0.1)


def _throughput(org_id, agent_id, endpoint_id, log: Path) -> dict:
    from voice_platform.services import webhook_outbox

    calls = _insert_calls(org_id, agent_id, BACKLOG, ended=True)
    stop = threading.Event()
    before = _delivered(endpoint_id)
    t0 = time.time()
    loop = webhook_outbox.start_loop(stop)
    _wait_delivered(endpoint_id, before + BACKLOG, timeout=300)
    stop.set()
    loop.join(10)
    arrivals = _arrivals(log)
    times = sorted(arrivals[str(c)] for c, _ in calls)
    span = times[-1] - t0
    return {"events": BACKLOG, "seconds": span, "rate": BACKLOG / span,
            "first_ms": (times[0] - t0) * 1000}


def _latency(org_id, agent_id, endpoint_id, log: Path, count: int, rate: float) -> dict:
    from voice_platform.db import session_scope
    from voice_platform.services import calls as call_service, webhook_outbox

    open_calls = _insert_calls(org_id, agent_id, count, ended=False)
    before = _delivered(endpoint_id)
    stop = threading.Event()
    loop = webhook_outbox.start_loop(stop)
    committed: dict[str, float] = {}
    close_ms: list[float] = []
    start = time.perf_counter()
    for i, (call_id, sid) in enumerate(open_calls):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        t = time.perf_counter()
        with session_scope() as session:
            assert call_service.call_status_changed(session, sid, "completed", "60")
        committed[str(call_id)] = time.time()
        close_ms.append((time.perf_counter() - t) * 1000)
    offered = count / (time.perf_counter() - start)
    _wait_delivered(endpoint_id, before + count, timeout=120)
    stop.set()
    loop.join(10)
    arrivals = _arrivals(log)
    latencies = sorted((arrivals[key] - at) * 1000 for key, at in committed.items())
    return {"latencies": latencies, "offered": offered, "close_ms": close_ms}


def _pct(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))]


def main() -> str:
    from tests.support.databases import TestDatabase, create_postgres_database, drop_postgres_database, postgres_available

    if not postgres_available():
        raise RuntimeError("this benchmark runs on PostgreSQL at 127.0.0.1:5432")
    name, url = create_postgres_database("vp_bench")
    os.environ.update({"DATABASE_URL": url, "ENVIRONMENT": "development", "SECRET_KEY": "bench-secret-key-" + "x" * 32,
                       "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8"})
    from voice_platform.db import dispose_engines
    from voice_platform.services import webhook_sender
    from voice_platform.settings import get_settings, reset_settings_cache

    reset_settings_cache()
    tmp = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    receiver = None
    try:
        TestDatabase(url=url, name=name).migrate()
        receiver, port, log = _start_receiver(tmp)
        org_id, agent_id, endpoint_id = _seed(f"http://127.0.0.1:{port}/hooks")
        _latency(org_id, agent_id, endpoint_id, log, WARMUP, RATE * 4)  # warm-up: imports, pools, the first connects
        load_before = os.getloadavg()[0]
        through = _throughput(org_id, agent_id, endpoint_id, log)
        paced = _latency(org_id, agent_id, endpoint_id, log, PACED, RATE)
        load_after = os.getloadavg()[0]
        settings = get_settings()
    finally:
        if receiver is not None:
            receiver.terminate()
            receiver.wait(10)
        dispose_engines()
        drop_postgres_database(name)

    lat = paced["latencies"]
    p50, p95, p99 = statistics.median(lat), _pct(lat, 0.95), _pct(lat, 0.99)
    close = sorted(paced["close_ms"])
    rate_verdict = "met" if through["rate"] >= THROUGHPUT_TARGET else "missed"
    p95_verdict = "met" if p95 < P95_TARGET_MS else "missed"
    return f"""## Webhook delivery: events/s from one web process, and commit → delivery at 50/s (`bench/bench_webhook_delivery.py`)

One endpoint (`call.ended`) on a loopback receiver in its own process (`tests/fakes/webhook_receiver.py`:
`ThreadingHTTPServer`, keep-alive, answers 204, logs each arrival). The sender is this process's
webhook loop (`webhook_outbox.start_loop`: fan-out of the calls' `pending_events` bits into events
and deliveries, then one drain per endpoint under its lease: batches of {webhook_sender.BATCH} deliveries read, each
POST signed and sent through `services.outbound` with one keep-alive guarded client, outcomes
written {webhook_sender.RECORD_EVERY} at a time). PostgreSQL, migrated with Alembic; `WEBHOOK_TIMEOUT_SECONDS`
{settings.webhook_timeout_seconds:g}. Each event body is a phone call's document with two turns (~1 KB).
Warm-up: {WARMUP} events first.

| measure | result | target |
|---|---|---|
| throughput: {through['events']} owed `call.ended` events, loop started → last one received | **{through['rate']:.0f} events/s** ({through['seconds']:.1f} s; first after {through['first_ms']:.0f} ms) | ≥ {THROUGHPUT_TARGET:.0f}/s: **{rate_verdict}** |
| commit → received, {PACED} calls closed at {paced['offered']:.1f}/s | p50 {p50:.1f} / **p95 {p95:.1f}** / p99 {p99:.1f} / max {lat[-1]:.1f} ms | p95 < {P95_TARGET_MS:.0f} ms: **{p95_verdict}** |

The latency run closes each call with the status callback's own service (`calls.call_status_changed`:
the UPDATE that ends the call and owes `call.ended`, billing, commit) in this process, one per
{1000 / RATE:.0f} ms, while the loop runs; commit → received is the receiver's arrival time minus the
moment the commit returned (one clock: the same machine). The close itself took p50
{statistics.median(close):.1f} / p95 {_pct(close, 0.95):.1f} ms meanwhile. The commit wakes the loop
(`wakeups.WEBHOOKS`), which gathers the commits of the next 50 ms into one round, and under a
steady stream of commits starts a round at most every 0.25 s (`MIN_ROUND_INTERVAL`: each round
costs a few transactions per endpoint, whatever it carries): an event is fanned out and sent then,
not at the next 0.5 s poll.

Caveats: loopback, so no network or TLS time; a real receiver's own answer time adds to every event
of its endpoint (they are sent one at a time, in order). The receiver shares the 2 cores with this
process and PostgreSQL. 1-minute load average before/after: {load_before:.2f} / {load_after:.2f} on
{os.cpu_count()} cores.
"""
