"""The tool catalogue and each agent's configuration of its tools.

A catalogue row is either a code tool (``organization_id`` NULL: synced from code by the
registry, shared by every organization) or the catalogue face of one organization's custom
tool (HTTP or MCP, see ``models/custom_tools.py``), which only that organization sees.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from voice_platform.models.base import JSONType, Timestamped, uuid_pk


class PlatformTool(Timestamped, table=True):
    __tablename__ = "platform_tools"

    id: uuid.UUID = uuid_pk()
    name: str = Field(max_length=100, unique=True, nullable=False)
    description: str = Field(default="", max_length=2000, nullable=False)
    config_schema: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    # {"functions": [{"name", "description", "parameters"}]}
    tool_functions_schema: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    requires_auth: bool = Field(default=False, nullable=False)
    auth_type: str | None = Field(default=None, max_length=50)
    auth_config: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    secret_fields: list[str] = Field(default_factory=list, sa_type=JSONType, nullable=False)
    is_active: bool = Field(default=True, nullable=False)
    # NULL: a code tool every organization may use; set: a custom tool of that organization only.
    organization_id: uuid.UUID | None = Field(
        default=None, foreign_key="organizations.id", index=True, ondelete="CASCADE",
    )
    kind: str = Field(default="code", max_length=10, nullable=False)  # code | http | mcp
    # What people see when ``name`` is a generated key (custom tools); None: show ``name``.
    title: str | None = Field(default=None, max_length=100)


class AgentTool(Timestamped, table=True):
    __tablename__ = "agent_tools"
    __table_args__ = (UniqueConstraint("agent_id", "tool_id", name="uq_agent_tool"),)

    id: uuid.UUID = uuid_pk()
    agent_id: uuid.UUID = Field(foreign_key="voice_agents.id", nullable=False, index=True, ondelete="CASCADE")
    tool_id: uuid.UUID = Field(foreign_key="platform_tools.id", nullable=False, index=True, ondelete="RESTRICT")
    config: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    # Fernet token of a JSON object (OAuth tokens, API keys); never leaves the services in clear.
    sensitive_config: str | None = Field(default=None, sa_type=Text)
    # Which account the OAuth connection belongs to (not secret, shown in the UI).
    connected_account: str | None = Field(default=None, max_length=320)
    # Functions switched OFF. JSON list rather than TEXT[] so SQLite runs the same model.
    unselected_functions: list[str] = Field(default_factory=list, sa_type=JSONType, nullable=False)
    is_enabled: bool = Field(default=True, nullable=False)


class OAuthState(SQLModel, table=True):
    """One pending OAuth authorisation: makes a signed state single-use and keeps the PKCE verifier."""

    __tablename__ = "oauth_states"

    nonce: str = Field(primary_key=True, max_length=64)
    user_id: uuid.UUID = Field(foreign_key="users.id", nullable=False, ondelete="CASCADE")
    agent_id: uuid.UUID = Field(foreign_key="voice_agents.id", nullable=False, ondelete="CASCADE")
    tool_name: str = Field(max_length=100, nullable=False)
    code_verifier_encrypted: str | None = Field(default=None, sa_type=Text)
    expires_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    consumed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
