"""/api/v1/tools: the tool catalogue, per-agent attachments and the Google OAuth round trip.

Thin: every rule is in ``services/tools.py`` and ``services/oauth.py``. The
callback is reached by the browser coming back from Google with no session of ours,
so it only checks the signed single-use state (a bad one is a 403) and sends
code and state on to the agent's tools page; the page — or an API client, through
``POST /tools/callback/complete`` — finishes the exchange as the signed-in user who
started it (see services/oauth.py for why).
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, status
from fastapi.responses import JSONResponse, RedirectResponse

from voice_platform.api.deps import CurrentUser, SessionDep
from voice_platform.api.tool_schemas import (
    AgentToolIn, AgentToolOut, AgentToolUpdate, AuthUrlOut, ConnectedOut, FunctionSwitch, OAuthCompleteIn, PlatformToolOut,
    SyncOut,
)
from voice_platform.services import oauth as oauth_service
from voice_platform.services import tools as tool_service
from voice_platform.services.rbac import require_platform
from voice_platform.settings import get_settings

log = logging.getLogger(__name__)
router = APIRouter(prefix="/tools", tags=["tools"])
_SCOPED = {401: {"description": "Not signed in"}, 403: {"description": "Not allowed"}, 404: {"description": "Not found"}}


def _platform_out(view: tool_service.PlatformToolView) -> PlatformToolOut:
    return PlatformToolOut.model_validate(view, from_attributes=True)


def _out(view: tool_service.AgentToolView) -> AgentToolOut:
    return AgentToolOut.model_validate(view, from_attributes=True)


@router.post("/platform", response_model=SyncOut, responses=_SCOPED)
def sync_platform_tools(user: CurrentUser, session: SessionDep) -> SyncOut:
    """Platform admins re-read the catalogue from code (tools are classes, not rows typed in)."""
    from voice_platform.tools.registry import sync_with_db  # imports livekit: only on this admin route

    require_platform(user)
    report = sync_with_db(session)
    tools = tool_service.list_platform_tools(session, user, only_active=False)
    return SyncOut(**dataclasses.asdict(report), tools=[_platform_out(t) for t in tools])


@router.get("/platform", response_model=list[PlatformToolOut], responses=_SCOPED)
def list_platform_tools(user: CurrentUser, session: SessionDep, only_active: bool = True) -> list[PlatformToolOut]:
    return [_platform_out(v) for v in tool_service.list_platform_tools(session, user, only_active=only_active)]


@router.post("/agent", response_model=AgentToolOut, status_code=status.HTTP_201_CREATED, responses={**_SCOPED, 409: {"description": "Already attached"}})
def attach_tool(body: AgentToolIn, user: CurrentUser, session: SessionDep) -> AgentToolOut:
    view = tool_service.attach_tool(
        session, user, body.agent_id, tool_id=body.tool_id, tool_name=body.tool_name, config=body.config,
        is_enabled=body.is_enabled, unselected_functions=body.unselected_functions,
    )
    return _out(view)


@router.get("/agent/{agent_id}", response_model=list[AgentToolOut], responses=_SCOPED)
def list_agent_tools(agent_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> list[AgentToolOut]:
    return [_out(v) for v in tool_service.list_agent_tools(session, user, agent_id)]


@router.put("/agent/{agent_tool_id}", response_model=AgentToolOut, responses=_SCOPED)
def update_agent_tool(agent_tool_id: uuid.UUID, body: AgentToolUpdate, user: CurrentUser, session: SessionDep) -> AgentToolOut:
    return _out(tool_service.update_agent_tool(session, user, agent_tool_id, body.model_dump(exclude_none=True)))


@router.put("/agent/{agent_tool_id}/functions/{function_name}", response_model=AgentToolOut, responses=_SCOPED)
def switch_function(agent_tool_id: uuid.UUID, function_name: str, body: FunctionSwitch, user: CurrentUser, session: SessionDep) -> AgentToolOut:
    return _out(tool_service.set_function_enabled(session, user, agent_tool_id, function_name, body.enabled))


@router.delete("/agent/{agent_tool_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_SCOPED)
def detach_tool(agent_tool_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> None:
    oauth_service.revoke_tokens(tool_service.detach_tool(session, user, agent_tool_id))


@router.delete("/agent/{agent_tool_id}/connection", response_model=AgentToolOut, responses=_SCOPED)
def disconnect(agent_tool_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> AgentToolOut:
    view, removed = tool_service.disconnect(session, user, agent_tool_id)
    oauth_service.revoke_tokens(removed)
    return _out(view)


@router.get("/auth/{tool_name}", response_model=AuthUrlOut, responses={**_SCOPED, 503: {"description": "Google client not configured"}})
def start_oauth(tool_name: str, agent_id: Annotated[uuid.UUID, Query()], user: CurrentUser, session: SessionDep) -> AuthUrlOut:
    return AuthUrlOut(auth_url=oauth_service.start_authorization(session, user, agent_id, tool_name))


# Why the browser came back without a code; the page turns the reason into its own words
# (free text from a link would let anyone put a message under our name).
DECLINED, PROVIDER_ERROR = "declined", "provider"


@router.get("/callback", status_code=status.HTTP_303_SEE_OTHER, responses={403: {"description": "Invalid, expired or replayed state"}})
def oauth_callback(
    session: SessionDep, state: str | None = None, code: str | None = None, error: str | None = None,
) -> RedirectResponse:
    if error or not code:  # declined on Google's page (or no code): burn the state so it cannot be reused
        oauth_service.consume_state(session, state)
        return _back(oauth_service.agent_id_from_state(state), {"oauth": "error", "reason": DECLINED if error else PROVIDER_ERROR})
    agent_id = oauth_service.check_state(session, state)
    return _back(agent_id, {"oauth": "connect", "state": state or "", "code": code})


@router.post(
    "/callback/complete", response_model=ConnectedOut,
    responses={**_SCOPED, 403: {"description": "Not allowed, or an invalid, expired, replayed or another user's state"}, 502: {"description": "Google refused"}},
)
def complete_oauth(body: OAuthCompleteIn, user: CurrentUser, session: SessionDep) -> ConnectedOut | JSONResponse:
    try:
        result = oauth_service.complete_authorization(session, body.state, body.code, actor=user)
    except oauth_service.OAuthProviderError as exc:
        # Returned, not raised: the burnt state must be committed.
        return JSONResponse({"detail": exc.message}, status_code=exc.status_code)
    return ConnectedOut(agent_id=result.agent_id, agent_tool_id=result.agent_tool_id, tool_name=result.tool_name, account=result.account)


def _back(agent_id: uuid.UUID | None, query: dict[str, str]) -> RedirectResponse:
    base = get_settings().public_base_url.rstrip("/")
    path = f"/agents/{agent_id}/tools" if agent_id else "/agents"
    return RedirectResponse(f"{base}{path}?{urlencode(query)}", status_code=status.HTTP_303_SEE_OTHER)
