"""Worker setup: job received -> Gemini ``setup`` sent, and the tool wrapper's cost per call.

Setup is what the worker does for every call before the model can speak: claim the
session (identify), read the agent and organization, assemble 10 attached tools (rows,
decryption, instances), wrap their functions, write the instructions, build the
RealtimeModel, and open the Live connection up to the ``setup`` message. Measured
against the fake Gemini Live server (TLS on 127.0.0.1) through the real plugin,
on PostgreSQL. "Ours" ends when the AgentSession is handed to LiveKit; the rest is the
plugin connecting (TLS handshake, websocket, serializing the setup).

The wrapper (``runtime.tool_calls.guard``) is timed as LiveKit calls a tool (argument
binding, then the call) against calling the bound function directly.

A second agent has the same 10 code tools plus 3 custom MCP tools of 20 functions each,
registered through ``services.custom_tools.create_custom_tool`` against 3 loopback MCP servers
(``tests/fakes/mcp_server.py``, which record every HTTP request). The servers stay up during the
setup runs; any request they receive after registration would be a round trip before ``setup``
and fails the bench. The two agents' calls alternate, so both see the same machine load.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.bench_registry import HEADER, tool_source

RUNS = 50
N_TOOLS = 10
N_MCP_SERVERS = 3
MCP_FUNCTIONS = 20  # per server: its 2 own tools + 18 added
PHONE_PLAIN, PHONE_MCP = "+14155550100", "+14155550101"
WRAP_CALLS = 5000


def _generate_package(root: Path) -> str:
    """10 tool classes, each with a config field and a secret field, in a throwaway package."""
    name = "bench_setup_tools_" + uuid.uuid4().hex[:8]
    pkg = root / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "tools.py").write_text(HEADER + "".join(
        tool_source(i, cls="Setup", width=2, purpose="worker setup benchmark", secret=True) for i in range(N_TOOLS)))
    sys.path.insert(0, str(root))
    return name


def _pcts(samples: list[float]) -> tuple[float, float, float, float]:
    """p50, p95, p99 (rank floor(n·q), as before), max."""
    ordered = sorted(samples)

    def rank(q: float) -> float:
        return ordered[max(0, int(len(ordered) * q) - 1)]

    return statistics.median(ordered), rank(0.95), rank(0.99), ordered[-1]


def _mcp_function(server: int, j: int):
    def fn(query: str, limit: int = 5) -> dict:
        return {"server": server, "function": j, "query": query, "limit": limit}

    return fn


def _start_mcp_servers() -> list:
    from tests.fakes.mcp_server import FakeMcpServer

    servers = []
    for k in range(N_MCP_SERVERS):
        server = FakeMcpServer(name=f"Bench MCP {k}").start()
        for j in range(MCP_FUNCTIONS - 2):
            server.add_tool(_mcp_function(k, j), name=f"mcp{k}_function_{j:02d}",
                            description=f"Bench function {j} of MCP server {k}: looks something up by a query.")
        servers.append(server)
    return servers


class _TimedSetups(list):
    """The fake's list of setups, stamping when each arrived (same process: perf_counter compares)."""

    def __init__(self) -> None:
        super().__init__()
        self.stamps: list[float] = []
        self.arrived = asyncio.Event()

    def append(self, item) -> None:
        self.stamps.append(time.perf_counter())
        super().append(item)
        self.arrived.set()


