"""/api/v1/calls: the organization's call history and one call's transcript and tool calls."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict

from voice_platform.api.deps import CurrentUser, SessionDep
from voice_platform.api.schemas import IsoDate, PageOut
from voice_platform.services import call_history

router = APIRouter(prefix="/calls", tags=["calls"])
_SCOPED = {401: {"description": "Not signed in"}, 403: {"description": "Not allowed"}, 404: {"description": "Not found"}}


class CallOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    agent_id: uuid.UUID
    agent_name: str
    kind: str
    status: str
    from_number: str | None
    to_number: str | None
    started_at: datetime | None
    ended_at: datetime | None
    duration_seconds: float | None
    end_reason: str | None
    tool_calls: int


class TurnOut(BaseModel):
    position: int
    role: str
    text: str
    at: datetime


class ToolInvocationOut(BaseModel):
    tool: str
    function: str
    arguments: dict[str, Any]
    result: Any
    error: str | None
    duration_ms: float | None
    at: datetime


class CallDetailOut(CallOut):
    error: str | None
    setup_ours_ms: float | None
    trace_id: str | None = None
    setup_model_ms: float | None
    recording_url: str | None
    recording_duration_seconds: float | None
    provider_call_id: str | None
    turns: list[TurnOut]
    tool_invocations: list[ToolInvocationOut]


@router.get("/organization/{org_id}", response_model=PageOut[CallOut], responses=_SCOPED)
def list_calls(
    org_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    agent_id: uuid.UUID | None = None,
    status: Literal["pending", "active", "completed", "failed"] | None = None,
    kind: Literal["phone", "test"] | None = None,
    date_from: IsoDate | None = None,
    date_to: IsoDate | None = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PageOut[CallOut]:
    page = call_history.list_calls(session, user, org_id, agent_id=agent_id, status=status, kind=kind,
                                   date_from=date_from, date_to=date_to, offset=offset, limit=limit)
    return PageOut[CallOut](items=[CallOut.model_validate(c) for c in page.items], total=page.total,
                            offset=page.offset, limit=page.limit)


@router.get("/{call_id}", response_model=CallDetailOut, responses=_SCOPED)
def get_call(call_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> CallDetailOut:
    detail = call_history.get_call_detail(session, user, call_id)
    return CallDetailOut(
        **CallOut.model_validate(detail.summary).model_dump(),
        error=detail.error, setup_ours_ms=detail.setup_ours_ms, setup_model_ms=detail.setup_model_ms,
        trace_id=detail.trace_id,
        recording_url=detail.recording_url, recording_duration_seconds=detail.recording_duration_seconds,
        provider_call_id=detail.provider_call_id,
        turns=[TurnOut(**t) for t in detail.turns],
        tool_invocations=[ToolInvocationOut(**i) for i in detail.tool_invocations],
    )


@router.get("/{call_id}/recording", responses={**_SCOPED, 502: {"description": "Twilio unreachable"},
                                               503: {"description": "Twilio not configured"}},
            response_class=Response)
def get_recording(call_id: uuid.UUID, session: SessionDep, token: Annotated[str, Query(max_length=2000)]) -> Response:
    """The call's recording as MP3, for the dashboard's player (``token`` from the call's page)."""
    from voice_platform.telephony.twilio_media import fetch_recording_mp3

    url = call_history.recording_url_for_token(session, call_id, token)
    return Response(fetch_recording_mp3(url), media_type="audio/mpeg", headers={"Cache-Control": "private, max-age=300"})
