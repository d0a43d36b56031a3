"""Twilio's outbound answer webhook under load, against the same bare endpoints as the inbound one.

When a callee picks up, Twilio POSTs ``/api/v1/voice/twilio/outbound?session=<id>``: the
signature check over the URL with its query, one conditional statement that finds the pending
outbound session and attaches the CallSid, and the same ``<Dial><Sip>`` TwiML as an inbound
call. The issue gives it the inbound webhook's targets: throughput >= 0.5x the bare route beside
it, p99 <= 20 ms at 400 calls/s, <= 3 SQL statements per webhook.

Everything but the requests is ``bench_webhook``'s (load generators, statement counter, bare
endpoints of ``bench/webhook_app.py``), so the two sections compare; the server runs
``bench/outbound_app.py``, which also serves the same endpoint dispatched ahead of FastAPI (as
``api/app.py`` does the incoming webhook) and the incoming webhook itself, as references measured
in the same rounds on the same machine (these machines are shared and noisy). Each request answers
a session of its own, inserted beforehand as ``services.outbound_calls`` leaves it (pending,
outbound, no CallSid yet), with a new CallSid and a valid signature over its own URL. Fewer
rounds than the inbound bench keep the run under three minutes for both databases.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlencode

from bench import bench_webhook as hook

OUTBOUND = "/api/v1/voice/twilio/outbound"
CALLEE = "+15550001111"
ROUNDS = 2
SATURATE_SECONDS = 4
SQL_SAMPLE = 20


def _params(call_sid: str) -> dict[str, str]:
    """What Twilio posts to an outbound call's ``Url`` when the callee answers."""
    return {
        "AccountSid": "AC" + "0" * 32, "ApiVersion": "2010-04-01", "CallSid": call_sid, "CallStatus": "in-progress",
        "Called": CALLEE, "CalledCity": "OAKLAND", "CalledCountry": "US", "CalledState": "CA", "CalledZip": "94601",
        "Caller": hook.PHONE, "CallerCity": "SAN FRANCISCO", "CallerCountry": "US", "CallerState": "CA",
        "CallerZip": "94105", "Direction": "outbound-api", "From": hook.PHONE, "FromCity": "SAN FRANCISCO",
        "FromCountry": "US", "FromState": "CA", "FromZip": "94105", "To": CALLEE, "ToCity": "OAKLAND",
        "ToCountry": "US", "ToState": "CA", "ToZip": "94601",
    }


def _pending_sessions(count: int) -> list[tuple[str, str]]:
    """``count`` outbound sessions of the seeded agent, as placing leaves them before the answer:
    pending, with the CallSid Twilio's ``calls.create`` returned (without one, the dialer's
    ``sweep_undialed`` would close them as never placed two minutes into the run). (id, CallSid)."""
    from sqlalchemy import insert, select, text

    from voice_platform.db import get_engine
    from voice_platform.models import CallSession, VoiceAgent
    from voice_platform.models.base import utcnow

    engine = get_engine()
    with engine.begin() as conn:
        agent_id, org_id = conn.execute(select(VoiceAgent.id, VoiceAgent.organization_id)
                                        .where(VoiceAgent.phone_number == hook.PHONE)).one()
        now = utcnow()
        ids = [(uuid.uuid4(), "CA" + uuid.uuid4().hex) for _ in range(count)]
        for start in range(0, count, 5000):
            conn.execute(insert(CallSession.__table__), [
                {"id": i, "organization_id": org_id, "agent_id": agent_id, "kind": "phone", "direction": "outbound",
                 "status": "pending", "from_number": hook.PHONE, "to_number": CALLEE, "started_at": now,
                 "provider_call_id": sid, "created_at": now, "updated_at": now, "pending_events": 0,
                 "analysis_attempts": 0}
                for i, sid in ids[start:start + 5000]])
    if engine.dialect.name == "postgresql":
        # Tens of thousands of rows inserted in seconds: without fresh statistics the planner takes
        # call_sessions for a small table and answers a batch by scanning it (autovacuum's analyze
        # would come later in production, where the table grows call by call).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE call_sessions"))
    return [(str(i), sid) for i, sid in ids]


