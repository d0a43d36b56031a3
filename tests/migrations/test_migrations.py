"""Upgrading an empty database to head gives exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import voice_platform.models  # noqa: F401
from tests.support.databases import (
    ADMIN_URL,
    create_postgres_database,
    drop_postgres_database,
    postgres_available,
    postgres_required,
)

ROOT = Path(__file__).resolve().parents[2]


def _alembic(connection) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["connection"] = connection
    cfg.attributes["configure_logger"] = False
    return cfg


def _assert_round_trip(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(_alembic(conn), "head")
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, SQLModel.metadata)
            assert diff == [], f"migrations and models differ: {diff}"
            roles = conn.execute(sa.text("SELECT name FROM roles ORDER BY rank DESC")).scalars().all()
            assert roles == ["platform_admin", "org_admin", "member"]
            granted = conn.execute(
                sa.text(
                    "SELECT p.name FROM permissions p JOIN role_permissions rp ON rp.permission_id = p.id "
                    "JOIN roles r ON r.id = rp.role_id WHERE r.name = 'member'"
                )
            ).scalars().all()
            assert "tool:configure" not in granted and "agent:read" in granted
        with engine.begin() as conn:
            command.downgrade(_alembic(conn), "base")
        with engine.connect() as conn:
            left = set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
            assert left == set()
    finally:
        engine.dispose()


def test_sqlite_upgrade_matches_models_and_downgrades(tmp_path):
    _assert_round_trip(f"sqlite:///{tmp_path / 'migrate.db'}")


def test_postgres_upgrade_matches_models_and_downgrades():
    if not postgres_available():
        if postgres_required():
            pytest.fail(f"PostgreSQL required but unreachable at {ADMIN_URL}")
        pytest.skip("PostgreSQL not reachable")
    name, url = create_postgres_database("vp_migrate")
    try:
        _assert_round_trip(url)
    finally:
        drop_postgres_database(name)
