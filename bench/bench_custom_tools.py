"""Custom tools: what one model call of a custom function costs over calling the service directly.

Two loopback servers from the tests (``tests/fakes``): a small HTTP API (``/orders/{id}``, a JSON body
of ~100 bytes) and a real MCP server (the ``mcp`` SDK's, streamable HTTP). For each, in the same
process and event loop, alternating blocks after warm-up:

- baseline: the request made directly (one reused ``httpx.AsyncClient``; one reused ``mcp``
  ``ClientSession``);
- ``execute()``: the runtime's request alone (SSRF guard, answer handling), no wrapper, no record;
- ours: the full path a model's call takes: the ``RawFunctionTool`` returned by ``tool_calls.guard``
  around the custom function (as ``agent._guarded_tools`` builds it, with the real
  ``ConversationRecorder.tool_invocation`` writing the row to PostgreSQL), called like LiveKit calls
  a tool (``prepare_function_arguments`` with a ``RunContext``, then the call).

``runnable_for_agent`` (the database read of an agent's custom tools, once per conversation) is
timed separately.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid

WARMUP = 50
ROUNDS = 3
PER_ROUND = 300
LOOKUPS = 200
HTTP_TARGET_MS = 5.0
MCP_TARGET_MS = 10.0


def _pcts(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))]

    return statistics.median(ordered), at(0.95), at(0.99)


def _seed(http_url: str, mcp_url: str) -> tuple[uuid.UUID, uuid.UUID, dict[uuid.UUID, str]]:
    from sqlmodel import select

    from voice_platform.db import session_scope
    from voice_platform.models import PlatformTool
    from voice_platform.services import agents, auth, calls, custom_tools, tools as tool_service

    with session_scope() as session:
        signed, org = auth.signup(session, email=f"bench-{uuid.uuid4().hex[:8]}@example.com",
                                  password="bench password 123", organization_name="Bench shop")
        agent = agents.create_agent(session, signed.user, org.id, {
            "name": "Bench agent", "phone_number": "+14155550101", "greeting": "Hello!",
            "system_prompt": "You answer questions about orders."})
        http = custom_tools.create_custom_tool(session, signed.user, org.id, {
            "kind": "http", "name": "Order status", "description": "Where an order is", "method": "GET",
            "url": http_url, "headers": {"X-Api-Key": "bench-http-secret-1234"}, "timeout_seconds": 5,
            "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}},
                           "required": ["order_id"]}})
        mcp = custom_tools.create_custom_tool(session, signed.user, org.id, {
            "kind": "mcp", "name": "Shop", "description": "The shop's orders", "url": mcp_url,
            "headers": {"Authorization": "Bearer bench-mcp-secret-5678"}})
        for view in (http, mcp):
            tool_service.attach_tool(session, signed.user, agent.id, tool_id=view.tool_id)
        agent_id = agent.id
    with session_scope() as session:
        routed = calls.open_phone_session(session, call_sid="CA" + uuid.uuid4().hex, from_number="+15550001111",
                                          to_number="+14155550101")
        names = {t.id: t.name for t in session.exec(select(PlatformTool).where(PlatformTool.organization_id.is_not(None))).all()}
    return agent_id, routed.session_id, names


def _lookup(agent_id: uuid.UUID):
    from voice_platform.db import session_scope
    from voice_platform.services.custom_tools import runnable_for_agent

    with session_scope() as session:
        return runnable_for_agent(session, agent_id)


async def _alternate(variants: dict[str, callable]) -> dict[str, list[float]]:
    """Warm-up, then ``ROUNDS`` rounds of ``PER_ROUND`` calls per variant, the order rotating each round."""
    for fn in variants.values():
        for _ in range(WARMUP):
            await fn()
    out: dict[str, list[float]] = {k: [] for k in variants}
    keys = list(variants)
    for r in range(ROUNDS):
        order = keys[r % len(keys):] + keys[:r % len(keys)]
        for key in order:
            fn = variants[key]
            for _ in range(PER_ROUND):
                t0 = time.perf_counter()
                await fn()
                out[key].append((time.perf_counter() - t0) * 1000)
    return out


async def _run(agent_id: uuid.UUID, session_id: uuid.UUID, names: dict, http_api, mcp_server) -> dict:
    import httpx
    from livekit.agents import RunContext
    from livekit.agents.llm.utils import prepare_function_arguments
    from mcp.client.session import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    from voice_platform.runtime.agent import _recorded_as
    from voice_platform.runtime.circuit_breaker import CallLimit, CircuitBreaker
    from voice_platform.runtime.custom_tools import CustomToolCalls, custom_function_tools, execute
    from voice_platform.runtime.recorder import ConversationRecorder
    from voice_platform.runtime.tool_calls import guard

    # the DB lookup, once per conversation in real life; timed on its own
    lookup_ms = []
    for i in range(LOOKUPS + 10):
        t0 = time.perf_counter()
        runnable = await asyncio.to_thread(_lookup, agent_id)
        if i >= 10:
            lookup_ms.append((time.perf_counter() - t0) * 1000)
    by_kind = {t.kind: t for t in runnable}
    assert set(by_kind) == {"http", "mcp"}, by_kind

    # the conversation's path, as assembly + agent._guarded_tools build it; the per-conversation
    # call limit (20 per function) is lifted, or the benchmark would stop after 20 calls
    calls = CustomToolCalls(breaker=CircuitBreaker(), limit=CallLimit(limit=10**9))
    recorder = ConversationRecorder(session_id)
    guarded = {}
    for custom in custom_function_tools(runnable, calls, catalogue_names=names):
        guarded[custom.function_name] = guard(custom.tool, custom.schema, custom.owner, timeout=custom.timeout,
                                              record=_recorded_as(recorder.tool_invocation, custom.function_name))
    ctx = object.__new__(RunContext)  # LiveKit hands every call a RunContext; these functions ignore it

    async def as_livekit(tool, arguments: dict) -> object:
        args, kwargs = prepare_function_arguments(fnc=tool, json_arguments=arguments, call_ctx=ctx)
        return await tool(*args, **kwargs)

    http_tool, mcp_tool = by_kind["http"], by_kind["mcp"]
    http_url = http_api.url("/orders/A-1")
    results: dict = {"lookup": lookup_ms}

    async with httpx.AsyncClient(trust_env=False) as client:
        async def http_baseline():
            r = await client.get(http_url, headers={"X-Api-Key": "bench-http-secret-1234"})
            r.raise_for_status()
            return r.json()

        ssl_context = httpx.create_ssl_context()  # made once, as outbound does (loading the CA bundle costs ~15 ms)

        async def http_fresh():  # for scale: what a new connection per request costs on loopback
            async with httpx.AsyncClient(trust_env=False, verify=ssl_context) as fresh:
                r = await fresh.get(http_url, headers={"X-Api-Key": "bench-http-secret-1234"})
            r.raise_for_status()
            return r.json()

        async def http_execute():
            return await execute(http_tool, "order_status", {"order_id": "A-1"})

        async def http_ours():
            return await as_livekit(guarded["order_status"], {"order_id": "A-1"})

        assert "shipped" in str(await http_ours())
        results["http"] = await _alternate({"baseline": http_baseline, "fresh": http_fresh, "execute": http_execute,
                                             "ours": http_ours})

    async with streamable_http_client(mcp_server.url) as streams:
        async with ClientSession(streams[0], streams[1]) as session:
            await session.initialize()

            async def mcp_baseline():
                result = await session.call_tool("lookup_order", {"order_id": "A-1"})
                assert not result.is_error
                return result

            connection = calls.connection(mcp_tool)  # the same McpConnection the guarded function uses

            async def mcp_execute():
                return await execute(mcp_tool, "lookup_order", {"order_id": "A-1"}, mcp=connection)

            async def mcp_ours():
                return await as_livekit(guarded["lookup_order"], {"order_id": "A-1"})

            assert "shipped" in str(await mcp_ours())
            results["mcp"] = await _alternate({"baseline": mcp_baseline, "execute": mcp_execute, "ours": mcp_ours})
    await calls.aclose()
    results["recorded"] = await asyncio.to_thread(_count_records, session_id)
    return results


def _count_records(session_id: uuid.UUID) -> int:
    from voice_platform.db import session_scope
    from voice_platform.services import calls

    with session_scope() as session:
        return len(list(calls.tool_invocations(session, session_id)))


def main() -> str:
    from tests.fakes.http_api import FakeHttpApi
    from tests.fakes.mcp_server import FakeMcpServer
    from tests.support.databases import (TestDatabase, create_postgres_database, drop_postgres_database,
                                         postgres_available)

    if not postgres_available():
        raise RuntimeError("this benchmark runs on PostgreSQL at 127.0.0.1:5432")
    name, url = create_postgres_database("vp_bench")
    os.environ.update({"DATABASE_URL": url, "ENVIRONMENT": "development", "GOOGLE_API_KEY": "bench-key-not-real",
                       "SECRET_KEY": "bench-secret-key-" + "x" * 32, "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8"})
    telemetry_env = {k: v for k, v in os.environ.items() if k.startswith("OTEL_")}
    from voice_platform.db import dispose_engines
    from voice_platform.settings import reset_settings_cache

    reset_settings_cache()
    try:
        TestDatabase(url=url, name=name).migrate()
        with FakeHttpApi() as http_api, FakeMcpServer() as mcp_server:
            # the fake writes headers and body in two writes: with Nagle on, a keep-alive client waits for
            # the delayed ACK (~40 ms) on every request after the first; real servers set TCP_NODELAY
            http_api._server.RequestHandlerClass.disable_nagle_algorithm = True
            agent_id, session_id, names = _seed(http_api.url("/orders/{order_id}"), mcp_server.url)
            load_before = os.getloadavg()[0]
            t0 = time.perf_counter()
            res = asyncio.run(_run(agent_id, session_id, names, http_api, mcp_server))
            elapsed = time.perf_counter() - t0
            load_after = os.getloadavg()[0]
    finally:
        dispose_engines()
        drop_postgres_database(name)

    rows, verdicts = [], {}
    for kind, label, target in (("http", "HTTP", HTTP_TARGET_MS), ("mcp", "MCP", MCP_TARGET_MS)):
        base = _pcts(res[kind]["baseline"])
        variants = (("baseline", "baseline (direct)"),) + (
            (("fresh", "direct, new client per request (for scale)"),) if "fresh" in res[kind] else ()) + (
            ("execute", "`execute()` only"),
            ("ours", "ours (guarded tool + DB record)"),)
        for variant, title in variants:
            p = _pcts(res[kind][variant])
            delta = "" if variant == "baseline" else " / ".join(f"{a - b:+.2f}" for a, b in zip(p, base))
            rows.append(f"| {label} | {title} | {p[0]:.2f} | {p[1]:.2f} | {p[2]:.2f} | {delta} |")
        d95 = _pcts(res[kind]["ours"])[1] - base[1]
        verdicts[kind] = (d95, target, "met" if d95 <= target else "missed")
    lk = _pcts(res["lookup"])
    n = ROUNDS * PER_ROUND
    telemetry = ("not configured (no `OTEL_*` exporter set, `telemetry.setup` not called: the tracer and meter "
                 "are OpenTelemetry's no-op proxies)") if not telemetry_env else f"as set in the environment: {sorted(telemetry_env)}"
    return f"""## Custom tools: a call through the runtime vs. calling the service directly (`bench/bench_custom_tools.py`)

