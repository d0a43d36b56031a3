"""Request/response models for /api/v1/tools. No secret ever appears in a response model."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool


class FunctionOut(BaseModel):
    name: str
    description: str
    parameters: dict[str, Any]


class PlatformToolOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    requires_auth: bool
    auth_type: str | None
    config_schema: dict[str, Any]
    secret_fields: list[str]
    tool_functions_schema: dict[str, list[FunctionOut]]
    is_active: bool
    display_name: str  # a custom tool's title (its ``name`` is a generated key), else the name
    kind: str  # code | http | mcp
    organization_id: uuid.UUID | None  # the owner of a custom tool; null: a code tool


class SyncOut(BaseModel):
    inserted: list[str]
    updated: list[str]
    deactivated: list[str]
    unchanged: list[str]
    tools: list[PlatformToolOut]


class AgentToolIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_id: uuid.UUID
    tool_id: uuid.UUID | None = None
    tool_name: str | None = Field(default=None, max_length=100)
    config: dict[str, Any] = Field(default_factory=dict, description="Secret fields are accepted here and stored encrypted")
    is_enabled: StrictBool = True
    unselected_functions: list[str] = Field(default_factory=list)


class AgentToolUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config: dict[str, Any] | None = None
    is_enabled: StrictBool | None = None
    unselected_functions: list[str] | None = None


class FunctionSwitch(BaseModel):
    enabled: StrictBool  # "yes" or 1 is a client bug, not a switch position


class AgentToolOut(BaseModel):
    id: uuid.UUID
    agent_id: uuid.UUID
    tool_id: uuid.UUID
    tool_name: str
    config: dict[str, Any]
    is_enabled: bool
    unselected_functions: list[str]
    enabled_functions: list[str]
    secrets_set: list[str]
    has_credentials: bool
    connected_account: str | None


class AuthUrlOut(BaseModel):
    auth_url: str


class OAuthCompleteIn(BaseModel):
    """What the callback handed to the dashboard (``state`` and ``code`` from Google's redirect)."""

    state: str = Field(max_length=4096)
    code: str = Field(max_length=4096)


class ConnectedOut(BaseModel):
    agent_id: uuid.UUID
    agent_tool_id: uuid.UUID
    tool_name: str
    account: str | None
