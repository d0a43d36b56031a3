"""Alembic environment: the models' metadata and the settings' database URL, nothing else."""

from __future__ import annotations

import logging.config

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

import voice_platform.models  # noqa: F401 - registers every table
from voice_platform.db import ensure_sqlite_directory
from voice_platform.settings import get_settings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata


def _options(url_or_connection_is_sqlite: bool) -> dict:
    # SQLite cannot ALTER most things in place; batch mode rebuilds the table.
    return {"target_metadata": target_metadata, "compare_type": True, "render_as_batch": url_or_connection_is_sqlite}


def run_migrations_offline() -> None:
    settings = get_settings()
    context.configure(url=settings.sqlalchemy_url, literal_binds=True, **_options(settings.is_sqlite))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, **_options(connection.dialect.name == "sqlite"))
        with context.begin_transaction():
            context.run_migrations()
        return
    # Not the app's pooled engine: that one turns SQLite foreign keys on for every connection,
    # and batch mode rebuilds a table by copy, DROP and rename, where the DROP would cascade
    # and delete every child row (rebuilding organizations emptied voice_agents). A plain
    # engine leaves SQLite's foreign keys off, as Alembic's batch mode expects.
    url = get_settings().sqlalchemy_url
    ensure_sqlite_directory(url)  # a fresh clone has no data/ yet
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            context.configure(connection=conn, **_options(conn.dialect.name == "sqlite"))
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
