"""/api/v1/organizations/{org_id}/custom-tools: an organization's HTTP tools and MCP servers.

Thin: every rule (permissions, tenant scope, validation, the SSRF guard, MCP discovery) is in
``services/custom_tools.py``. Header values go in and never come out: answers say only which
header names are set. The Test run calls the runtime (imported lazily: it loads livekit).
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from voice_platform.api.deps import CurrentUser, SessionDep
from voice_platform.api.schemas import REQUIRED_TEXT, TEXT, declared
from voice_platform.services import custom_tools as service

router = APIRouter(prefix="/organizations/{org_id}/custom-tools", tags=["custom tools"])
_SCOPED = {401: {"description": "Not signed in"}, 403: {"description": "Not allowed"},
           404: {"description": "Not found"},
           422: {"description": "Invalid input, a refused URL (SSRF guard) or an MCP server that cannot be listed"}}

# What the service checks, in the schema's words (the service keeps the checks and messages).
_NAME = declared(maxLength=service.MAX_NAME, pattern=REQUIRED_TEXT)
_DESCRIPTION = declared(maxLength=service.MAX_DESCRIPTION, pattern=TEXT)
_URL = declared(maxLength=service.MAX_URL, pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#{}@]+([/?#][^\x00]*)?$")
_HEADERS = declared(maxProperties=service.MAX_HEADERS, propertyNames={"pattern": service.HEADER_NAME_PATTERN},
                    additionalProperties={"type": "string", "maxLength": service.MAX_HEADER_VALUE,
                                          "pattern": r"^[^\r\n\x00]*$"})
_PARAMETERS = {"description": "A JSON Schema of type object, in the subset Gemini accepts: type (object, string, "
                              "number, integer, boolean, array), properties, required, description, enum (strings), "
                              "items. Every {placeholder} of the URL must be one of its properties."}


class CustomToolIn(BaseModel):
    """``kind`` mcp: name, description, url, headers. ``kind`` http: also method, parameters and
    timeout_seconds (1-30, default 10)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["mcp", "http"]
    name: str = Field(max_length=1024, **_NAME)
    description: str = Field(default="", max_length=100_000, **_DESCRIPTION)
    url: str = Field(max_length=100_000, **_URL)
    headers: dict[str, str] = Field(default_factory=dict, description="Sent with every request; values are secrets "
                                    "(stored encrypted, never returned)", **_HEADERS)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] | None = Field(default=None, description="http only; default GET")
    parameters: dict[str, Any] | None = Field(default=None, **_PARAMETERS)
    timeout_seconds: float | None = Field(default=None, ge=service.MIN_TIMEOUT, le=service.MAX_TIMEOUT,
                                          description="http only; default 10")


class CustomToolUpdate(BaseModel):
    """Only the fields sent change. Headers merge: a value sets one, an empty value removes it."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["mcp", "http"] | None = Field(default=None, description="Cannot change; accepted if equal")
    name: str | None = Field(default=None, max_length=1024, **_NAME)
    description: str | None = Field(default=None, max_length=100_000, **_DESCRIPTION)
    url: str | None = Field(default=None, max_length=100_000, **_URL)
    headers: dict[str, str] | None = Field(default=None, description="An empty value removes that header",
                                           **declared(maxProperties=service.MAX_HEADERS,
                                                      propertyNames={"pattern": service.HEADER_NAME_PATTERN},
                                                      additionalProperties={"type": "string",
                                                                            "maxLength": service.MAX_HEADER_VALUE,
                                                                            "pattern": r"^[^\r\n\x00]*$"}))
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] | None = None
    parameters: dict[str, Any] | None = Field(default=None, **_PARAMETERS)
    timeout_seconds: float | None = Field(default=None, ge=service.MIN_TIMEOUT, le=service.MAX_TIMEOUT)


class FunctionOut(BaseModel):
    name: str
    description: str
    parameters: dict[str, Any]


class CustomToolOut(BaseModel):
    id: uuid.UUID
    tool_id: uuid.UUID = Field(description="The catalogue id: attach it with POST /api/v1/tools/agent")
    kind: str
    name: str
    description: str
    url: str
    method: str | None
    timeout_seconds: float
    headers_set: list[str] = Field(description="Names of the headers that have a value (values are never returned)")
    functions: list[FunctionOut]


class TestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    function: str = Field(max_length=200)
    arguments: dict[str, Any] = Field(default_factory=dict)


class TestOut(BaseModel):
    output: Any
    is_error: bool
    duration_ms: float


def _out(view: service.CustomToolView) -> CustomToolOut:
    return CustomToolOut.model_validate(view, from_attributes=True)


@router.post("", response_model=CustomToolOut, status_code=status.HTTP_201_CREATED, responses=_SCOPED)
def create_custom_tool(org_id: uuid.UUID, body: CustomToolIn, user: CurrentUser, session: SessionDep) -> CustomToolOut:
    return _out(service.create_custom_tool(session, user, org_id, body.model_dump(exclude_none=True)))


@router.get("", response_model=list[CustomToolOut], responses=_SCOPED)
def list_custom_tools(org_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> list[CustomToolOut]:
    return [_out(v) for v in service.list_custom_tools(session, user, org_id)]


@router.get("/{custom_tool_id}", response_model=CustomToolOut, responses=_SCOPED)
def get_custom_tool(org_id: uuid.UUID, custom_tool_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> CustomToolOut:
    return _out(service.get_custom_tool(session, user, org_id, custom_tool_id))


@router.put("/{custom_tool_id}", response_model=CustomToolOut, responses=_SCOPED)
def update_custom_tool(org_id: uuid.UUID, custom_tool_id: uuid.UUID, body: CustomToolUpdate, user: CurrentUser,
                       session: SessionDep) -> CustomToolOut:
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    return _out(service.update_custom_tool(session, user, org_id, custom_tool_id, changes))


@router.delete("/{custom_tool_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_SCOPED)
def delete_custom_tool(org_id: uuid.UUID, custom_tool_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> None:
    service.delete_custom_tool(session, user, org_id, custom_tool_id)


@router.post("/{custom_tool_id}/refresh", response_model=CustomToolOut, responses=_SCOPED)
def refresh_custom_tool(org_id: uuid.UUID, custom_tool_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> CustomToolOut:
    return _out(service.refresh_custom_tool(session, user, org_id, custom_tool_id))


@router.post("/{custom_tool_id}/test", response_model=TestOut, responses=_SCOPED)
async def test_custom_tool(org_id: uuid.UUID, custom_tool_id: uuid.UUID, body: TestIn, user: CurrentUser) -> TestOut:
    """Run one function once with the admin's arguments (every function, switched off or not).
    Async: the call waits on the tool's service, not on a thread; the database is read first,
    in a thread, and its session is closed before the call."""
    from anyio import to_thread

    runnable = await to_thread.run_sync(_runnable_for_test, user, org_id, custom_tool_id)
    service.require_function(runnable, body.function)
    from voice_platform.runtime.custom_tools import run_once  # loads livekit: only on this route

    result = await run_once(runnable, body.function, body.arguments)
    return TestOut(output=result.output, is_error=bool(result.is_error), duration_ms=float(result.duration_ms))


def _runnable_for_test(user: Any, org_id: uuid.UUID, custom_tool_id: uuid.UUID) -> service.RunnableCustomTool:
    from voice_platform.db import session_scope

    with session_scope() as session:
        return service.runnable_for_test(session, user, org_id, custom_tool_id)

