"""Test database and clients.

Each run creates its own database (PostgreSQL when reachable, otherwise a SQLite
file) migrated to head with Alembic, and drops it at the end. With
``REQUIRE_POSTGRES=1`` (set by ``.ci/run``) an unreachable PostgreSQL fails the
run instead of falling back.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("ENVIRONMENT", "test")
os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 40)
os.environ.setdefault("SIGNIN_MAX_FAILURES", "5")
# New organizations start on Pro (20 concurrent calls, 50 agents) so tests about other things
# are not stopped by the Free plan's limits; tests/services/test_billing.py puts its
# organizations on Free (or another plan) explicitly and proves every limit.
os.environ.setdefault("DEFAULT_PLAN", "pro")

from tests.support.databases import TestDatabase, create_test_database  # noqa: E402


@pytest.fixture(scope="session")
def test_database(tmp_path_factory) -> Iterator[TestDatabase]:
    db = create_test_database(tmp_path_factory.mktemp("db"))
    os.environ["DATABASE_URL"] = db.url
    from voice_platform.settings import reset_settings_cache

    reset_settings_cache()
    db.migrate()
    yield db
    from voice_platform import startup

    startup.stop_background_work()  # the loops the app started in this process, before their database goes
    db.drop()


@pytest.fixture(scope="session", autouse=True)
def _no_background_mail_recovery() -> Iterator[None]:
    """Backend start-up (every ``TestClient`` runs it) would start the lost-mail sender in this
    process, where it could take a test's lost mail before the test does; the tests that are
    about it run its loop themselves. Servers the browser tests start run it as production does."""
    from voice_platform import startup

    started = startup._start_mail_recovery
    startup._start_mail_recovery = lambda: None
    yield
    startup._start_mail_recovery = started


@pytest.fixture(autouse=True)
def _clean_tables(request) -> Iterator[None]:
    yield
    if "test_database" in request.fixturenames:
        request.getfixturevalue("test_database").truncate()


def pytest_collection_modifyitems(items) -> None:
    """Browser tests last: the app they share runs the background loops every web process runs,
    on the run's one database, until the session ends; no other test's rows may be taken by it."""
    items.sort(key=lambda item: "/tests/e2e/" in str(item.fspath).replace("\\", "/"))


@pytest.fixture()
def session(test_database):
    from voice_platform.db import session_scope

    with session_scope() as s:
        yield s


@pytest.fixture()
def client(test_database):
    from fastapi.testclient import TestClient

    from voice_platform.api import create_app

    with TestClient(create_app()) as c:
        yield c


@pytest.fixture()
def artifacts_dir() -> Path:
    path = Path(__file__).resolve().parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"
