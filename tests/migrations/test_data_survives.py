"""Upgrading a database that holds data keeps every row, on SQLite and PostgreSQL.

SQLite's batch mode rebuilds tables (copy, DROP, rename); with foreign keys on, a
DROP cascades into the children. Revision 0003 also moves agents' numbers into the
phone-number inventory before making them a foreign key.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from tests.migrations.test_migrations import ROOT
from tests.support.databases import create_postgres_database, drop_postgres_database, postgres_available, postgres_required


@pytest.fixture()
def settings_url():
    """Points the settings at another database for one test, then back at the run's own."""
    import os

    from voice_platform.db import dispose_engines
    from voice_platform.settings import reset_settings_cache

    before = os.environ.get("DATABASE_URL")

    def point(url: str) -> None:
        os.environ["DATABASE_URL"] = url
        reset_settings_cache()

    yield point
    if before is None:
        os.environ.pop("DATABASE_URL", None)
    else:
        os.environ["DATABASE_URL"] = before
    reset_settings_cache()
    dispose_engines()


def _upgrade(url: str, target: str, point) -> None:
    """Through env.py's own engine (not a handed-in connection): the path `make migrate` takes."""
    point(url)
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, target)


def _check(url: str, point) -> None:
    _upgrade(url, "0002", point)
    engine = sa.create_engine(url)
    now = datetime.now(timezone.utc)
    # sa.Uuid stores 32 hex characters on SQLite; raw SQL must bind them the same way.
    as_id = (lambda u: u.hex) if url.startswith("sqlite") else (lambda u: u)
    org, agent, call = (as_id(uuid.uuid4()) for _ in range(3))
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO organizations (id, name, created_at, updated_at) VALUES (:i, 'Acme', :n, :n)"),
                         {"i": org, "n": now})
            conn.execute(sa.text(
                "INSERT INTO voice_agents (id, organization_id, name, phone_number, system_prompt, greeting, voice, model,"
                " language, is_active, created_at, updated_at) VALUES (:i, :o, 'Desk', '+14155550100', '', '', 'Puck',"
                " 'm', 'en-US', true, :n, :n)"), {"i": agent, "o": org, "n": now})
            conn.execute(sa.text(
                "INSERT INTO call_sessions (id, organization_id, agent_id, status, transcript, created_at, updated_at)"
                " VALUES (:i, :o, :a, 'completed', '[]', :n, :n)"), {"i": call, "o": org, "a": agent, "n": now})
        _upgrade(url, "0007", point)
        user, reset = as_id(uuid.uuid4()), as_id(uuid.uuid4())
        with engine.begin() as conn:  # a reset link from before its mail's state was stored: it was mailed
            conn.execute(sa.text(
                "INSERT INTO users (id, email, password_hash, is_active, is_platform_admin, token_version, created_at,"
                " updated_at) VALUES (:i, 'a@example.com', 'x', true, false, 0, :n, :n)"), {"i": user, "n": now})
            conn.execute(sa.text(
                "INSERT INTO password_resets (id, user_id, token_hash, created_at, expires_at)"
                " VALUES (:i, :u, 'h', :n, :n)"), {"i": reset, "u": user, "n": now})
        _upgrade(url, "head", point)
        with engine.connect() as conn:
            assert conn.execute(sa.text(
                "SELECT mailed_at = created_at AND mail_lease_until IS NULL FROM password_resets")).scalars().all() == [True]
            assert conn.execute(sa.text("SELECT phone_number, record_calls FROM voice_agents")).all() == [("+14155550100", False)]
            assert conn.execute(sa.text("SELECT e164, source FROM phone_numbers")).all() == [("+14155550100", "manual")]
            assert conn.execute(sa.text("SELECT kind FROM call_sessions")).scalars().all() == ["phone"]
            assert conn.execute(sa.text("SELECT timezone FROM organizations")).scalars().all() == ["UTC"]
    finally:
        engine.dispose()


def test_sqlite_upgrade_keeps_rows(tmp_path, settings_url):
    _check(f"sqlite:///{tmp_path / 'data.db'}", settings_url)


def test_postgres_upgrade_keeps_rows(settings_url):
    if not postgres_available():
        if postgres_required():
            pytest.fail("PostgreSQL required but unreachable")
        pytest.skip("PostgreSQL not reachable")
    name, url = create_postgres_database("vp_migrate_data")
    try:
        _check(url, settings_url)
    finally:
        drop_postgres_database(name)
