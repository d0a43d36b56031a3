"""Column helpers shared by every table.

JSON columns are JSONB on PostgreSQL and JSON elsewhere, so the embedded SQLite
default and production run the same models. Timestamps are timezone-aware UTC.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Column, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

JSONType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def json_column(nullable: bool = False) -> Any:
    return Field(default=None, sa_type=JSONType, nullable=nullable)


def uuid_pk() -> Any:
    return Field(default_factory=uuid.uuid4, primary_key=True)


def created_at_field() -> Any:
    return Field(default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False)


def updated_at_field() -> Any:
    return Field(
        default_factory=utcnow,
        sa_type=DateTime(timezone=True),
        nullable=False,
        sa_column_kwargs={"onupdate": utcnow},
    )


class Timestamped(SQLModel):
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


def aware(dt: datetime | None) -> datetime | None:
    """SQLite drops tzinfo on the way back; everything we store is UTC."""
    if dt is not None and dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt


__all__ = ["JSONType", "Timestamped", "aware", "json_column", "utcnow", "uuid_pk", "Column"]