def _seed(package: str, mcp_servers: list):
    from voice_platform.db import session_scope
    from voice_platform.services import agents, auth, custom_tools, tools as tool_service
    from voice_platform.tools.registry import ToolRegistry

    registry = ToolRegistry(packages=(package, "voice_platform.tools.implementations"))
    with session_scope() as session:
        registry.sync_with_db(session)
    names = sorted(n for n in registry.tool_classes() if n.startswith("Setup_tool_"))
    assert len(names) == N_TOOLS, names
    from sqlalchemy import update

    from voice_platform.models.billing import Plan

    with session_scope() as session:  # 2 × 53 calls stay open (never ended): lift the plan's limits, as bench_webhook does
        session.execute(update(Plan).values(max_concurrent_calls=2_000_000_000, minute_cap=None))
    with session_scope() as session:
        signed, org = auth.signup(session, email=f"bench-{uuid.uuid4().hex[:8]}@example.com",
                                  password="bench password 123", organization_name="Bench dental")
        org.business_details = "Open Monday to Friday, 9 to 5. Two dentists, one hygienist."
        agent_ids = {}
        for label, phone in (("plain", PHONE_PLAIN), ("mcp", PHONE_MCP)):
            agent = agents.create_agent(session, signed.user, org.id, {
                "name": f"Bench agent {label}", "phone_number": phone, "greeting": "Hello, Bench dental!",
                "system_prompt": "You book dental appointments. " * 40,
            })
            for name in names:
                tool_service.attach_tool(session, signed.user, agent.id, tool_name=name,
                                         config={"region": "us", "api_key": "secret-" + name},
                                         unselected_functions=[registry.function_names(name)[0]])
            agent_ids[label] = agent.id
        for k, server in enumerate(mcp_servers):  # lists the server's tools (the one round trip, at registration)
            view = custom_tools.create_custom_tool(session, signed.user, org.id, {
                "kind": "mcp", "name": f"Bench MCP {k}", "description": "A benchmark MCP server.",
                "url": server.url, "headers": {"Authorization": f"Bearer bench-token-{k}"},
            })
            assert len(view.functions) == MCP_FUNCTIONS, len(view.functions)
            tool_service.attach_tool(session, signed.user, agent_ids["mcp"], tool_id=view.tool_id)
    from sqlmodel import select

    from voice_platform.models import AgentTool

    with session_scope() as session:  # the secrets really are stored encrypted, so setup decrypts 10 blobs
        rows = session.exec(select(AgentTool).where(AgentTool.agent_id == agent_ids["plain"])).all()
        assert len(rows) == N_TOOLS and all(r.sensitive_config and "api_key" not in (r.config or {}) for r in rows)
        rows = session.exec(select(AgentTool).where(AgentTool.agent_id == agent_ids["mcp"])).all()
        assert len(rows) == N_TOOLS + N_MCP_SERVERS, len(rows)
    return registry, agent_ids


def _open_call(to_number: str) -> uuid.UUID:
    from voice_platform.db import session_scope
    from voice_platform.services import calls

    with session_scope() as session:
        routed = calls.open_phone_session(session, call_sid="CA" + uuid.uuid4().hex, from_number="+15550001111",
                                          to_number=to_number)
    return routed.session_id


async def _setup_runs(registry, variants: dict[str, tuple[uuid.UUID, str]], tmp: Path) -> dict[str, dict]:
    """Per variant: ours, model, total (ms lists), declared (count, last call), parts. Calls alternate."""
    from tests.fakes.gemini_live import FakeGeminiLive
    from voice_platform.runtime.agent import build_conversation
    from voice_platform.settings import reset_settings_cache
    from worker.identify import identify_call

    out = {label: {"ours": [], "model": [], "total": [], "declared": 0,
                   "parts": {"identify (claim the session)": [], "build_conversation": [],
                             "new_session (model + AgentSession)": []}}
           for label in variants}
    async with FakeGeminiLive(tmp) as gemini:
        gemini.setups = _TimedSetups()
        os.environ.update(gemini.environment())
        reset_settings_cache()
        for i in range(RUNS + 3):  # 3 warm-up calls per variant
            order = list(variants) if i % 2 == 0 else list(reversed(variants))
            for label in order:
                agent_id, phone = variants[label]
                res = out[label]
                session_id = await asyncio.to_thread(_open_call, phone)
                metadata = json.dumps({"session_id": str(session_id), "agent_id": str(agent_id)})
                seen = len(gemini.setups)
                gemini.setups.arrived.clear()
                t0 = time.perf_counter()  # job received
                await identify_call(job_metadata=metadata)
                t_identified = time.perf_counter()
                conversation = await asyncio.to_thread(build_conversation, session_id, registry=registry)
                t_built = time.perf_counter()
                session = conversation.new_session()
                t_ready = time.perf_counter()
                await session.start(conversation.agent)
                try:
                    await asyncio.wait_for(gemini.setups.arrived.wait(), timeout=10)
                except asyncio.TimeoutError:
                    await session.aclose()
                    raise RuntimeError("the fake never received a setup within 10 s") from None
                t_setup = gemini.setups.stamps[seen]
                await session.aclose()
                if i >= 3:
                    res["ours"].append((t_ready - t0) * 1000)
                    res["model"].append((t_setup - t_ready) * 1000)
                    res["total"].append((t_setup - t0) * 1000)
                    for key, a, b in zip(res["parts"], (t0, t_identified, t_built), (t_identified, t_built, t_ready)):
                        res["parts"][key].append((b - a) * 1000)
                res["declared"] = len(gemini.declared_functions(seen))
    return out


