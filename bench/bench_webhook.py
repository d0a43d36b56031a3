"""Twilio's incoming-call webhook under load, against bare endpoints served by the same worker.

The real webhook (signature check, agent lookup, session upsert, TwiML) runs in granian
(one worker, ``--interface asgi``) on loopback, beside two bare endpoints of
``bench/webhook_app.py`` answering a static TwiML document of the same shape from the same
process: a raw ASGI callable (granian's ceiling) and a plain route of the app beside the
webhook (what any endpoint there pays). Their ratios are what our code costs. Every webhook request
carries a new CallSid and a valid signature, all computed before the load starts, so the
client only writes bytes:

- saturation: ``wrk`` (C, one thread, 64 keep-alive connections, a Lua script serving the
  pre-signed requests and checking every answer), the three endpoints alternated three
  times, median kept. Without ``wrk`` (``apt-get install -y wrk``) the Python client of
  ``bench/webhook_client.py`` does it, less efficiently, and the section says so.
- latency: ``bench/webhook_client.py`` in its own process, open loop at 400 calls/s for
  10 s, each latency counted from the request's due time (no coordinated omission).
- SQL per webhook: a SQLAlchemy ``before_cursor_execute`` listener (plus ``commit`` and
  pool ``checkout`` events) in this process, on requests through the same ASGI app.

The embedded SQLite file and PostgreSQL (a throwaway database, when reachable) are both
migrated with Alembic and seeded through the services. Targets (issue): webhook
throughput >= 0.5x bare, p99 <= 20 ms at 400 calls/s, <= 3 SQL statements per webhook.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
CONNECTIONS = 64
SATURATE_SECONDS = 5
ROUNDS = 3
PACED_RATE = 400
PACED_SECONDS = 10
SQL_SAMPLE = 20
READY_SECONDS = 60

TOKEN = "bench-twilio-auth-token-0123456789abcdef"
PUBLIC = "https://voice.example.com"
PHONE = "+14155550100"
INCOMING = "/api/v1/voice/twilio/incoming"
SETTINGS_ENV = {
    "TWILIO_AUTH_TOKEN": TOKEN,
    "PUBLIC_BASE_URL": PUBLIC,
    "LIVEKIT_SIP_DOMAIN": "bench.sip.livekit.cloud",
    "LIVEKIT_SIP_USERNAME": "twilio-in",
    "LIVEKIT_SIP_PASSWORD": "bench-password",
    "SECRET_KEY": "bench-secret-key-" + "x" * 40,
    "ENVIRONMENT": "development",
    "OTEL_SDK_DISABLED": "true",
}

_LUA = r"""
local threads, count = {}, 0
function setup(thread)
  count = count + 1
  thread:set("id", count)
  table.insert(threads, thread)
