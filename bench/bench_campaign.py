"""A campaign of 1,000 contacts at max_concurrent 20, dialed by two web processes on one database.

Two granian servers (one worker each, ``bench/campaign_app.py``: the real API with the dialer
loop every web process runs) share a throwaway PostgreSQL database, migrated with Alembic. The
fake Twilio REST server (``tests/fakes/twilio_rest.py``, reached through TWILIO_API_BASE_URL as in
production) places each call, and after a random 0.5-2 s plays it as Twilio would: ringing,
answered (our answer webhook), completed — each callback signed and posted to one of the two
servers at random, as a load balancer would spread them. Only one process holds the dialer's
lease; the other serves callbacks, so about half the calls' ends are committed by the process
that does not dial (it finds them at its next poll).

Sampled every 50 ms while contacts were still queued: calls in flight as Twilio sees them (placed,
not yet ended) and contacts ``calling`` in the database. Targets (issue): 20 in flight (+-1),
never 21; every contact accounted for exactly once. The plans' limits are lifted in the bench's
own database (the campaign's own cap is what is measured).
"""

from __future__ import annotations

import collections
import os
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from bench.bench_webhook import Server, _free_port, _load

ROOT = Path(__file__).resolve().parents[1]
CONTACTS = 1000
MAX_CONCURRENT = 20
DELAY = (0.5, 2.0)
SAMPLE_SECONDS = 0.05
DEADLINE_SECONDS = 240
PUBLIC = "https://voice.example.com"
FINAL = ("completed", "busy", "no-answer", "failed", "canceled")
SETTINGS_ENV = {"PUBLIC_BASE_URL": PUBLIC, "LIVEKIT_SIP_DOMAIN": "bench.sip.livekit.cloud",
                "SECRET_KEY": "bench-secret-key-" + "x" * 40, "ENVIRONMENT": "development",
                "OTEL_SDK_DISABLED": "true"}