async def _wrapper_cost() -> list[tuple[str, float]]:
    from livekit.agents.llm import function_tool
    from livekit.agents.llm.utils import prepare_function_arguments

    from voice_platform.runtime.tool_calls import Owner, guard
    from voice_platform.tools.base import BaseTool, ToolMetadata

    class Ping(BaseTool):
        metadata = ToolMetadata(name="Bench_ping", description="ping")

        @function_tool()
        async def ping(self, x: int, label: str = "") -> int:
            """Ping.

            Args:
                x: A number.
                label: A label.
            """
            return x + 1

    tool = Ping().ping
    # LiveKit hands every tool call a RunContext; ping ignores it, the guard passes it through
    from livekit.agents import RunContext

    ctx = object.__new__(RunContext)
    schema = {"name": "ping", "description": "Ping.", "parameters": {
        "type": "object", "properties": {"x": {"type": "integer"}, "label": {"type": "string"}}, "required": ["x"]}}

    async def no_record(_invocation) -> None:
        return None

    variants = [
        ("direct: the bound function", tool, False),
        ("LiveKit's own path: bind arguments, call", tool, True),
        ("guarded, no recorder", guard(tool, schema, Owner("Bench_ping"), timeout=10, record=None), True),
        ("guarded, with a recorder (no-op)", guard(tool, schema, Owner("Bench_ping"), timeout=10, record=no_record), True),
    ]
    out = []
    for label, fn, bind in variants:
        for _ in range(200):  # warm-up
            if bind:
                args, kwargs = prepare_function_arguments(fnc=fn, json_arguments={"x": 1}, call_ctx=ctx)
                await fn(*args, **kwargs)
            else:
                await fn(1)
        start = time.perf_counter()
        for _ in range(WRAP_CALLS):
            if bind:
                args, kwargs = prepare_function_arguments(fnc=fn, json_arguments={"x": 1}, call_ctx=ctx)
                await fn(*args, **kwargs)
            else:
                await fn(1)
        out.append((label, (time.perf_counter() - start) / WRAP_CALLS * 1e6))
    return out