end
function init(args)
  local f = assert(io.open(args[1], "rb"))
  local data = f:read("*a")
  f:close()
  local n = tonumber(args[2])
  reqs, idx, bad, wrapped = {}, 0, 0, 0
  local i = 0
  for r in string.gmatch(data, "[^|]+") do
    if i % n == id - 1 then reqs[#reqs + 1] = r end
    i = i + 1
  end
end
function request()
  idx = idx + 1
  if idx > #reqs then idx, wrapped = 1, wrapped + 1 end
  return reqs[idx]
end
function response(status, headers, body)
  if status ~= 200 or not string.find(body, "<Dial", 1, true) then bad = bad + 1 end
end
function done(summary, latency, requests)
  local b, w = 0, 0
  for _, t in ipairs(threads) do b, w = b + t:get("bad"), w + t:get("wrapped") end
  io.write(string.format("BENCH requests=%d bad=%d wrapped=%d p50=%.3f p99=%.3f\n",
    summary.requests, b, w, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


# ---------------------------------------------------------------- requests


def _twilio_params(call_sid: str) -> dict[str, str]:
    """What Twilio posts for an inbound call (the documented parameters, geography included)."""
    return {
        "AccountSid": "AC" + "0" * 32, "ApiVersion": "2010-04-01", "CallSid": call_sid, "CallStatus": "ringing",
        "Called": PHONE, "CalledCity": "SAN FRANCISCO", "CalledCountry": "US", "CalledState": "CA", "CalledZip": "94105",
        "Caller": "+15550001111", "CallerCity": "OAKLAND", "CallerCountry": "US", "CallerState": "CA", "CallerZip": "94601",
        "Direction": "inbound", "From": "+15550001111", "FromCity": "OAKLAND", "FromCountry": "US", "FromState": "CA",
        "FromZip": "94601", "To": PHONE, "ToCity": "SAN FRANCISCO", "ToCountry": "US", "ToState": "CA", "ToZip": "94105",
    }


def _raw(path: str, port: int, params: dict[str, str], signature: str) -> bytes:
    body = urlencode(params)
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"X-Twilio-Signature: {signature}\r\nContent-Length: {len(body)}\r\n\r\n{body}").encode()


def _write_requests(path: Path, port: int, count: int, *, target: str = INCOMING) -> Path:
    """``count`` signed incoming calls, each with a new CallSid (bare targets: the same bytes, other path)."""
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(TOKEN)
    chunks = []
    for _ in range(count):
        params = _twilio_params("CA" + uuid.uuid4().hex)
        signature = validator.compute_signature(PUBLIC + INCOMING, params)
        chunks.append(_raw(target, port, params, signature))
    path.write_bytes(b"|".join(chunks))
    return path


# ---------------------------------------------------------------- server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    proc: subprocess.Popen
    port: int
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # its own process group: granian and its worker
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def _start_server(env: dict[str, str], tmp: Path) -> Server:
    port = _free_port()
    log = tmp / f"granian-{port}.log"
    granian = Path(sys.executable).with_name("granian")
    cmd = [str(granian), "--interface", "asgi", "--workers", "1", "--host", "127.0.0.1", "--port", str(port),
           "--no-ws", "--log-level", "warning", "bench.webhook_app:app"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(proc, port, log)
    try:
        _wait_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server: Server) -> None:
    import http.client

    from bench.webhook_app import BARE_PATH

    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=2)
            conn.request("POST", BARE_PATH, body=b"")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        try:  # the poll interval, and a server that died is reported at once
            server.proc.wait(0.05)
            raise RuntimeError(f"granian exited with {server.proc.returncode}: {server.log.read_text()[-2000:]}")
        except subprocess.TimeoutExpired:
            pass
    raise RuntimeError(f"granian not answering after {READY_SECONDS} s: {server.log.read_text()[-2000:]}")


# ---------------------------------------------------------------- load


@dataclass
class Saturation:
    rps: float
    requests: int
    bad: int
    wrapped: int
    p50_ms: float = math.nan
    p99_ms: float = math.nan
    rows: int = 0  # call sessions written during the run (webhook runs)


def _wrk(port: int, requests: Path, tmp: Path, seconds: float) -> Saturation:
    script = tmp / "webhook.lua"
    script.write_text(_LUA)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script),
         f"http://127.0.0.1:{port}", "--", str(requests), "1"],
        capture_output=True, text=True, timeout=seconds + 60, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])
    m = re.search(r"BENCH requests=(\d+) bad=(\d+) wrapped=(\d+) p50=([\d.]+) p99=([\d.]+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    bad = int(m[2]) + (sum(int(n) for n in re.findall(r"\d+", errors[1])) if errors else 0)
    return Saturation(rps, int(m[1]), bad, int(m[3]), float(m[4]), float(m[5]))


def _python_closed(port: int, requests: Path, seconds: float) -> Saturation:
    out = subprocess.run(
        [sys.executable, "-m", "bench.webhook_client", "closed", "127.0.0.1", str(port), str(requests),
         str(CONNECTIONS), str(seconds)], cwd=ROOT, capture_output=True, text=True, timeout=seconds + 60, check=True,
    ).stdout
    r = json.loads(out)
    return Saturation(r["requests"] / r["seconds"], r["requests"], r["bad"], 0)


def _saturate(port: int, requests: Path, tmp: Path, seconds: float) -> Saturation:
    if shutil.which("wrk"):
        return _wrk(port, requests, tmp, seconds)
    return _python_closed(port, requests, seconds)


def _paced(port: int, requests: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.webhook_client", "paced", "127.0.0.1", str(port), str(requests),
         str(PACED_RATE), str(CONNECTIONS)], cwd=ROOT, capture_output=True, text=True, timeout=PACED_SECONDS + 120,
        check=True,
    ).stdout
    return json.loads(out)


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


# ---------------------------------------------------------------- database


@dataclass
class Backend:
    label: str
    url: str
    pg_name: str | None = None
    figures: dict = field(default_factory=dict)


def _session_count() -> int:
    from sqlalchemy import text

    from voice_platform.db import get_engine

    with get_engine().connect() as conn:
        return conn.execute(text("SELECT count(*) FROM call_sessions")).scalar_one()


