"""Creates, migrates, empties and drops the database one test run owns."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

CATALOGUE_TABLES = {"plans", "roles", "permissions", "role_permissions", "alembic_version"}
ADMIN_URL = os.environ.get("TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def postgres_required() -> bool:
    return os.environ.get("REQUIRE_POSTGRES", "").lower() in {"1", "true", "yes"}


def postgres_available() -> bool:
    try:
        engine = sa.create_engine(ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@dataclass
class TestDatabase:
    url: str
    name: str | None  # PostgreSQL database name; None for SQLite

    @property
    def is_postgres(self) -> bool:
        return self.name is not None

    def migrate(self) -> None:
        from alembic import command
        from alembic.config import Config

        root = Path(__file__).resolve().parents[2]
        cfg = Config(str(root / "alembic.ini"))
        cfg.attributes["configure_logger"] = False
        command.upgrade(cfg, "head")

    def truncate(self) -> None:
        from sqlmodel import SQLModel

        from voice_platform.db import get_engine

        tables = [t for t in SQLModel.metadata.sorted_tables if t.name not in CATALOGUE_TABLES]
        for attempt in range(3):  # a live app (e2e) may still be writing: PostgreSQL can pick TRUNCATE as a deadlock victim
            try:
                with get_engine().begin() as conn:
                    if self.is_postgres:
                        # DELETE, dependants first, in one round trip: a test leaves a few rows, and
                        # TRUNCATE's fixed cost per table (new files) made it 130 ms against 1 ms
                        conn.exec_driver_sql("; ".join(f"DELETE FROM {t.name}" for t in reversed(tables)))
                    else:
                        for table in reversed(tables):
                            conn.execute(table.delete())
                return
            except sa.exc.IntegrityError:  # rows pointing at each other across a cycle of keys
                with get_engine().begin() as conn:
                    conn.execute(sa.text("TRUNCATE " + ", ".join(t.name for t in tables) + " CASCADE"))
                return
            except sa.exc.OperationalError:
                if attempt == 2:
                    raise

    def drop(self) -> None:
        from voice_platform.db import dispose_engines

        dispose_engines()
        if self.is_postgres:
            drop_postgres_database(self.name)


def create_postgres_database(prefix: str = "vp_test") -> tuple[str, str]:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return name, ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_postgres_database(name: str) -> None:
    engine = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def create_test_database(tmp_dir: Path) -> TestDatabase:
    if postgres_available():
        name, url = create_postgres_database()
        return TestDatabase(url=url, name=name)
    if postgres_required():
        raise RuntimeError(f"REQUIRE_POSTGRES is set but PostgreSQL is unreachable at {ADMIN_URL}")
    return TestDatabase(url=f"sqlite:///{tmp_dir / 'test.db'}", name=None)
