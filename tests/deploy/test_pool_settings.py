"""DB_POOL_SIZE / DB_MAX_OVERFLOW size each process's PostgreSQL pool.

The compose file gives web workers and worker job processes different pools so that their sum
stays under PostgreSQL's max_connections; this proves the settings reach the engine. Creating a
PostgreSQL engine opens no connection, so no database is needed.
"""

from __future__ import annotations

from voice_platform import db
from voice_platform.settings import Settings


def test_pool_settings_reach_the_postgres_engine(monkeypatch):
    settings = Settings(database_url="postgresql://u:p@127.0.0.1:1/unused", db_pool_size=3, db_max_overflow=4,
                        _env_file=None)
    monkeypatch.setattr(db, "get_settings", lambda: settings)
    engine = db.get_engine()
    try:
        assert engine.pool.size() == 3
        assert engine.pool._max_overflow == 4
    finally:
        key = next(k for k, e in db._engines.items() if e is engine)
        db._engines.pop(key).dispose()


def test_default_pool_is_unchanged(monkeypatch):
    monkeypatch.delenv("DB_POOL_SIZE", raising=False)
    monkeypatch.delenv("DB_MAX_OVERFLOW", raising=False)
    settings = Settings(_env_file=None)
    assert (settings.db_pool_size, settings.db_max_overflow) == (10, 20)
