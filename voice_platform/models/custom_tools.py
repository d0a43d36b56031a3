"""Custom tools: an organization's own HTTP endpoints and MCP servers, defined in the dashboard.

Each has one ``platform_tools`` row (its face in the catalogue, holding the function schemas)
so attaching and per-function switches work exactly as for code tools. Header values are
secrets (API keys, bearer tokens): stored only as a Fernet token; ``header_names`` lets views
say which are set without decrypting anything.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Text
from sqlmodel import Field

from voice_platform.models.base import JSONType, Timestamped, uuid_pk


class CustomTool(Timestamped, table=True):
    __tablename__ = "custom_tools"

    id: uuid.UUID = uuid_pk()
    organization_id: uuid.UUID = Field(foreign_key="organizations.id", nullable=False, index=True, ondelete="CASCADE")
    platform_tool_id: uuid.UUID = Field(foreign_key="platform_tools.id", nullable=False, unique=True, ondelete="CASCADE")
    kind: str = Field(max_length=10, nullable=False)  # http | mcp
    name: str = Field(max_length=100, nullable=False)
    description: str = Field(default="", max_length=2000, nullable=False)
    url: str = Field(max_length=2000, nullable=False)
    method: str | None = Field(default=None, max_length=10)  # http only
    timeout_seconds: float = Field(default=10.0, nullable=False)
    # Fernet token of {name: value}; never leaves the services in clear except to the runtime.
    headers_encrypted: str | None = Field(default=None, sa_type=Text)
    header_names: list[str] = Field(default_factory=list, sa_type=JSONType, nullable=False)
