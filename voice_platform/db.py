"""Engine and unit-of-work scope shared by the dashboard state, the API and the worker.

Services receive a ``Session`` and never commit: the caller's scope does, so one
request or one UI event is one transaction, and a failure rolls back everything.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from voice_platform.settings import get_settings


_engines: dict[tuple[str, bool, int, int, bool], Engine] = {}
# Whether a pooled connection is tested (one round trip) before each checkout. On in every process
# that answers requests: after a database restart, no request fails on a dead pooled connection.
# Off in the background command (``loops_only``): its transactions are many and short, a round that
# meets a dead connection fails and is tried again, and SQLAlchemy then drops the whole stale pool.
_pre_ping = True


def loops_only() -> None:
    """This process only runs the background loops (``python -m voice_platform.cli background``):
    its connections skip the pre-checkout ping. Call it before anything connects."""
    global _pre_ping
    _pre_ping = False


def _engine_for(url: str, echo: bool, pool_size: int = 10, max_overflow: int = 20) -> Engine:
    key = (url, echo, pool_size, max_overflow, _pre_ping)
    if key not in _engines:
        _engines[key] = _build_engine(url, echo, pool_size, max_overflow)
    return _engines[key]


def ensure_sqlite_directory(url: str) -> None:
    """A SQLite file's folder (``data/`` in a fresh clone) exists before anything connects."""
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)


def _build_engine(url: str, echo: bool, pool_size: int = 10, max_overflow: int = 20) -> Engine:
    if url.startswith("sqlite"):
        ensure_sqlite_directory(url)
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit is durable once the process has written it (a crash of the app
            # loses nothing); only a power cut or an OS crash can roll back the last commits, and
            # the file is never corrupted. FULL would add an fsync to every commit, which is most of
            # an incoming call's cost on the embedded database (README, "Settings").
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    # connect_timeout: a database that accepts TCP and never answers must not hold a thread forever
    # (the incoming-call webhook's writer thread would never come back).
    # pool_size/max_overflow (DB_POOL_SIZE/DB_MAX_OVERFLOW) are per process: every web worker and
    # every worker job process has its own pool (README, "Deploy and scale").
    return create_engine(url, echo=echo, pool_pre_ping=_pre_ping, pool_size=pool_size, max_overflow=max_overflow,
                         connect_args={"connect_timeout": 5})


def get_engine() -> Engine:
    settings = get_settings()
    return _engine_for(settings.sqlalchemy_url, settings.db_echo, settings.db_pool_size, settings.db_max_overflow)


def dispose_engines() -> None:
    """Close every pooled connection (tests drop their database afterwards)."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


@contextmanager
def session_scope() -> Iterator[Session]:
    """One transaction: commit on success, roll back on any exception."""
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