def _settled_count() -> int:
    """The session count once the server has finished the work still queued when the client stopped."""
    deadline, last = time.monotonic() + 30, -1
    while time.monotonic() < deadline:
        count = _session_count()
        if count == last:
            return count
        last = count
        time.sleep(0.2)  # quiescence check between two reads, not a readiness wait
    return last


def _seed() -> None:
    """One organization and its active agent through the services; its number put in the
    organization's inventory and on the agent with SQL (through the services that would also
    sync LiveKit's inbound trunk, which is not what is measured here). Nothing in the bench hangs
    up, so every call keeps its concurrency slot: the throwaway database's plans get no
    concurrency limit and no minute cap (the slot is still taken, in the same statement), or
    after a few calls every answer would be "all our lines are busy" instead of the ``<Dial>``."""
    from sqlalchemy import update

    from voice_platform.db import session_scope
    from voice_platform.models import Plan, VoiceAgent
    from voice_platform.models.numbers import PhoneNumber
    from voice_platform.services import agents, auth

    with session_scope() as session:
        signed, org = auth.signup(session, email=f"bench-{uuid.uuid4().hex[:8]}@example.com",
                                  password="bench password 123", organization_name="Bench")
        agent = agents.create_agent(session, signed.user, org.id, {"name": "Bench agent", "is_active": True})
        session.add(PhoneNumber(organization_id=org.id, e164=PHONE))
        session.flush()
        session.execute(update(VoiceAgent).where(VoiceAgent.id == agent.id).values(phone_number=PHONE))
        session.execute(update(Plan).values(max_concurrent_calls=2_000_000_000, minute_cap=None))


def _own_sessions(answered: list[tuple[str, str]]) -> bool:
    """Every answer dials the session of its own CallSid (calls written together must not be mixed up)."""
    from sqlalchemy import select

    from voice_platform.db import get_engine
    from voice_platform.models import CallSession

    with get_engine().connect() as conn:
        rows = conn.execute(select(CallSession.provider_call_id, CallSession.id)
                            .where(CallSession.provider_call_id.in_([sid for sid, _ in answered]))).all()
    return {sid: str(sid_id) for sid, sid_id in rows} == dict(answered)


class _Wire:
    """Every statement the server is sent, counted at the driver: PostgreSQL through libpq's own
    protocol trace (each simple ``Query`` and each extended-protocol ``Bind`` is one statement
    executed; a ``Parse`` names the text of the statements bound after it), SQLite through
    ``sqlite3``'s trace callback (which also sees the driver's implicit ``BEGIN``). Installed on
    every connection the engine opens from now on; ``take()`` reads and resets what was seen."""

    def __init__(self, engine, tmp: Path) -> None:
        from sqlalchemy import event

        self.engine, self.tmp, self.files, self.sqlite = engine, tmp, [], []
        engine.dispose()  # connections opened before were not traced
        event.listen(engine, "connect", self._on_connect)

    def _on_connect(self, dbapi_conn, _record) -> None:
        if hasattr(dbapi_conn, "set_trace_callback"):
            dbapi_conn.set_trace_callback(self.sqlite.append)
            return
        import psycopg

        trace = (self.tmp / f"libpq-{uuid.uuid4().hex}.trace").open("wb")
        self.files.append(trace)
        dbapi_conn.pgconn.trace(trace.fileno())
        dbapi_conn.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE)

    def take(self) -> list[str]:
        """The statements sent since the last ``take``, as their first words (connections closed first)."""
        self.engine.dispose()
        statements = [" ".join(sql.split()) for sql in self.sqlite if not sql.startswith("PRAGMA")]
        self.sqlite.clear()
        for trace in self.files:
            trace.close()
            names: dict[str, str] = {}
            # One message per "F|B <tab> length <tab> type <tab> ..." (a query's text may hold newlines).
            for message in re.split(r"\n(?=[FB]\t\d+\t)", Path(trace.name).read_text(errors="replace")):
                parts = message.split("\t", 3)
                if len(parts) < 4 or parts[0] != "F":
                    continue
                kind, rest = parts[2], parts[3].strip()
                if kind == "Query":
                    statements.append(rest.strip('"'))
                elif kind == "Parse":  # "name" "text" nparams oids...
                    found = re.match(r'"([^"]*)" "(.*)" \d+', rest, re.S)
                    names[found[1]] = " ".join(found[2].split())
                elif kind == "Bind":  # "portal" "statement" ...
                    statements.append(names.get(rest.split(" ")[1].strip('"'), "?"))
            Path(trace.name).unlink()
        self.files.clear()
        return statements

    def close(self) -> None:
        from sqlalchemy import event

        self.take()
        event.remove(self.engine, "connect", self._on_connect)