Loopback servers from `tests/fakes` on 127.0.0.1 (SSRF guard allowing `127.0.0.0/8`): `FakeHttpApi`
(`GET /orders/A-1`, ~100 bytes of JSON, Python's `ThreadingHTTPServer`, with `TCP_NODELAY` set on
its sockets by the benchmark: it writes headers and body separately, and with Nagle on every keep-alive
request after the first waited ~40 ms for a delayed ACK, which made the direct baseline absurdly slow) and `FakeMcpServer` (the `mcp`
SDK's server over streamable HTTP, uvicorn in a thread; tool `lookup_order`). PostgreSQL, migrated with
Alembic. Same process and event loop; {WARMUP} warm-up calls per variant, then {ROUNDS} rounds of
{PER_ROUND} calls per variant, the order of the variants rotating each round ({n} samples each).
Telemetry: {telemetry}.

- **baseline**: HTTP = the same GET with one reused `httpx.AsyncClient` (keep-alive); MCP = one
  `mcp` `ClientSession` over `streamable_http_client`, initialized once and reused, `call_tool`.
- **direct, new client per request** (HTTP only, for scale): the baseline's GET with a new
  `httpx.AsyncClient` (so a new TCP connection) each time, as `services.outbound` does (its SSL
  context made once and reused, as there).
- **`execute()` only**: `runtime.custom_tools.execute` (HTTP: `services.outbound.request`, SSRF check,
  capped read, answer parsing; MCP: the conversation's `McpConnection`, reused), no wrapper, no record.
- **ours**: the `RawFunctionTool` from `tool_calls.guard` around the custom function, built as
  `agent._guarded_tools` does (`custom_function_tools` + `CustomToolCalls`, recorder
  `ConversationRecorder.tool_invocation` via `_recorded_as`), called as LiveKit calls a tool
  (`prepare_function_arguments` with a `RunContext`, then the call): call limit + circuit breaker +
  request + answer handling + span/metrics (no-op) + the invocation row written to PostgreSQL
  (in a thread, awaited before the call returns). The per-conversation limit (20 calls of a function)
  was lifted for the benchmark; the breaker is a fresh one.

ms; Δ = minus the baseline's same percentile (p50 / p95 / p99):

| kind | variant | p50 | p95 | p99 | Δ vs baseline |
|---|---|---|---|---|---|
{chr(10).join(rows)}

Targets (p95 of ours ≤ baseline + target): HTTP Δp95 = {verdicts['http'][0]:+.2f} ms (≤ +{HTTP_TARGET_MS:g} ms:
**{verdicts['http'][2]}**); MCP Δp95 = {verdicts['mcp'][0]:+.2f} ms (≤ +{MCP_TARGET_MS:g} ms: **{verdicts['mcp'][2]}**).

`runnable_for_agent` (once per conversation: the agent's custom tools read and their headers decrypted,
2 tools attached, own DB session in a thread as the worker runs it), {LOOKUPS} runs after 10 warm-up:
p50 {lk[0]:.2f} / p95 {lk[1]:.2f} / p99 {lk[2]:.2f} ms.

Caveats: the HTTP path opens a new client, and so a new TCP connection, per request
(`outbound._client`, by design: no pool shared across host names or loops), while the baseline reuses a
keep-alive connection; on loopback a connect is cheap, against a remote TLS service it would cost a
handshake per call (not measured here). `ThreadingHTTPServer` starts a thread per connection, so the
runtime's path also pays that on the server side. The record write shares the database with nothing
else here. {res['recorded']} invocations were recorded (warm-ups included). Whole run {elapsed:.0f} s;
1-minute load average before/after: {load_before:.2f} / {load_after:.2f} on {os.cpu_count()} cores.
"""
