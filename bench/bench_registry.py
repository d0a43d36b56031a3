"""Registry sync for 100 generated tools, and building an agent's function list for 10 tools.

Each figure is measured side by side with a naive baseline in the same process:
- sync: ours diffs against the rows and writes only what changed, in one transaction;
  the baseline rewrites every row and commits per row (what a first version does).
- function list: ours caches each class's function members and schemas once; the
  baseline re-introspects with ``find_function_tools`` and rebuilds every schema
  with LiveKit's builder on each call (what a worker without a registry cache does).
Runs on a throwaway PostgreSQL database when one is reachable (else a SQLite file).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

N_TOOLS = 100
N_AGENT_TOOLS = 10
REPEAT = 200

_TOOL = '''
class {cls}Tool{n}(BaseTool):
    metadata = ToolMetadata(
        name="{cls}_tool_{n}", description="Generated tool {i} for the {purpose}.",
        config_schema={{"type": "object", "properties": {{
            "region": {{"type": "string", "default": "eu"}},{secret_property}
        }}}},{secret_fields}
    )

    @function_tool()
    async def lookup_{n}(self, context: RunContext, query: str, limit: int = 5, region: Optional[str] = None) -> dict:
        """Look something up.

        Args:
            query: What to look up.
            limit: How many results at most.
            region: Where to look, when it matters.
        """
        return {{}}

    @function_tool()
    async def book_{n}(self, context: RunContext, when: str, kind: Literal["call", "visit"] = "call") -> dict:
        """Book something.

        Args:
            when: ISO 8601 time.
            kind: What kind of booking.
        """
        return {{}}

    @function_tool()
    async def cancel_{n}(self, context: RunContext, booking_id: str) -> dict:
        """Cancel a booking.

        Args:
            booking_id: The booking to cancel.
        """
        return {{}}
'''
HEADER = "from typing import Literal, Optional\nfrom livekit.agents import RunContext\nfrom livekit.agents.llm import function_tool\nfrom voice_platform.tools.base import BaseTool, ToolMetadata\n"


def tool_source(i: int, *, cls: str = "Gen", width: int = 3, purpose: str = "benchmark", secret: bool = False) -> str:
    """One generated tool class (three functions of the shapes LiveKit's schema builder meets in
    real tools), optionally with a secret ``api_key`` in its config; shared by the benchmarks."""
    return textwrap.dedent(_TOOL.format(
        i=i, n=f"{i:0{width}d}", cls=cls, purpose=purpose,
        secret_property='\n            "api_key": {"type": "string", "title": "API key"},' if secret else "",
        secret_fields='\n        secret_fields=("api_key",),' if secret else "",
    ))


def _generate_package(root: Path) -> str:
    name = "bench_gen_tools_" + uuid.uuid4().hex[:8]
    pkg = root / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for m in range(N_TOOLS // 10):
        body = "".join(tool_source(m * 10 + k) for k in range(10))
        (pkg / f"tools_{m}.py").write_text(HEADER + body)
    sys.path.insert(0, str(root))
    return name


def _count_writes(engine):
    from sqlalchemy import event

    writes = []

    def listener(_c, _cur, statement, *_a):
        if statement.lstrip()[:6].upper() in {"INSERT", "UPDATE", "DELETE"}:
            writes.append(1)

    event.listen(engine, "before_cursor_execute", listener)
    return writes, lambda: event.remove(engine, "before_cursor_execute", listener)


def _naive_sync(registry) -> None:
    """Baseline: rewrite every row, one commit per tool."""
    from sqlmodel import select

    from voice_platform.db import session_scope
    from voice_platform.models import PlatformTool

    for name, cls in registry.tool_classes().items():
        with session_scope() as session:
            row = session.exec(select(PlatformTool).where(PlatformTool.name == name)).first() or PlatformTool(name=name)
            for key, value in registry.desired_row(cls).items():
                setattr(row, key, value)
            row.updated_at = row.updated_at  # a naive version always touches the row
            from sqlalchemy.orm.attributes import flag_modified

            flag_modified(row, "tool_functions_schema")
            session.add(row)


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]


def _truncate_tools() -> None:
    from sqlalchemy import text

    from voice_platform.db import get_engine

    with get_engine().begin() as conn:
        conn.execute(text("DELETE FROM agent_tools"))
        conn.execute(text("DELETE FROM platform_tools"))


def main() -> str:
    from tests.support.databases import create_test_database

    tmp = Path(tempfile.mkdtemp(prefix="bench-registry-"))
    db = create_test_database(tmp)
    os.environ["DATABASE_URL"] = db.url
    from voice_platform.settings import reset_settings_cache

    reset_settings_cache()
    db.migrate()
    try:
        return _run(_generate_package(tmp), "PostgreSQL" if db.is_postgres else "SQLite")
    finally:
        db.drop()


def _run(package: str, backend: str) -> str:
    from livekit.agents.llm import find_function_tools

    from voice_platform.db import get_engine, session_scope
    from voice_platform.services import agents, auth, tools as tool_service
    from voice_platform.tools.registry import ToolRegistry, function_schema
    from voice_platform.runtime.assembly import assemble_agent_tools

    registry = ToolRegistry(packages=(package,))
    t_discover = _timed(registry.tool_classes)
    t_schemas = _timed(lambda: [registry.function_schemas(c) for c in registry.tool_classes().values()])

    engine = get_engine()
    rows = []
    for label, first, again in (
        ("ours: diff, one transaction", lambda: _sync(registry), lambda: _sync(registry)),
        ("baseline: rewrite rows, commit per row", lambda: _naive_sync(registry), lambda: _naive_sync(registry)),
    ):
        _truncate_tools()
        t_first = _timed(first)
        writes, stop = _count_writes(engine)
        t_second = _timed(again)
        stop()
        rows.append(f"| {label} | {t_first:.1f} | {t_second:.1f} | {len(writes)} |")

    # an agent with 10 of the tools attached, one function switched off on each
    _truncate_tools()
    _sync(registry)
    names = list(registry.tool_classes())[:N_AGENT_TOOLS]
    with session_scope() as session:
        signed, org = auth.signup(session, email=f"bench-{uuid.uuid4().hex[:8]}@example.com", password="bench password 123", organization_name="Bench")
        agent = agents.create_agent(session, signed.user, org.id, {"name": "Bench agent"})
        for n in names:
            off = [registry.function_names(n)[0]]
            tool_service.attach_tool(session, signed.user, agent.id, tool_name=n, unselected_functions=off)
        agent_id = agent.id
    plan = [(n, registry.get_tool_class(n), [registry.function_names(n)[0]]) for n in names]

    def build_cached():
        return [f for n, cls, off in plan for f in registry.get_tool_functions(n, cls(), off)]

    def build_uncached():  # baseline: introspect and rebuild schemas every time
        out = []
        for _n, cls, off in plan:
            for f in find_function_tools(cls()):
                function_schema(f)
                if f.info.name not in off:
                    out.append(f)
        return out

    assert sorted(f.info.name for f in build_cached()) == sorted(f.info.name for f in build_uncached())
    build = {}
    for label, fn in (("ours: cached registry", build_cached), ("baseline: introspect + build schemas each call", build_uncached)):
        fn()
        build[label] = _percentiles([_timed(fn) for _ in range(REPEAT)])
    assemble = _percentiles([_timed(lambda: assemble_agent_tools(agent_id, registry=registry)) for _ in range(50)])
    n_functions = len(assemble_agent_tools(agent_id, registry=registry).function_tools)

    build_rows = "\n".join(f"| {k} | {p50:.3f} | {p95:.3f} |" for k, (p50, p95) in build.items())
    return f"""## Tool registry (`bench/bench_registry.py`)

{N_TOOLS} generated tool classes × 3 `@function_tool` methods (str, int default, Optional, Literal
parameters), {backend}. Discovery (import + introspection) took {t_discover:.0f} ms and building all
{N_TOOLS * 3} schemas with LiveKit's builder {t_schemas:.0f} ms, once per process.

Sync to `platform_tools` (schemas already built; ms; writes = INSERT/UPDATE/DELETE statements seen
by a SQLAlchemy listener during the second run, which must be 0 for ours):

| variant | first sync (ms) | second sync (ms) | second sync writes |
|---|---|---|---|
{rows[0]}
{rows[1]}

Building an agent's function list for {N_AGENT_TOOLS} attached tools (one function off on each →
{n_functions} functions), {REPEAT} runs each, ms:

| variant | p50 | p95 |
|---|---|---|
{build_rows}

Whole worker assembly (`assemble_agent_tools`: load the 10 rows, decrypt, instantiate, filter),
50 runs: p50 {assemble[0]:.2f} ms, p95 {assemble[1]:.2f} ms.
"""


def _sync(registry) -> None:
    from voice_platform.db import session_scope

    with session_scope() as session:
        registry.sync_with_db(session)


if __name__ == "__main__":
    print(main())
