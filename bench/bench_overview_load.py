"""First load of the overview (the landing page) in the production build, with a big organization.

Real chromium against ``reflex run --env prod`` (one backend worker) on PostgreSQL holding the
organization of ``bench_dashboard`` (10,000 agents, 100,000 call sessions, 20,000 tool
invocations). Timed from navigation until the week's call count is on screen (session check,
the overview's queries, the websocket round trip, the chart rendered): a cold load in a new
browser context (empty cache, token already in localStorage), then warm reloads. Side by side,
the same overview from the REST API (``GET /organizations/{id}/overview``), which has no page around it.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

LOADS = 5
ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _row(label: str, values: list[float]) -> str:
    ordered = sorted(values)
    return f"| {label} | {len(values)} | {statistics.median(ordered):.0f} | {ordered[-1]:.0f} |"


def main() -> str:
    import httpx
    from playwright.sync_api import expect, sync_playwright

    from bench.bench_dashboard import _seed
    from tests.e2e.tools_support import start_app
    from tests.support.databases import TestDatabase, create_postgres_database, drop_postgres_database

    name, url = create_postgres_database("vp_bench_overview")
    os.environ.update({"DATABASE_URL": url, "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-secret-key-" + "x" * 40)})
    from voice_platform.db import dispose_engines
    from voice_platform.security import create_access_token
    from voice_platform.settings import reset_settings_cache

    reset_settings_cache()
    try:
        TestDatabase(url=url, name=name).migrate()
        user_id, org_id, _busy = _seed()
        token = create_access_token(user_id, 0)
        started = time.monotonic()
        with start_app(url, ROOT / "test-artifacts" / "bench-overview-app.log",
                       {"SECRET_KEY": os.environ["SECRET_KEY"]}) as base:
            startup = time.monotonic() - started
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                cold, warm, page = [], [], None
                for i in range(LOADS):
                    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=base)
                    ctx.add_init_script(f"window.localStorage.setItem('vp_token', {token!r}); "
                                        f"window.localStorage.setItem('vp_org', {str(org_id)!r});")
                    page = ctx.new_page()
                    t0 = time.perf_counter()
                    page.goto("/overview")
                    expect(page.get_by_test_id("calls-chart")).to_be_visible(timeout=60_000)
                    expect(page.get_by_test_id("busy-agent").first).to_be_visible(timeout=60_000)
                    cold.append((time.perf_counter() - t0) * 1000)
                    if i < LOADS - 1:
                        ctx.close()
                for _ in range(LOADS):
                    t0 = time.perf_counter()
                    page.reload()
                    expect(page.get_by_test_id("busy-agent").first).to_be_visible(timeout=60_000)
                    warm.append((time.perf_counter() - t0) * 1000)
                browser.close()
            api = []
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
                for _ in range(LOADS):
                    t0 = time.perf_counter()
                    client.get(f"/api/v1/organizations/{org_id}/overview").raise_for_status()
                    api.append((time.perf_counter() - t0) * 1000)
    finally:
        dispose_engines()
        drop_postgres_database(name)
    return "\n".join([
        "## Overview first load in the production build (`bench/bench_overview_load.py`)",
        "",
        "Real chromium, `reflex run --env prod` (app start incl. compile: "
        f"{startup:.0f} s), PostgreSQL with the organization of the dashboard bench (100,000 call sessions). "
        "From navigation until the chart and the busiest agents are on screen, ms:",
        "",
        "| load | n | p50 | max |",
        "|---|---|---|---|",
        _row("first load, cold (new browser context, empty cache)", cold),
        _row("reload, warm cache", warm),
        _row("baseline: the same overview from the REST API (no page)", api),
    ])
