"""What happened on calls, for people: the organization's call list and one call in full.

Read-only views over what ``services.calls`` recorded; permission ``call:read``,
scoped by organization (another tenant's call is "not found").
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from voice_platform.errors import NotFound, ValidationFailed
from voice_platform.models import CallSession, ToolInvocation, User, VoiceAgent
from voice_platform.models.base import aware
from voice_platform.models.calls import ACTIVE, ANALYSIS_DONE, COMPLETED, FAILED, PENDING
from voice_platform.services import calls as call_service
from voice_platform.security import TokenInvalid, sign_payload, verify_signed_payload
from voice_platform.services.rbac import refuse_api_key, require

STATUSES = (PENDING, ACTIVE, COMPLETED, FAILED)
KINDS = ("phone", "test")
NOT_FOUND = "Call not found"


@dataclass(frozen=True)
class CallSummary:
    id: uuid.UUID
    organization_id: uuid.UUID
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
    success: bool | None = None  # the analysis's verdict, when it gave one
    summary_line: str | None = None  # the analysis's summary, its first line
    direction: str = "inbound"  # outbound: the agent called (from_number is the agent's)


@dataclass(frozen=True)
class CallPage:
    items: list[CallSummary]
    total: int
    offset: int
    limit: int


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id of a W3C traceparent (``00-<trace id>-<span id>-<flags>``)."""
    parts = (traceparent or "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 and parts[1] != "0" * 32 else None


@dataclass(frozen=True)
class CallDetail:
    summary: CallSummary
    error: str | None
    setup_ours_ms: float | None
    setup_model_ms: float | None
    trace_id: str | None  # the call's OpenTelemetry trace (webhook to last tool call), when traced
    recording_url: str | None
    recording_duration_seconds: float | None
    provider_call_id: str | None
    turns: list[dict[str, Any]] = field(default_factory=list)
    tool_invocations: list[dict[str, Any]] = field(default_factory=list)
    # {"status", "summary", "data", "success", "success_reason", "sentiment", "model", "error"};
    # None until the call has ended.
    analysis: dict[str, Any] | None = None
    # An outbound call's answering-machine verdict (human, machine_end_beep, ...), when detected.
    answered_by: str | None = None
    # A warm transfer: {"state", "stages": [{"stage", "at", ...}], ...} (services.warm_transfer).
    transfer: dict[str, Any] | None = None


ANALYSIS_KEYS = ("summary", "data", "success", "success_reason", "sentiment", "model", "error")


def analysis_of(call: CallSession) -> dict[str, Any] | None:
    """The call's analysis as the API shows it (every key present, absent values null)."""
    if call.analysis_status is None:
        return None
    stored = call.analysis or {}
    return {"status": call.analysis_status, **{key: stored.get(key) for key in ANALYSIS_KEYS}}


def _day_start(value: date) -> datetime:
    return datetime.combine(value, time.min, tzinfo=timezone.utc)


SUMMARY_LINE_MAX = 200


def summary_line(call: CallSession) -> str | None:
    """The first line of the analysis's summary, for one row of a list."""
    summary = (call.analysis or {}).get("summary") if call.analysis_status == ANALYSIS_DONE else None
    if not isinstance(summary, str) or not summary.strip():
        return None
    line = summary.strip().splitlines()[0].strip()
    return line if len(line) <= SUMMARY_LINE_MAX else line[:SUMMARY_LINE_MAX - 1] + "…"


def _summary(call: CallSession, agent_name: str, tool_calls: int) -> CallSummary:
    return CallSummary(
        id=call.id, organization_id=call.organization_id, agent_id=call.agent_id, agent_name=agent_name, kind=call.kind, status=call.status,
        from_number=call.from_number, to_number=call.to_number, started_at=aware(call.started_at),
        ended_at=aware(call.ended_at), duration_seconds=call.duration_seconds, end_reason=call.end_reason,
        tool_calls=tool_calls, success=call.analysis_success if call.analysis_status == ANALYSIS_DONE else None,
        summary_line=summary_line(call), direction=call.direction,
    )


def list_calls(
    session: Session, actor: User, org_id: uuid.UUID, *, agent_id: uuid.UUID | None = None,
    status: str | None = None, kind: str | None = None, date_from: date | None = None, date_to: date | None = None,
    success: bool | None = None, offset: int = 0, limit: int = 50,
) -> CallPage:
    """Newest first. ``date_to`` is inclusive (the whole day, UTC); ``success`` keeps the calls whose
    analysis gave that verdict."""
    require(session, actor, "call:read", org_id)
    if offset < 0 or not 1 <= limit <= 200:
        raise ValidationFailed("offset must be 0 or more and limit between 1 and 200", field="limit")
    where = filters(org_id, agent_id=agent_id, status=status, kind=kind, date_from=date_from, date_to=date_to,
                    success=success)
    total = session.exec(select(func.count()).select_from(CallSession).where(*where)).one()
    rows = session.exec(
        select(CallSession, VoiceAgent.name)
        .join(VoiceAgent, VoiceAgent.id == CallSession.agent_id)
        .where(*where)
        .order_by(CallSession.started_at.desc(), CallSession.id)
        .offset(offset).limit(limit)
    ).all()
    # tool calls counted for this page's calls only (an index lookup each), not for the whole table
    ids = [c.id for c, _name in rows]
    counts = dict(session.exec(
        select(ToolInvocation.call_session_id, func.count()).where(ToolInvocation.call_session_id.in_(ids))
        .group_by(ToolInvocation.call_session_id)
    ).all()) if ids else {}
    return CallPage(items=[_summary(c, name, counts.get(c.id, 0)) for c, name in rows], total=total, offset=offset,
                    limit=limit)


def filters(
    org_id: uuid.UUID, *, agent_id: uuid.UUID | None = None, status: str | None = None, kind: str | None = None,
    date_from: date | None = None, date_to: date | None = None, success: bool | None = None,
) -> list:
    """The WHERE clauses of a filtered call list (the list and its CSV export); checks the values."""
    if status is not None and status not in STATUSES:
        raise ValidationFailed(f"status must be one of: {', '.join(STATUSES)}", field="status")
    if kind is not None and kind not in KINDS:
        raise ValidationFailed(f"kind must be one of: {', '.join(KINDS)}", field="kind")
    if date_from and date_to and date_from > date_to:
        raise ValidationFailed("The start date must not be after the end date", field="date_from")
    where = [CallSession.organization_id == org_id]
    if agent_id is not None:
        where.append(CallSession.agent_id == agent_id)
    if status is not None:
        where.append(CallSession.status == status)
    if kind is not None:
        where.append(CallSession.kind == kind)
    if date_from is not None:
        where.append(CallSession.started_at >= _day_start(date_from))
    if date_to is not None:
        where.append(CallSession.started_at < _day_start(date_to) + timedelta(days=1))
    if success is not None:
        where += [CallSession.analysis_status == ANALYSIS_DONE, CallSession.analysis_success.is_(success)]
    return where


def get_call_detail(session: Session, actor: User, call_id: uuid.UUID) -> CallDetail:
    call = session.get(CallSession, call_id)
    if call is None:
        raise NotFound(NOT_FOUND)
    require(session, actor, "call:read", call.organization_id, not_found=NOT_FOUND)
    return _detail(session, call)


def _detail(session: Session, call: CallSession) -> CallDetail:
    agent = session.get(VoiceAgent, call.agent_id)
    return _assemble(call, agent.name if agent else "", call_service.turns(session, call.id),
                     call_service.tool_invocations(session, call.id))


def _assemble(call: CallSession, agent_name: str, turns: list, invocations: list) -> CallDetail:
    return CallDetail(
        summary=_summary(call, agent_name, len(invocations)),
        error=call.error, setup_ours_ms=call.setup_ours_ms, setup_model_ms=call.setup_model_ms,
        trace_id=trace_id_of(call.trace_context),
        recording_url=call.recording_url, recording_duration_seconds=call.recording_duration_seconds,
        provider_call_id=call.provider_call_id,
        turns=[{"position": t.position, "role": t.role, "text": t.text, "at": aware(t.created_at)} for t in turns],
        tool_invocations=[
            {"tool": i.tool_name, "function": i.function_name, "arguments": i.arguments, "result": i.result,
             "error": i.error, "duration_ms": i.duration_ms, "at": aware(i.created_at)}
            for i in invocations
        ],
        analysis=analysis_of(call), answered_by=call.answered_by, transfer=_transfer_view(call.transfer),
    )


TRANSFER_KEYS = ("mode", "attempt", "state", "briefing", "person_number", "stages")


def _transfer_view(transfer: dict[str, Any] | None) -> dict[str, Any] | None:
    """What people see of a warm transfer: its stages and outcome, not Twilio's call ids."""
    if not transfer:
        return None
    return {key: transfer.get(key) for key in TRANSFER_KEYS}


def _json_ready(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    return value


def call_document(session: Session, call: CallSession) -> dict[str, Any]:
    """The call as ``GET /api/v1/calls/{id}`` shows it, as plain JSON values (webhook events carry
    it; no permission check: the caller already holds the organization's own row)."""
    return call_documents(session, [call])[call.id]


def call_documents(session: Session, calls: list[CallSession]) -> dict[uuid.UUID, dict[str, Any]]:
    """``call_document`` of several calls in three queries (agents, turns, tool invocations), not
    three per call: the webhook loop writes the events of every call a round claimed at once."""
    ids = [call.id for call in calls]
    names = dict(session.exec(select(VoiceAgent.id, VoiceAgent.name)
                              .where(VoiceAgent.id.in_({call.agent_id for call in calls}))).all()) if calls else {}
    turns, invocations = call_service.turns_of(session, ids), call_service.tool_invocations_of(session, ids)
    out = {}
    for call in calls:
        detail = _assemble(call, names.get(call.agent_id, ""), turns.get(call.id, []), invocations.get(call.id, []))
        document = {name: getattr(detail.summary, name) for name in CallSummary.__dataclass_fields__
                    if name != "organization_id"}
        document.update({name: getattr(detail, name) for name in CallDetail.__dataclass_fields__ if name != "summary"})
        out[call.id] = _json_ready(document)
    return out


RECORDING_LINK_MINUTES = 30


def recording_link_token(session: Session, actor: User, call_id: uuid.UUID) -> str | None:
    """A short-lived token for ``GET /calls/{id}/recording``: an <audio> element sends no bearer
    token, so the signed-in user's right to listen travels in the link (None: no recording)."""
    call = session.get(CallSession, call_id)
    if call is None:
        raise NotFound(NOT_FOUND)
    require(session, actor, "call:read", call.organization_id, not_found=NOT_FOUND)
    refuse_api_key(actor, "sign recording links (they name the user who may listen)")
    if not call.recording_url:
        return None
    return sign_payload({"call": str(call.id), "sub": str(actor.id)}, minutes=RECORDING_LINK_MINUTES, purpose="recording")


def recording_url_for_token(session: Session, call_id: uuid.UUID, token: str) -> str:
    """The stored recording URL when ``token`` was issued for this call to a user who may still read it."""
    try:
        claims = verify_signed_payload(token, purpose="recording")
        user = session.get(User, uuid.UUID(claims["sub"]))
        if claims.get("call") != str(call_id) or user is None or not user.is_active:
            raise TokenInvalid("not this call")
    except (TokenInvalid, KeyError, ValueError) as exc:
        raise NotFound(NOT_FOUND) from exc
    call = session.get(CallSession, call_id)
    if call is None or not call.recording_url:
        raise NotFound("This call has no recording")
    require(session, user, "call:read", call.organization_id, not_found=NOT_FOUND)
    return call.recording_url


def calls_fingerprint(session: Session, actor: User, org_id: uuid.UUID) -> str:
    """Changes whenever a call of the organization starts, changes or ends (count and latest
    update): an open list compares it with the server's call feed and reloads only when it moved."""
    require(session, actor, "call:read", org_id)
    return fingerprints(session, [org_id])[org_id]


def fingerprints(session: Session, org_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """``calls_fingerprint`` of several organizations in one grouped query (the server's call feed).

    No actor: only the dashboard's feed asks, and it only wakes the open pages of each
    organization, which then reload through ``list_calls`` with their own permissions.
    """
    if not org_ids:
        return {}
    rows = session.exec(
        select(CallSession.organization_id, func.count(), func.max(CallSession.updated_at))
        .where(CallSession.organization_id.in_(org_ids)).group_by(CallSession.organization_id)
    ).all()
    found = {org: f"{count}:{aware(latest).isoformat() if latest else ''}" for org, count, latest in rows}
    return {org: found.get(org, "0:") for org in org_ids}
