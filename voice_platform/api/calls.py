"""/api/v1/calls: the organization's call history (also as CSV), one call's transcript, tool calls and
analysis, and re-running that analysis."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status as http_status
from pydantic import BaseModel, ConfigDict, Field

from voice_platform.api.deps import CurrentUser, SessionDep
from voice_platform.api.schemas import IsoDate, PageOut
from voice_platform.models.base import utcnow
from voice_platform.services import call_analysis, call_export, call_history

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
    success: bool | None = Field(default=None, description="The analysis's verdict (null: none yet, or no rubric)")
    summary_line: str | None = Field(default=None, description="The first line of the analysis's summary")
    direction: Literal["inbound", "outbound"] = Field(
        default="inbound", description="outbound: the agent called to_number from its own number (from_number)")


class AnalysisOut(BaseModel):
    status: Literal["pending", "done", "failed", "skipped"]
    summary: str | None
    data: dict[str, Any] | None = Field(description="The plan's fields: name -> value (null: the call did not yield it)")
    success: bool | None
    success_reason: str | None
    sentiment: Literal["positive", "neutral", "negative"] | None
    model: str | None
    error: str | None


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
    analysis: AnalysisOut | None = Field(description="Null until the call has ended")
    answered_by: str | None = Field(default=None, description="Outbound: Twilio's answering-machine detection")
    transfer: dict[str, Any] | None = Field(
        default=None, description="A warm transfer: mode, attempt, state, briefing, person_number, stages "
                                  "[{stage, at, ...}] in order (holding, calling_person, briefing, accepted | "
                                  "declined | no_answer | failed, returned, resumed)")


Status = Literal["pending", "active", "completed", "failed"]
Kind = Literal["phone", "test"]
Success = Annotated[bool | None, Query(description="Only calls whose analysis said succeeded (true) or not (false)")]


@router.get("/organization/{org_id}", response_model=PageOut[CallOut], responses=_SCOPED)
def list_calls(
    org_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    agent_id: uuid.UUID | None = None,
    status: Status | None = None,
    kind: Kind | None = None,
    date_from: IsoDate | None = None,
    date_to: IsoDate | None = None,
    success: Success = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PageOut[CallOut]:
    page = call_history.list_calls(session, user, org_id, agent_id=agent_id, status=status, kind=kind,
                                   date_from=date_from, date_to=date_to, success=success, offset=offset, limit=limit)
    return PageOut[CallOut](items=[CallOut.model_validate(c) for c in page.items], total=page.total,
                            offset=page.offset, limit=page.limit)


@router.get("/organization/{org_id}/export.csv", response_class=Response,
            responses={**_SCOPED, 200: {"description": "The calls as CSV", "content": {"text/csv": {}}}})
def export_calls(
    org_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    agent_id: uuid.UUID | None = None,
    status: Status | None = None,
    kind: Kind | None = None,
    date_from: IsoDate | None = None,
    date_to: IsoDate | None = None,
    success: Success = None,
) -> Response:
    """The calls the list shows with the same filters (newest first, at most 10,000), with each
    analysed call's summary, verdict, sentiment and one column per extracted field."""
    text = call_export.export_csv(session, user, org_id, agent_id=agent_id, status=status, kind=kind,
                                  date_from=date_from, date_to=date_to, success=success)
    name = f"calls-{utcnow():%Y%m%d-%H%M%S}.csv"
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


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
        analysis=AnalysisOut(**detail.analysis) if detail.analysis else None,
        answered_by=detail.answered_by, transfer=detail.transfer,
    )


@router.post("/{call_id}/analysis", response_model=AnalysisOut, status_code=http_status.HTTP_202_ACCEPTED,
             responses={**_SCOPED, 409: {"description": "The call has not ended yet"}})
def rerun_analysis(call_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> AnalysisOut:
    """Analyse the call again with its agent's current plan; the answer is the pending analysis
    (poll ``GET /calls/{id}`` for the result). Needs the right to edit agents."""
    return AnalysisOut(**call_analysis.rerun(session, user, call_id))


@router.get("/{call_id}/recording", responses={**_SCOPED, 502: {"description": "Twilio unreachable"},
                                               503: {"description": "Twilio not configured"}},
            response_class=Response)
def get_recording(call_id: uuid.UUID, session: SessionDep, token: Annotated[str, Query(max_length=2000)]) -> Response:
    """The call's recording as MP3, for the dashboard's player (``token`` from the call's page)."""
    from voice_platform.telephony.twilio_media import fetch_recording_mp3

    url = call_history.recording_url_for_token(session, call_id, token)
    return Response(fetch_recording_mp3(url), media_type="audio/mpeg", headers={"Cache-Control": "private, max-age=300"})