def _start(env: dict[str, str], tmp: Path) -> Server:
    import http.client
    import subprocess
    import sys

    port = _free_port()
    log = tmp / f"granian-{port}.log"
    granian = Path(sys.executable).with_name("granian")
    cmd = [str(granian), "--interface", "asgi", "--workers", "1", "--host", "127.0.0.1", "--port", str(port),
           "--no-ws", "--log-level", "warning", "bench.campaign_app:app"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(proc, port, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/health")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.1)
        if proc.poll() is not None:
            break
    server.stop()
    raise RuntimeError(f"granian did not start: {log.read_text()[-2000:]}")


def _seed() -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """An organization with an agent that has a number, and a draft campaign of CONTACTS contacts."""
    from sqlalchemy import update

    from voice_platform.db import session_scope
    from voice_platform.models import Plan
    from voice_platform.services import agents, auth, campaigns

    with session_scope() as session:
        session.execute(update(Plan).values(max_concurrent_calls=1_000_000, minute_cap=None))
    with session_scope() as session:
        signed, org = auth.signup(session, email=f"bench-{uuid.uuid4().hex[:8]}@example.com",
                                  password="bench password 123", organization_name="Bench")
        agent = agents.create_agent(session, signed.user, org.id, {"name": "Caller", "phone_number": "+14155550100"})
        campaign = campaigns.create(session, signed.user, org.id, {
            "name": "Bench", "agent_id": str(agent.id), "max_concurrent": MAX_CONCURRENT,
            "window": {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "24:00"},
            "contacts": [{"to": f"+1415{2000000 + i:07d}", "variables": {"n": i}} for i in range(CONTACTS)],
        })
        return signed.user.id, campaign.id, org.id


def _db_counts(campaign_id) -> dict[str, int]:
    from sqlalchemy import func, select

    from voice_platform.db import session_scope
    from voice_platform.models import CampaignContact

    with session_scope() as session:
        rows = session.execute(select(CampaignContact.state, func.count()).where(
            CampaignContact.campaign_id == campaign_id).group_by(CampaignContact.state)).all()
    return dict(rows)


def _run(twilio, servers: list[Server], campaign_id, org_id, user_id) -> dict:
    from voice_platform.db import session_scope
    from voice_platform.models import User
    from voice_platform.services import campaigns

    import httpx

    routed = collections.Counter()
    # One keep-alive client per process (as Twilio keeps connections): a client per callback would
    # cost this process more CPU than the servers spend on the callbacks.
    clients = {s.port: httpx.Client(base_url=f"http://127.0.0.1:{s.port}", timeout=30,
                                    limits=httpx.Limits(max_connections=64)) for s in servers}

    def play_later(sid: str) -> None:  # Twilio: after a while, the call is played to a random process
        time.sleep(random.uniform(*DELAY))
        server = random.choice(servers)
        routed[server.port] += 1
        try:
            twilio.play(sid, clients[server.port])
        except Exception as exc:  # noqa: BLE001 - counted below: a call whose end never arrived
            with twilio.lock:
                twilio.outbound[sid]["error"] = repr(exc)

    twilio.on_created = play_later
    samples: list[tuple[int, int]] = []
    with session_scope() as session:
        campaigns.change(session, session.get(User, user_id), org_id, campaign_id, "start")
    started = time.monotonic()
    while time.monotonic() - started < DEADLINE_SECONDS:
        counts = _db_counts(campaign_id)
        with twilio.lock:
            flying = sum(1 for p in twilio.outbound.values() if twilio.calls[p["sid"]]["status"] not in FINAL)
        if counts.get("queued", 0) > 0 and len(twilio.outbound) >= MAX_CONCURRENT:
            samples.append((flying, counts.get("calling", 0)))
        if not counts.get("queued") and not counts.get("calling"):
            break
        time.sleep(SAMPLE_SECONDS)
    elapsed = time.monotonic() - started
    time.sleep(1.5)  # the last callbacks, and the dialer's round that marks the campaign completed
    for client in clients.values():
        client.close()
    return {"samples": samples, "elapsed": elapsed, "routed": routed}


def _check(twilio, campaign_id) -> dict:
    from sqlalchemy import func, select

    from voice_platform.db import session_scope
    from voice_platform.models import BackgroundLease, CallSession, Campaign, CampaignContact

    with session_scope() as session:
        per_contact = session.execute(
            select(CampaignContact.to_number, CampaignContact.attempts, func.count(CallSession.id))
            .join(CallSession, CallSession.campaign_contact_id == CampaignContact.id, isouter=True)
            .where(CampaignContact.campaign_id == campaign_id)
            .group_by(CampaignContact.id, CampaignContact.to_number, CampaignContact.attempts)).all()
        status = session.get(Campaign, campaign_id).status
        holder = session.execute(select(BackgroundLease.holder)).scalar()
    placed = [p["form"]["To"] for p in twilio.placed()]
    return {"status": status, "holder": holder, "counts": _db_counts(campaign_id),
            "placed": len(placed), "unique_placed": len(set(placed)),
            "one_call_each": all(calls == 1 and attempts == 1 for _n, attempts, calls in per_contact),
            "contacts": len(per_contact), "errors": sum(1 for p in twilio.placed() if p.get("error"))}


def _parent(pid: int) -> int | None:
    """granian's worker is a child of the process we started; the lease names the worker."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _distribution(values: list[int]) -> str:
    counted = collections.Counter(values)
    return ", ".join(f"{k}: {counted[k]}" for k in sorted(counted))


def main() -> str:
    from tests.fakes.twilio_rest import FakeTwilio
    from tests.support.databases import TestDatabase, create_postgres_database, drop_postgres_database
    from voice_platform.db import dispose_engines
    from voice_platform.settings import reset_settings_cache

    load_before = _load()
    name, url = create_postgres_database("vp_bench_campaign")
    servers: list[Server] = []
    try:
        with FakeTwilio(idle_timeout=600) as twilio, tempfile.TemporaryDirectory() as tmp:
            env = {**SETTINGS_ENV, **twilio.settings_env(), "DATABASE_URL": url}
            os.environ.update(env)
            reset_settings_cache()
            dispose_engines()
            TestDatabase(url=url, name=name).migrate()
            user_id, campaign_id, org_id = _seed()
            server_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
            servers = [_start(server_env, Path(tmp)) for _ in range(2)]
            run = _run(twilio, servers, campaign_id, org_id, user_id)
            checked = _check(twilio, campaign_id)
            pids = {s.proc.pid: s.port for s in servers}
            holder_pid = int(checked["holder"].split(":")[1]) if checked["holder"] else 0
            checked["holder_port"] = pids.get(_parent(holder_pid), pids.get(holder_pid, "?"))
    finally:
        for server in servers:
            server.stop()
        dispose_engines()
        drop_postgres_database(name)
    return _report(run, checked, pids, load_before)


def _report(run: dict, checked: dict, pids: dict, load_before: str) -> str:
    flying = [f for f, _c in run["samples"]]
    calling = [c for _f, c in run["samples"]]
    near = sum(1 for f in flying if abs(f - MAX_CONCURRENT) <= 1) / max(1, len(flying))
    near_db = sum(1 for c in calling if abs(c - MAX_CONCURRENT) <= 1) / max(1, len(calling))
    ok = (max(calling, default=0) <= MAX_CONCURRENT and max(flying, default=0) <= MAX_CONCURRENT
          and checked["status"] == "completed" and checked["one_call_each"]
          and checked["placed"] == checked["unique_placed"] == CONTACTS
          and checked["counts"] == {"completed": CONTACTS})
    return f"""## Campaign dialer: {CONTACTS:,} contacts at max_concurrent {MAX_CONCURRENT}, two web processes

What: `bench/bench_campaign.py` — two granian processes (`bench/campaign_app.py`, the real API with the
dialer loop) on one throwaway PostgreSQL database; the fake Twilio REST server places each call and,
after a random {DELAY[0]}–{DELAY[1]} s, plays it (ringing, answered → our answer webhook, completed), each
signed callback posted to one of the two processes at random. Sampled every {int(SAMPLE_SECONDS * 1000)} ms
while contacts were still queued. Targets: {MAX_CONCURRENT} in flight (±1), never {MAX_CONCURRENT + 1};
every contact accounted for exactly once.

| | |
|---|---|
| result | **{"PASS" if ok else "FAIL"}** |
| campaign | {checked["status"]} in {run["elapsed"]:.1f} s; contacts by state: {checked["counts"]} |
| calls placed with Twilio | {checked["placed"]} ({checked["unique_placed"]} distinct numbers; one call and one attempt per contact: {checked["one_call_each"]}; calls whose callbacks failed: {checked["errors"]}) |
| in flight at Twilio (placed, not ended): median / min / max | {statistics.median(flying) if flying else "-"} / {min(flying, default="-")} / {max(flying, default="-")} over {len(flying)} samples; within {MAX_CONCURRENT}±1: {near:.1%} |
| contacts `calling` in the database: median / min / max | {statistics.median(calling) if calling else "-"} / {min(calling, default="-")} / {max(calling, default="-")}; within {MAX_CONCURRENT}±1: {near_db:.1%} |
| in flight at Twilio, distribution (value: samples) | {_distribution(flying)} |
| web processes (granian pid: port) | {pids}; the lease holder (the one dialing): the worker on port {checked["holder_port"]} |
| calls played to each process (port: calls) | {dict(run["routed"])} |
| load average (1 min) before / after | {load_before} / {_load()} |

In flight at Twilio is lower than the database's count by the calls whose end is being posted
(Twilio marks a call ended before its callback reaches us; the contact stays `calling` until that
callback commits). The gap under {MAX_CONCURRENT} is the time between a call's end being committed
(by either process) and the dialer's next round placing the next call: the dialer is woken at once
by an end committed in its own process, and finds one committed by the other process within
a PostgreSQL notification (`services/dialer_wakeup.py`: the process that committed it, not
holding the lease, sends NOTIFY; the holder's listener wakes its loop).
"""
