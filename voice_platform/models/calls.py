"""Call sessions and the tool invocations made during them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Text
from sqlmodel import Field

from voice_platform.models.base import JSONType, Timestamped, created_at_field, uuid_pk
from sqlmodel import SQLModel


class CallSession(Timestamped, table=True):
    __tablename__ = "call_sessions"

    id: uuid.UUID = uuid_pk()
    organization_id: uuid.UUID = Field(
        foreign_key="organizations.id", nullable=False, index=True, ondelete="CASCADE"
    )
    agent_id: uuid.UUID = Field(foreign_key="voice_agents.id", nullable=False, index=True, ondelete="CASCADE")
    provider_call_id: str | None = Field(default=None, max_length=64, unique=True)
    from_number: str | None = Field(default=None, max_length=32)
    to_number: str | None = Field(default=None, max_length=32)
    room_name: str | None = Field(default=None, max_length=128)
    # pending -> active -> completed | failed
    status: str = Field(default="pending", max_length=20, nullable=False, index=True)
    started_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    ended_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    duration_seconds: float | None = Field(default=None)
    transcript: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType, nullable=False)
    error: str | None = Field(default=None, sa_type=Text)


class ToolInvocation(SQLModel, table=True):
    __tablename__ = "tool_invocations"

    id: uuid.UUID = uuid_pk()
    call_session_id: uuid.UUID = Field(
        foreign_key="call_sessions.id", nullable=False, index=True, ondelete="CASCADE"
    )
    agent_tool_id: uuid.UUID | None = Field(default=None, foreign_key="agent_tools.id", ondelete="SET NULL")
    tool_name: str = Field(max_length=100, nullable=False)
    function_name: str = Field(max_length=100, nullable=False)
    arguments: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    result: Any = Field(default=None, sa_type=JSONType, nullable=True)
    error: str | None = Field(default=None, sa_type=Text)
    duration_ms: float | None = Field(default=None)
    created_at: datetime = created_at_field()