def _classify(statements: list[str], calls: int) -> dict:
    """Per call: statements, transaction control (BEGIN/COMMIT) and pings (the pool's pre-ping on checkout)."""
    control = [s for s in statements if s.split(" ")[0].upper() in ("BEGIN", "COMMIT", "ROLLBACK")]
    pings = [s for s in statements if s.strip().upper() in (";", "SELECT 1", "SELECT 1;")]  # SQLAlchemy's pre-ping
    work = [s for s in statements if s not in control and s not in pings]
    return {"statements": len(work) / calls, "commits": len(control) / calls, "pings": len(pings) / calls,
            "kinds": sorted({re.match(r"\S+(?: [\w.]+){0,2}", s)[0] for s in work})}


def _count_sql(tmp: Path) -> dict:
    """SQL per webhook, counted at the driver (``_Wire``), through the same ASGI app granian serves:
    calls one after the other (each written alone) and ``SQL_SAMPLE`` calls at once (written together)."""
    import httpx
    from twilio.request_validator import RequestValidator

    from bench.webhook_app import app
    from voice_platform.db import get_engine

    validator = RequestValidator(TOKEN)

    async def post(client) -> tuple[str, str]:
        params = _twilio_params("CA" + uuid.uuid4().hex)
        r = await client.post(INCOMING, content=urlencode(params), headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": validator.compute_signature(PUBLIC + INCOMING, params)})
        assert r.status_code == 200 and "<Dial" in r.text, r.text
        return params["CallSid"], re.search(r"X-Vp-Session=([0-9a-f-]{36})", r.text)[1]

    async def post_calls(n: int, at_once: bool) -> list[tuple[str, str]]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
            if at_once:
                return list(await asyncio.gather(*(post(client) for _ in range(n))))
            return [await post(client) for _ in range(n)]

    wire = _Wire(get_engine(), tmp)
    try:
        asyncio.run(post_calls(3, False))  # warm: compiled statements, caches
        wire.take()
        alone = _classify(_sent(wire, post_calls, False), SQL_SAMPLE)
        together = _classify(_sent(wire, post_calls, True), SQL_SAMPLE)
    finally:
        wire.close()
    return {**alone, "together": together}


def _sent(wire: _Wire, post_calls, at_once: bool) -> list[str]:
    answered = asyncio.run(post_calls(SQL_SAMPLE, at_once))
    statements = wire.take()
    assert _own_sessions(answered), "a call dialed another call's session"
    wire.take()  # what _own_sessions itself read
    return statements


# ---------------------------------------------------------------- one backend


def _measure(backend: Backend, tmp: Path) -> None:
    from bench.webhook_app import BARE_APP_PATH, BARE_PATH
    from tests.support.databases import TestDatabase
    from voice_platform.db import dispose_engines
    from voice_platform.settings import reset_settings_cache

    backend.figures["load"] = [_load()]
    os.environ.update(SETTINGS_ENV, DATABASE_URL=backend.url)
    reset_settings_cache()
    dispose_engines()
    TestDatabase(url=backend.url, name=backend.pg_name).migrate()
    _seed()
    backend.figures["sql"] = _count_sql(tmp)
    dispose_engines()

    env = {**os.environ, **SETTINGS_ENV, "DATABASE_URL": backend.url, "PYTHONPATH": str(ROOT)}
    server = _start_server(env, tmp)
    try:
        port = server.port
        bare_files = {name: _write_requests(tmp / f"{name}.req", port, 2000, target=path)
                      for name, path in (("bare", BARE_PATH), ("bare_app", BARE_APP_PATH))}
        warm = _saturate(port, _write_requests(tmp / "warm.req", port, 5000), tmp, 2)
        for file in bare_files.values():
            _saturate(port, file, tmp, 1)
        per_round = max(5000, int(warm.rps * SATURATE_SECONDS * 2))
        series: dict[str, list[Saturation]] = {"bare": [], "bare_app": [], "hook": []}
        for i in range(ROUNDS):
            for name, file in bare_files.items():
                series[name].append(_saturate(port, file, tmp, SATURATE_SECONDS))
            requests = _write_requests(tmp / f"hook{i}.req", port, per_round)
            before = _settled_count()
            result = _saturate(port, requests, tmp, SATURATE_SECONDS)
            result.rows = _settled_count() - before
            series["hook"].append(result)
        paced_file = _write_requests(tmp / "paced.req", port, PACED_RATE * PACED_SECONDS)
        before = _settled_count()
        paced = _paced(port, paced_file)
        paced_rows = _settled_count() - before
    finally:
        server.stop()
        dispose_engines()
    backend.figures.update(series, paced=paced, paced_rows=paced_rows)
    backend.figures["load"].append(_load())


def _load() -> str:
    """The 1-minute load average: other processes on the machine move every figure here."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


# ---------------------------------------------------------------- report


def _median_rps(runs: list[Saturation]) -> float:
    return statistics.median(r.rps for r in runs)


def _summary(b: Backend) -> dict:
    f = b.figures
    lat = f["paced"]["latencies_ms"]
    sql = f["sql"]
    hook = _median_rps(f["hook"])
    return {
        "bare": _median_rps(f["bare"]), "bare_app": _median_rps(f["bare_app"]), "hook": hook,
        "ratio": hook / _median_rps(f["bare"]), "ratio_app": hook / _median_rps(f["bare_app"]),
        "p50": _percentile(lat, 50), "p95": _percentile(lat, 95), "p99": _percentile(lat, 99),
        "statements": max(sql["statements"], sql["together"]["statements"]),
        "everything": max(sql["statements"] + sql["commits"] + sql["pings"],
                          sql["together"]["statements"] + sql["together"]["commits"] + sql["together"]["pings"]),
    }


def _row(b: Backend) -> str:
    m, sql = _summary(b), b.figures["sql"]
    return (f"| {b.label} | {m['bare']:,.0f} | {m['bare_app']:,.0f} | {m['hook']:,.0f} | "
            f"{m['ratio']:.2f}× / {m['ratio_app']:.2f}× | {m['p50']:.1f} / {m['p95']:.1f} / {m['p99']:.1f} | "
            f"{b.figures['paced']['achieved_rate']:.0f} | {_sql(sql)} | {_sql(sql['together'])} |")


def _sql(count: dict) -> str:
    return f"{count['statements']:g} + {count['commits']:g} + {count['pings']:g}"


def _checks(b: Backend) -> str:
    f = b.figures
    bad = sum(r.bad for k in ("bare", "bare_app", "hook") for r in f[k]) + f["paced"]["bad"]
    wrapped = sum(r.wrapped for r in f["hook"])

    def runs(key: str) -> str:
        return ", ".join(f"{r.rps:,.0f}" for r in f[key])

    saturated = statistics.median(r.p99_ms for r in f["hook"])
    latency = ("" if math.isnan(saturated) else f" (wrk's p50/p99 latency while saturated "
               f"{statistics.median(r.p50_ms for r in f['hook']):.1f}/{saturated:.1f} ms)")
    return (f"- {b.label}: runs (req/s) bare ASGI {runs('bare')}; bare route {runs('bare_app')}; webhook "
            f"{runs('hook')}{latency}. Sessions written / webhook answers counted by the client per run: "
            f"{', '.join(f'{r.rows}/{r.requests}' for r in f['hook'])} (the client does not count the requests "
            f"in flight when it stops). 1-min load average before/after: {f['load'][0]} / {f['load'][1]}. "
            f"Paced: {len(f['paced']['latencies_ms'])} answers, "
            f"{f['paced_rows']} sessions written, slowest {max(f['paced']['latencies_ms']):.1f} ms. Answers that were "
            f"not a 200 `<Dial>`: {bad}; CallSids reused: {wrapped}. {SQL_SAMPLE} calls at once each dialed the "
            "session of its own CallSid: yes (checked). Statements seen: "
            f"{'; '.join(f'`{k}…`' for k in f['sql']['kinds'])}.")


def _verdicts(backends: list[Backend]) -> str:
    lines = []
    for b in backends:
        m = _summary(b)
        if m["ratio_app"] < 0.5:
            lines.append(f"- {b.label}: throughput target missed: the webhook reaches {m['ratio_app']:.3f}× the bare "
                         "route beside it, not 0.5×.")
        if m["ratio"] < 0.5:
            lines.append(f"- {b.label}: against the bare ASGI callable the webhook reaches {m['ratio']:.2f}× (not "
                         f"0.5×): FastAPI alone (the bare route) runs at {m['bare_app'] / m['bare']:.2f}× of it.")
        if m["p99"] > 20:
            lines.append(f"- {b.label}: latency target missed: p99 at {PACED_RATE}/s is {m['p99']:.1f} ms, over 20 ms.")
        if m["statements"] > 3:
            lines.append(f"- {b.label}: SQL target missed: {m['statements']:g} statements per webhook, over 3.")
        else:
            lines.append(f"- {b.label}: {m['statements']:g} SQL statement(s) per webhook (target ≤ 3: met); with "
                         f"transaction control and the pool's ping, at most {m['everything']:g} messages to the "
                         "database per call (a call written alone: its statements + BEGIN/COMMIT + ping).")
    return "\n".join(lines) or "- Every target is met on every database measured."


def main() -> str:
    from tests.support.databases import create_postgres_database, drop_postgres_database, postgres_available

    saved = dict(os.environ)
    tmp = Path(tempfile.mkdtemp(prefix="bench-webhook-"))
    backends = [Backend("SQLite (file, WAL)", f"sqlite:///{tmp / 'bench.db'}")]
    try:
        if postgres_available():
            name, url = create_postgres_database("vp_bench")
            backends.append(Backend("PostgreSQL", url, pg_name=name))
        for backend in backends:
            print(f"  webhook on {backend.label} ...", flush=True)
            _measure(backend, tmp)
    finally:
        for backend in backends:
            if backend.pg_name:
                drop_postgres_database(backend.pg_name)
        os.environ.clear()
        os.environ.update(saved)
        from voice_platform.settings import reset_settings_cache

        reset_settings_cache()
        shutil.rmtree(tmp, ignore_errors=True)
    from bench.webhook_app import BARE_APP_PATH as BARE_APP

    client = ("`wrk` 4.1 (one thread, a Lua script serving the pre-signed requests)" if shutil.which("wrk")
              else "the Python client of `bench/webhook_client.py` (closed loop; `wrk` was not installed)")
    rows = "\n".join(_row(b) for b in backends)
    return f"""## Twilio incoming-call webhook (`bench/bench_webhook.py`)

`POST {INCOMING}` served by granian (one worker, `--interface asgi`) on loopback, against two
bare endpoints in the same worker answering a static `<Dial>` TwiML document of the same shape
after reading the body (`bench/webhook_app.py`): a raw ASGI callable in front of the app (what
granian itself costs) and a plain route of the app beside the webhook, `{BARE_APP}` (FastAPI's
middleware, its walk through the nested routers, request and response objects: what any endpoint
of the app pays besides its own code). The target is judged against the latter. The webhook itself
is answered ahead of those layers (`api/app.py` hands its path to `voice.incoming_app`), which is
how it can outrun the bare route.
Every webhook request is an inbound call with the 25 parameters Twilio posts, a new CallSid and
a valid `X-Twilio-Signature`, signed before the load starts; every answer is checked to be a
200 `<Dial>` document and every call a written session.
Saturation: {client}, {CONNECTIONS} keep-alive connections, {SATURATE_SECONDS} s per run, the three
endpoints alternated {ROUNDS} times, median shown. Latency: `bench/webhook_client.py` in its own
process, open loop at {PACED_RATE} calls/s for {PACED_SECONDS} s, each latency counted from the call's due
time. SQL per webhook, counted in-process through the same app over {SQL_SAMPLE} calls made one after the
other and {SQL_SAMPLE} calls made at once, at the driver (every statement the server is sent:
PostgreSQL through libpq's protocol trace, each `Query` or `Bind` message; SQLite through
`sqlite3`'s trace callback), as statements + transaction control (BEGIN, COMMIT) + ping (the
pool's pre-ping on checkout). On PostgreSQL a call written alone is one autocommitted statement;
calls waiting together are written in one transaction, sent in one round trip. SQLite writes a
call in a transaction of two statements. The load
generator, the server and PostgreSQL share the machine's {os.cpu_count()} cores, and other
processes ran on it too (load averages below), so compare figures within a row.

| database | bare ASGI (req/s) | bare route (req/s) | webhook (req/s) | ratio vs ASGI / route | p50 / p95 / p99 at {PACED_RATE}/s (ms) | achieved (/s) | SQL per call alone | SQL per call, {SQL_SAMPLE} at once |
|---|---|---|---|---|---|---|---|---|
{rows}

Targets: webhook ≥ 0.5× bare, p99 ≤ 20 ms at {PACED_RATE} calls/s, ≤ 3 SQL statements per webhook.

{_verdicts(backends)}

Checks:
{chr(10).join(_checks(b) for b in backends)}
"""


if __name__ == "__main__":
    print(main())
