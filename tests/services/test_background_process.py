"""The background loops in a process of their own: web processes started with
``BACKGROUND_WORK=false`` leave them out, and ``python -m voice_platform.cli background`` (a real
OS process on the test database) sends the webhooks and runs the analyses a call leaves, at a
lower CPU priority, then stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from standardwebhooks import Webhook

from tests.fakes.webhook_receiver import receiver, webhook_env  # noqa: F401 - fixtures
from tests.support.api import create_agent, signup
from tests.support.waiting import until
from voice_platform import startup
from voice_platform.db import session_scope
from voice_platform.models import CallSession, User
from voice_platform.services import calls, webhooks
from voice_platform.settings import reset_settings_cache

ROOT = Path(__file__).resolve().parents[2]
LOOPS = {"webhook-sender", "call-analysis-loop", "campaign-dialer"}


def _running_loops() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name in LOOPS and t.is_alive()}


@pytest.fixture()
def org(client):
    admin = signup(client, "background")
    agent = create_agent(client, admin)
    return SimpleNamespace(id=uuid.UUID(admin.org_id), user_id=uuid.UUID(admin.user_id), agent_id=uuid.UUID(agent["id"]))


@pytest.fixture()
def loops_restored():
    """This test stops the test process's loops; the next tests find them running again."""
    yield
    reset_settings_cache()
    startup.start_background_work()


@pytest.mark.usefixtures("test_database", "loops_restored")
def test_a_web_process_with_background_work_off_starts_no_loop(monkeypatch):
    startup.stop_background_work()
    assert _running_loops() == set()
    monkeypatch.setenv("BACKGROUND_WORK", "false")
    reset_settings_cache()
    startup.on_startup()
    assert _running_loops() == set()
    monkeypatch.setenv("BACKGROUND_WORK", "true")
    reset_settings_cache()
    startup.on_startup()
    assert _running_loops() == LOOPS


def _test_chat(org) -> uuid.UUID:
    with session_scope() as session:
        user = session.get(User, org.user_id)
        call_id = calls.open_test_session(session, user, org.agent_id).id
    with session_scope() as session:
        calls.record_turn(session, call_id, "assistant", "Hello, Bright Smile dental.")
        calls.record_turn(session, call_id, "user", "I need a cleaning.")
    with session_scope() as session:
        assert calls.end_test_session(session, session.get(User, org.user_id), org.agent_id, call_id)
    return call_id


@pytest.mark.usefixtures("webhook_env", "loops_restored")
async def test_the_background_command_does_the_work_a_call_leaves_then_stops_on_sigterm(org, receiver, test_database):
    startup.stop_background_work()  # every delivery and analysis below must come from the command's process
    assert _running_loops() == set()
    with session_scope() as session:
        created = webhooks.create_endpoint(session, session.get(User, org.user_id), org.id, {
            "url": receiver.url(), "events": ["call.started", "call.ended"]})
    env = {**os.environ, "DATABASE_URL": test_database.url, "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8",
           "WEBHOOK_TIMEOUT_SECONDS": "2", "BACKGROUND_WORK": "false", "PYTHONPATH": str(ROOT)}
    env.pop("GOOGLE_API_KEY", None)  # the analysis then fails at once, saying why: proof it ran there
    process = subprocess.Popen([sys.executable, "-m", "voice_platform.cli", "background"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        call_id = _test_chat(org)
        started, ended = receiver.wait_for(2, timeout=30)
        assert [Webhook(created.secret).verify(r.body, r.headers)["type"] for r in (started, ended)] == [
            "call.started", "call.ended"]
        assert ended.json["data"]["call"]["id"] == str(call_id)

        def analysed() -> CallSession | None:
            with session_scope() as session:
                call = session.get(CallSession, call_id)
                return call if call.analysis_status == "failed" else None

        call = await until(analysed, timeout=30)
        assert "GOOGLE_API_KEY" in (call.analysis or {}).get("error", "")
        assert process.poll() is None, "the command must keep running until it is stopped"
        assert os.getpriority(os.PRIO_PROCESS, process.pid) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 10), (
            "BACKGROUND_NICE (10) lowers the command's CPU priority")
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
        assert process.returncode == 0, output
        assert "background work running" in output and "background work stopped" in output
        assert "Traceback" not in output, output
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.usefixtures("loops_restored")
def test_the_background_command_skips_the_pool_ping_and_a_dead_connection_costs_one_round(test_database, monkeypatch):
    """``db.loops_only`` (the command calls it first): no ping before each checkout, which was a
    third of the loops' round trips; a connection the server dropped fails one round, SQLAlchemy
    then drops the stale pool, and the next round works."""
    if not test_database.is_postgres:
        pytest.skip("SQLite has no server side that can drop a connection")
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from voice_platform import db
    from voice_platform.services import webhook_outbox

    startup.stop_background_work()  # the pool below is this test's alone
    monkeypatch.setattr(db, "_pre_ping", True)
    web_engine = db.get_engine()
    db.loops_only()
    loops_engine = db.get_engine()
    assert loops_engine is not web_engine
    try:
        with db.session_scope() as session:  # the loops' pool now holds this one connection
            backend = session.execute(text("select pg_backend_pid()")).scalar_one()
        with web_engine.connect() as conn:
            assert conn.execute(text("select pg_terminate_backend(:pid)"), {"pid": backend}).scalar_one()
        with pytest.raises(OperationalError):
            webhook_outbox.fan_out_once()  # a round meets the dead connection: it fails, and is logged by its loop
        assert webhook_outbox.fan_out_once() == 0  # the next round gets a new connection
        with db.session_scope() as session:
            assert session.execute(text("select pg_backend_pid()")).scalar_one() != backend
    finally:
        loops_engine.dispose()