def _write_requests(path: Path, port: int, count: int, *, target: str = OUTBOUND) -> Path:
    """``count`` signed answers, each for a session of its own (bare targets: same bytes, other path)."""
    from twilio.request_validator import RequestValidator

    from bench.outbound_app import AHEAD_PATH

    validator = RequestValidator(hook.TOKEN)
    real = target in (OUTBOUND, AHEAD_PATH)
    sessions = (_pending_sessions(count) if real
                else [(str(uuid.uuid4()), "CA" + uuid.uuid4().hex) for _ in range(count)])
    chunks = []
    for session_id, call_sid in sessions:
        params = _params(call_sid)
        query = f"?session={session_id}"
        signature = validator.compute_signature(hook.PUBLIC + OUTBOUND + query, params)
        chunks.append(hook._raw(target + query, port, params, signature))
    path.write_bytes(b"|".join(chunks))
    return path


def _bridged() -> int:
    from sqlalchemy import text

    from voice_platform.db import get_engine

    with get_engine().connect() as conn:
        return conn.execute(text("SELECT count(*) FROM call_sessions WHERE direction = 'outbound' "
                                 "AND updated_at > created_at")).scalar_one()  # answered: the answer stamps updated_at


def _count_sql(tmp: Path) -> dict:
    """Statements per answer at the driver (``bench_webhook._Wire``), through the same ASGI app."""
    import httpx
    from twilio.request_validator import RequestValidator

    from bench.webhook_app import app
    from voice_platform.db import get_engine

    validator = RequestValidator(hook.TOKEN)

    async def post(client, session: tuple[str, str]) -> None:
        session_id, call_sid = session
        params, query = _params(call_sid), f"?session={session_id}"
        r = await client.post(OUTBOUND + query, content=urlencode(params), headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": validator.compute_signature(hook.PUBLIC + OUTBOUND + query, params)})
        assert r.status_code == 200 and f"X-Vp-Session={session_id}" in r.text, r.text

    async def answer(sessions: list[tuple[str, str]], at_once: bool) -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
            if at_once:
                await asyncio.gather(*(post(client, s) for s in sessions))
            else:
                for s in sessions:
                    await post(client, s)

    sessions = _pending_sessions(3 + 2 * SQL_SAMPLE)
    wire = hook._Wire(get_engine(), tmp)
    try:
        asyncio.run(answer(sessions[:3], False))  # warm
        wire.take()
        asyncio.run(answer(sessions[3:3 + SQL_SAMPLE], False))
        alone = hook._classify(wire.take(), SQL_SAMPLE)
        asyncio.run(answer(sessions[3 + SQL_SAMPLE:], True))
        together = hook._classify(wire.take(), SQL_SAMPLE)
    finally:
        wire.close()
    return {**alone, "together": together}


def _start_server(env: dict[str, str], tmp: Path) -> hook.Server:
    """``bench_webhook._start_server`` serving ``bench.outbound_app`` (the same app plus the ahead path)."""
    import subprocess
    import sys

    port = hook._free_port()
    log = tmp / f"granian-{port}.log"
    cmd = [str(Path(sys.executable).with_name("granian")), "--interface", "asgi", "--workers", "1", "--host",
           "127.0.0.1", "--port", str(port), "--no-ws", "--log-level", "warning", "bench.outbound_app:app"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=hook.ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    server = hook.Server(proc, port, log)
    try:
        hook._wait_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def _measure(backend: hook.Backend, tmp: Path) -> None:
    from bench.outbound_app import AHEAD_PATH
    from bench.webhook_app import BARE_APP_PATH, BARE_PATH
    from tests.support.databases import TestDatabase
    from voice_platform.db import dispose_engines
    from voice_platform.settings import reset_settings_cache

    backend.figures["load"] = [hook._load()]
    os.environ.update(hook.SETTINGS_ENV, DATABASE_URL=backend.url)
    reset_settings_cache()
    dispose_engines()
    TestDatabase(url=backend.url, name=backend.pg_name).migrate()
    hook._seed()
    backend.figures["sql"] = _count_sql(tmp)
    dispose_engines()
    env = {**os.environ, **hook.SETTINGS_ENV, "DATABASE_URL": backend.url, "PYTHONPATH": str(hook.ROOT)}
    server = _start_server(env, tmp)
    try:
        port = server.port
        bare_files = {name: _write_requests(tmp / f"{name}.req", port, 2000, target=path)
                      for name, path in (("bare", BARE_PATH), ("bare_app", BARE_APP_PATH))}
        warm = hook._saturate(port, _write_requests(tmp / "warm.req", port, 3000), tmp, 2)
        series: dict[str, list[hook.Saturation]] = {"bare": [], "bare_app": [], "hook": [], "ahead": [],
                                                    "incoming": []}
        per_round = max(4000, int(warm.rps * SATURATE_SECONDS * 2.5))
        for i in range(ROUNDS):
            for name, file in bare_files.items():
                series[name].append(hook._saturate(port, file, tmp, SATURATE_SECONDS))
            requests = _write_requests(tmp / f"hook{i}.req", port, per_round)
            before = _bridged()
            result = hook._saturate(port, requests, tmp, SATURATE_SECONDS)
            result.rows = _bridged() - before
            series["hook"].append(result)
            ahead = _write_requests(tmp / f"ahead{i}.req", port, 2 * per_round, target=AHEAD_PATH)
            series["ahead"].append(hook._saturate(port, ahead, tmp, SATURATE_SECONDS))
            incoming = hook._write_requests(tmp / f"incoming{i}.req", port, per_round)
            series["incoming"].append(hook._saturate(port, incoming, tmp, SATURATE_SECONDS))
        paced_file = _write_requests(tmp / "paced.req", port, hook.PACED_RATE * hook.PACED_SECONDS)
        before = _bridged()
        paced = hook._paced(port, paced_file)
        paced_rows = _bridged() - before
        paced_ahead = hook._paced(port, _write_requests(tmp / "paced-ahead.req", port,
                                                        hook.PACED_RATE * hook.PACED_SECONDS, target=AHEAD_PATH))
    finally:
        server.stop()
        dispose_engines()
    backend.figures.update(series, paced=paced, paced_rows=paced_rows, paced_ahead=paced_ahead)
    backend.figures["load"].append(hook._load())


def _row(b: hook.Backend) -> str:
    m, f = hook._summary(b), b.figures
    runs = ", ".join(f"{r.rps:,.0f}" for r in f["hook"])
    ahead, lat = hook._median_rps(f["ahead"]), f["paced_ahead"]["latencies_ms"]
    incoming = hook._median_rps(f["incoming"])
    return (f"| {b.label} | {m['bare']:,.0f} | {m['bare_app']:,.0f} | {m['hook']:,.0f} ({runs}) | "
            f"{ahead:,.0f} ({ahead / m['bare_app']:.2f}×; p99 {hook._percentile(lat, 99):.1f} ms) | "
            f"{incoming:,.0f} ({incoming / m['bare_app']:.2f}×) | "
            f"{m['ratio']:.2f}× / {m['ratio_app']:.2f}× | {m['p50']:.1f} / {m['p95']:.1f} / {m['p99']:.1f} | "
            f"{f['paced']['achieved_rate']:.0f} | {hook._sql(f['sql'])} | {hook._sql(f['sql']['together'])} |")


def _checks(b: hook.Backend) -> str:
    f = b.figures
    bad = (sum(r.bad for k in ("bare", "bare_app", "hook", "ahead", "incoming") for r in f[k]) + f["paced"]["bad"]
           + f["paced_ahead"]["bad"])
    return (f"- {b.label}: answers that were not a 200 `<Dial>`: {bad}; requests reused after the file ran out: "
            f"{sum(r.wrapped for r in f['hook'])}; sessions bridged / answers per saturating run: "
            f"{', '.join(f'{r.rows}/{r.requests}' for r in f['hook'])}; paced: {f['paced_rows']} sessions bridged "
            f"for {len(f['paced']['latencies_ms'])} answers, slowest {max(f['paced']['latencies_ms']):.1f} ms; "
            f"load average before/after {f['load'][0]} / {f['load'][1]}; statements seen: "
            f"{'; '.join(f'`{k}…`' for k in f['sql']['kinds'])}.")


def _ahead_verdict(b: hook.Backend) -> str:
    f = b.figures
    ratio = hook._median_rps(f["ahead"]) / hook._median_rps(f["bare_app"])
    p99 = hook._percentile(f["paced_ahead"]["latencies_ms"], 99)
    met = ratio >= 0.5 and p99 <= 20
    return (f"- {b.label}, dispatched ahead of FastAPI: {ratio:.2f}× the bare route, p99 {p99:.1f} ms at "
            f"{hook.PACED_RATE}/s: {'targets met' if met else 'a target missed'}.")


def main() -> str:
    from tests.support.databases import create_postgres_database, drop_postgres_database, postgres_available
    from voice_platform.settings import reset_settings_cache

    saved = dict(os.environ)
    tmp = Path(tempfile.mkdtemp(prefix="bench-outbound-"))
    backends = [hook.Backend("SQLite (file, WAL)", f"sqlite:///{tmp / 'bench.db'}")]
    try:
        if postgres_available():
            name, url = create_postgres_database("vp_bench")
            backends.append(hook.Backend("PostgreSQL", url, pg_name=name))
        for backend in backends:
            print(f"  outbound webhook on {backend.label} ...", flush=True)
            _measure(backend, tmp)
    finally:
        for backend in backends:
            if backend.pg_name:
                drop_postgres_database(backend.pg_name)
        os.environ.clear()
        os.environ.update(saved)
        reset_settings_cache()
        shutil.rmtree(tmp, ignore_errors=True)
    client = "`wrk` (one thread, the pre-signed requests)" if shutil.which("wrk") else "bench/webhook_client.py"
    rows = "\n".join(_row(b) for b in backends)
    verdicts = hook._verdicts(backends).replace("webhook", "outbound webhook")
    verdicts += "\n" + "\n".join(_ahead_verdict(b) for b in backends)
    return f"""## Twilio outbound answer webhook (`bench/bench_outbound_webhook.py`)

`POST {OUTBOUND}?session=<id>` (the callee answered: signature over the URL and its query, one
conditional UPDATE that finds the pending outbound session and attaches the CallSid, the
`<Dial><Sip>` TwiML; answers waiting together settled by one autocommitted statement on a thread of
their own, `services/outbound_answers.py`), served by granian (one worker) on loopback through the
app's router as a plain ASGI endpoint (FastAPI's middleware and router walk are paid, its request
objects and dependency solving are not), against the bare ASGI callable and the bare route of
`bench/webhook_app.py` in the same worker. Each request answers a session of its own (inserted
beforehand as placing a call leaves it) with a new CallSid and a valid signature. Saturation:
{client}, {hook.CONNECTIONS} connections, {SATURATE_SECONDS} s per run, the five endpoints (bare ASGI,
bare route, webhook, webhook dispatched ahead, incoming webhook) alternated {ROUNDS} times, median
(webhook runs in brackets). Latency: open loop at {hook.PACED_RATE}/s for {hook.PACED_SECONDS} s. SQL per
answer counted at the driver (statements + BEGIN/COMMIT + pool ping), {SQL_SAMPLE} answers one after
the other (the writer gives its connection back between them, hence the ping) and {SQL_SAMPLE} at once.

| database | bare ASGI (req/s) | bare route (req/s) | webhook (req/s) | dispatched ahead of FastAPI (req/s, vs route; p99 at {hook.PACED_RATE}/s) | incoming webhook, same rounds (req/s, vs route) | ratio vs ASGI / route | p50 / p95 / p99 at {hook.PACED_RATE}/s (ms) | achieved (/s) | SQL alone | SQL, {SQL_SAMPLE} at once |
|---|---|---|---|---|---|---|---|---|---|---|
{rows}

Targets (the inbound webhook's): ≥ 0.5× the bare route, p99 ≤ 20 ms at {hook.PACED_RATE}/s, ≤ 3 statements.
"Dispatched ahead": the same endpoint (`voice.outbound_app`) handed the request before FastAPI's
layers, as `api/app.py` does for the incoming webhook (`bench/outbound_app.py`), measured in the
same rounds: what that routing would add. The incoming webhook, saturated in the same rounds on the
same server, is the reference for what this machine gave at the time.

{verdicts}

Checks:
{chr(10).join(_checks(b) for b in backends)}
"""


if __name__ == "__main__":
    print(main())