def main() -> str:
    from tests.support.databases import create_postgres_database, drop_postgres_database, postgres_available

    if not postgres_available():
        raise RuntimeError("this benchmark runs on PostgreSQL at 127.0.0.1:5432")
    tmp = Path(tempfile.mkdtemp(prefix="bench-worker-"))
    name, url = create_postgres_database("vp_bench")
    os.environ.update({"DATABASE_URL": url, "ENVIRONMENT": "development", "GOOGLE_API_KEY": "bench-key-not-real",
                       "SECRET_KEY": "bench-secret-key-" + "x" * 32, "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8"})
    from voice_platform.db import dispose_engines
    from voice_platform.settings import reset_settings_cache

    reset_settings_cache()
    mcp_servers = []
    try:
        from tests.support.databases import TestDatabase

        TestDatabase(url=url, name=name).migrate()
        mcp_servers = _start_mcp_servers()
        registry, agent_ids = _seed(_generate_package(tmp), mcp_servers)
        registration_requests = [len(s.requests) for s in mcp_servers]
        load_before = os.getloadavg()[0]
        results = asyncio.run(_setup_runs(registry, {"plain": (agent_ids["plain"], PHONE_PLAIN),
                                                     "mcp": (agent_ids["mcp"], PHONE_MCP)}, tmp))
        load_after = os.getloadavg()[0]
        setup_requests = [len(s.requests) - before for s, before in zip(mcp_servers, registration_requests)]
        wrap = asyncio.run(_wrapper_cost())
    finally:
        for server in mcp_servers:
            server.stop()
        dispose_engines()
        drop_postgres_database(name)
    if any(setup_requests):
        raise RuntimeError(f"MCP servers received requests during call setup: {setup_requests}")
    plain, mcp = results["plain"], results["mcp"]
    declared = plain["declared"]
    expected_mcp = declared + N_MCP_SERVERS * MCP_FUNCTIONS
    if mcp["declared"] != expected_mcp:
        raise RuntimeError(f"the MCP agent declared {mcp['declared']} functions, expected {expected_mcp}")

    def fmt(v) -> str:
        return " | ".join(f"{x:.1f}" for x in v)

    def table(res) -> str:
        o = _pcts(res["ours"])
        verdict = "met" if o[1] <= 50 else "missed"
        part_rows = "\n".join(f"| · {k} | {fmt(_pcts(xs))} |" for k, xs in res["parts"].items())
        return (f"| part | p50 | p95 | p99 | max |\n|---|---|---|---|---|\n"
                f"| ours (target p95 ≤ 50 ms: {verdict}) | {fmt(o)} |\n{part_rows}\n"
                f"| plugin connect → setup | {fmt(_pcts(res['model']))} |\n"
                f"| total | {fmt(_pcts(res['total']))} |")

    po, mo = _pcts(plain["ours"]), _pcts(mcp["ours"])
    direct, livekit = wrap[0][1], wrap[1][1]
    rows = "\n".join(f"| {label} | {us:.1f} | {us - livekit:+.1f} |" for label, us in wrap)
    return f"""## Worker setup (`bench/bench_worker_setup.py`)

Job received → Gemini Live `setup` sent, for an agent with {N_TOOLS} attached tools ({declared} functions
declared, one switched off per tool, each tool with config and encrypted secrets, a long prompt and
business details), {RUNS} calls after 3 warm-up calls, PostgreSQL, the real Gemini plugin against
the TLS fake on 127.0.0.1. *Ours* = claim the session + read agent and organization + assemble,
decrypt and wrap the tools + instructions + build the model and AgentSession; *plugin* = from
handing the session to LiveKit until the fake receives `setup` (TLS handshake, websocket,
serializing the declarations). ms:

{table(plain)}

### With 3 custom MCP tools of {MCP_FUNCTIONS} functions each

The same agent plus {N_MCP_SERVERS} custom MCP tools ({N_MCP_SERVERS * MCP_FUNCTIONS} functions, each with a
header secret stored encrypted), registered through `services.custom_tools.create_custom_tool`
against {N_MCP_SERVERS} loopback MCP servers (`tests/fakes/mcp_server.py`) that stay up and record every
HTTP request. The fake Gemini received **{mcp["declared"]} function declarations** in each `setup`
({declared} code + {N_MCP_SERVERS * MCP_FUNCTIONS} MCP, from the stored schemas). Requests the MCP servers received
during the {2 * (RUNS + 3)} setup runs (both agents, warm-up included): **{sum(setup_requests)}** (per server:
{setup_requests}; at registration: {registration_requests}); the bench fails if any arrive. Calls of
the two agents alternate. ms:

{table(mcp)}

Ours, p50 / p95 / p99: {po[0]:.1f} / {po[1]:.1f} / {po[2]:.1f} ms without the custom tools,
{mo[0]:.1f} / {mo[1]:.1f} / {mo[2]:.1f} ms with {N_MCP_SERVERS * MCP_FUNCTIONS} MCP functions
(p95 {mo[1] - po[1]:+.1f} ms). p95/p99 are the floor(n·q)-th of {RUNS} sorted samples, so p99 is the second-largest.

The parts' percentiles are each over their own samples (they do not add up). Setup arrival is
stamped with `perf_counter` inside the fake's `setups.append` (same process and loop); the run
waits for it on an event with a 10 s deadline. 1-minute load average before/after the setup runs:
{load_before:.2f} / {load_after:.2f} on {os.cpu_count()} cores (other work shares this machine).

The tool wrapper (`runtime/tool_calls.guard`: timeout, error to the model, invocation record),
{WRAP_CALLS} calls of a trivial async function, µs per call; the baseline for the wrapper is
LiveKit's own path (it binds and validates the arguments for every tool call anyway; the direct
call is shown for scale):

| variant | µs / call | vs LiveKit's path |
|---|---|---|
{rows}

The wrapper adds {wrap[2][1] - livekit:.1f} µs per call without a recorder
({wrap[2][1] / livekit:.2f}× LiveKit's path, {wrap[2][1] / direct:.1f}× a direct call). Read this honestly:
almost all of a wrapped call is LiveKit's argument binding (`prepare_function_arguments`, pydantic
model built per call). In the guarded path LiveKit only hands the raw dict to the `RawFunctionTool`,
and `guard` then does the full binding of the inner function itself (the same work LiveKit does for an
unwrapped tool), so the difference is the raw-tool binding + `asyncio.wait_for` + the bookkeeping; it
was not broken down further here. The recorder variant awaits a no-op
async recorder; the real one writes one row in its own thread, which is database time, not measured here.
"""
