"""Which call is this? The job and the caller's participant say it; the database decides.

Three routes lead to a call session, tried in this order:

1. job metadata ``{"session_id", "agent_id"}`` — calls we start ourselves (test chat,
   later web and outbound calls) put them there when they dispatch the agent;
2. the SIP participant's session attribute — LiveKit's inbound trunk maps the
   ``X-Vp-Session`` header the incoming webhook put in the SIP URI onto it
   (``headers_to_attributes``); ``sip.h.x-vp-session`` (``include_headers``) is the
   second source. Attributes may arrive after the participant joined, so we wait for
   ``participant_attributes_changed`` for a few seconds;
3. the dialed number (``sip.trunkPhoneNumber``) — when no session id came at all, the
   agent is found by its number and a session is opened (or the webhook's found by
   the CallSid).

A session id is single-use: ``claim_session`` refuses an unknown, ended or already
answered one, so a replayed INVITE or a second dispatch cannot take over a call.
Everything here runs without a room: it needs only objects with ``.attributes`` /
``.identity`` and an event emitter, so tests drive it with livekit's real types.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlmodel import Session

from voice_platform.db import session_scope
from voice_platform.errors import DomainError
from voice_platform.models import VoiceAgent
from voice_platform.services import calls

from voice_platform.telephony.livekit_sip import RESUME_ATTRIBUTE, SESSION_ATTRIBUTE

log = logging.getLogger(__name__)

HEADER_ATTRIBUTE = "sip.h.x-vp-session"  # LiveKit's include_headers copy of X-Vp-Session
RESUME_HEADER_ATTRIBUTE = "sip.h.x-vp-resume"  # ... and of X-Vp-Resume (a warm transfer coming back)
DIALED_ATTRIBUTE = "sip.trunkPhoneNumber"
CALLER_ATTRIBUTE = "sip.phoneNumber"
CALL_SID_ATTRIBUTES = ("sip.twilio.callSid", "sip.callID")
ATTRIBUTE_WAIT_SECONDS = 3.0

SessionFactory = Callable[[], AbstractContextManager[Session]]


class ParticipantLike(Protocol):
    @property
    def identity(self) -> str: ...

    @property
    def attributes(self) -> dict[str, str]: ...


class EmitterLike(Protocol):
    def on(self, event: str, callback: Callable[..., Any] | None = None) -> Any: ...

    def off(self, event: str, callback: Callable[..., Any]) -> None: ...


class CallRefused(Exception):
    """This job must not be answered; ``reason`` is short and safe to log."""

    def __init__(self, message: str, *, reason: str, source: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.source = source


@dataclass(frozen=True)
class CallIdentity:
    """The claimed session: from here on this worker owns the call."""

    session_id: uuid.UUID
    agent_id: uuid.UUID
    organization_id: uuid.UUID
    source: str  # metadata | attribute | header | dialed_number
    provider_call_id: str | None
    from_number: str | None
    started_at: datetime | None  # when the webhook (or we) opened the session: setup time starts here
    transfer_number: str | None = None  # the agent's, for transfer_call (offered only when set)
    trace_context: str | None = None  # the webhook's traceparent: this call's spans join its trace
    outbound: bool = False  # the agent called out (it speaks first; do_not_call is offered)
    transfer_mode: str = "cold"  # the agent's: how transfer_call hands the caller to a person
    resumed: bool = False  # a warm transfer nobody took: the same conversation goes on

    @property
    def twilio_call_sid(self) -> str | None:
        """The provider id when it is Twilio's CallSid (the dialed-number fallback may hold a SIP Call-ID)."""
        sid = self.provider_call_id or ""
        return sid if len(sid) == 34 and sid.startswith("CA") else None


def parse_job_metadata(metadata: str | None) -> tuple[uuid.UUID, uuid.UUID | None] | None:
    """``(session_id, agent_id)`` from our JSON job metadata; None when it carries neither.

    Metadata that is not ours (empty, not JSON, another shape) is not an error: an inbound
    SIP job's metadata is whatever the dispatch rule set, and the participant decides.
    A ``session_id`` that is present but not a UUID is refused: someone meant it.
    """
    if not metadata or not metadata.strip():
        return None
    try:
        data = json.loads(metadata)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("session_id") in (None, ""):
        return None
    session_id = _uuid(data.get("session_id"))
    if session_id is None:
        raise CallRefused("job metadata carries a malformed session id", reason="malformed", source="metadata")
    agent_raw = data.get("agent_id")
    agent_id = _uuid(agent_raw) if agent_raw not in (None, "") else None
    if agent_raw not in (None, "") and agent_id is None:
        raise CallRefused("job metadata carries a malformed agent id", reason="malformed", source="metadata")
    return session_id, agent_id


def session_attribute(attributes: dict[str, str]) -> tuple[str, str] | None:
    """``(value, source)`` of the session id among a participant's attributes, if present."""
    for key, source in ((SESSION_ATTRIBUTE, "attribute"), (HEADER_ATTRIBUTE, "header")):
        value = (attributes.get(key) or "").strip()
        if value:
            return value, source
    return None


async def wait_for_session_attribute(
    room: EmitterLike, participant: ParticipantLike, *, timeout: float = ATTRIBUTE_WAIT_SECONDS
) -> tuple[str, str] | None:
    """The session attribute now, or when ``participant_attributes_changed`` brings it.

    Gives up after ``timeout`` seconds (None), and at once if the participant leaves
    (``CallRefused``: nobody is left to answer).
    """
    found = session_attribute(participant.attributes)
    if found is not None:
        return found
    loop = asyncio.get_running_loop()
    result: asyncio.Future[tuple[str, str] | None] = loop.create_future()

    def on_changed(_changed: dict[str, str], who: ParticipantLike) -> None:
        if who.identity == participant.identity and not result.done():
            hit = session_attribute(who.attributes)
            if hit is not None:
                result.set_result(hit)

    def on_left(who: ParticipantLike) -> None:
        if who.identity == participant.identity and not result.done():
            result.set_exception(CallRefused("the caller left before the call was identified", reason="caller_gone"))

    room.on("participant_attributes_changed", on_changed)
    room.on("participant_disconnected", on_left)
    try:
        # the attribute may have landed between the first read and the subscription
        late = session_attribute(participant.attributes)
        if late is not None:
            return late
        return await asyncio.wait_for(result, timeout)
    except asyncio.TimeoutError:
        return None
    finally:
        room.off("participant_attributes_changed", on_changed)
        room.off("participant_disconnected", on_left)


async def identify_call(
    *,
    job_metadata: str | None,
    room: EmitterLike | None = None,
    participant: ParticipantLike | None = None,
    room_name: str | None = None,
    session_factory: SessionFactory = session_scope,
    attribute_wait: float = ATTRIBUTE_WAIT_SECONDS,
) -> CallIdentity:
    """Claim the call's session, or raise ``CallRefused`` (logged here, once, with its reason)."""
    source = None
    try:
        from_metadata = parse_job_metadata(job_metadata)
        if from_metadata is not None:
            source = "metadata"
            session_id, agent_id = from_metadata
            return await asyncio.to_thread(_claim, session_factory, session_id, room_name, source, agent_id)
        if participant is None:
            raise CallRefused("no session in the job and no caller in the room", reason="unidentified")
        attrs = participant.attributes
        found = (
            await wait_for_session_attribute(room, participant, timeout=attribute_wait)
            if room is not None else session_attribute(attrs)
        )
        if found is not None:
            raw, source = found
            session_id = _uuid(raw)
            if session_id is None:
                raise CallRefused("the call's session id is malformed", reason="malformed", source=source)
            token = resume_token(participant.attributes)
            if token is not None:  # a warm transfer's caller coming back: the session goes on, once
                return await asyncio.to_thread(_resume, session_factory, session_id, token, room_name, source)
            return await asyncio.to_thread(_claim, session_factory, session_id, room_name, source, None)
        source = "dialed_number"
        attrs = participant.attributes  # re-read: the wait may have brought other attributes too
        dialed = (attrs.get(DIALED_ATTRIBUTE) or "").strip()
        if not dialed:
            raise CallRefused("the call carries no session id and no dialed number", reason="unidentified")
        call_sid = next((attrs[k].strip()[:64] for k in CALL_SID_ATTRIBUTES if (attrs.get(k) or "").strip()), None)
        caller = (attrs.get(CALLER_ATTRIBUTE) or "").strip()[:32] or None
        return await asyncio.to_thread(_open_for_number, session_factory, dialed, caller, call_sid, room_name)
    except CallRefused as refused:
        refused.source = refused.source or source
        log.warning(
            "call refused: reason=%s source=%s room=%s participant=%s",
            refused.reason, refused.source, room_name, getattr(participant, "identity", None),
        )
        raise


def _claim(
    session_factory: SessionFactory, session_id: uuid.UUID, room_name: str | None, source: str,
    expected_agent: uuid.UUID | None,
) -> CallIdentity:
    with session_factory() as session:
        try:
            call = calls.claim_session(session, session_id, room_name=room_name)
        except calls.SessionRefused as exc:
            taken = calls.get_call(session, session_id) if exc.reason == "already_answered" else None
            if taken is not None and room_name and taken.room_name == room_name:
                # a second job in the room of the answered call: it must leave quietly, not hang up the caller
                raise CallRefused(str(exc), reason="duplicate_job", source=source) from exc
            raise CallRefused(str(exc), reason=exc.reason, source=source) from exc
        if expected_agent is not None and call.agent_id != expected_agent:
            # the claim rolls back with this exception: the session stays pending for its own agent
            raise CallRefused("the session belongs to another agent", reason="agent_mismatch", source=source)
        return _identity(session, call, source)


def resume_token(attributes: dict[str, str]) -> str | None:
    """The warm-transfer resume token among a participant's attributes, if any."""
    for key in (RESUME_ATTRIBUTE, RESUME_HEADER_ATTRIBUTE):
        value = (attributes.get(key) or "").strip()
        if value:
            return value
    return None


def _resume(session_factory: SessionFactory, session_id: uuid.UUID, token: str, room_name: str | None,
            source: str) -> CallIdentity:
    from voice_platform.services import warm_transfer

    with session_factory() as session:
        try:
            call = warm_transfer.resume(session, session_id, token, room_name=room_name)
        except calls.SessionRefused as exc:
            raise CallRefused(str(exc), reason=exc.reason, source=source) from exc
        return _identity(session, call, source + "+resume")


def _open_for_number(
    session_factory: SessionFactory, dialed: str, caller: str | None, call_sid: str | None, room_name: str | None
) -> CallIdentity:
    with session_factory() as session:
        try:
            call = calls.open_session_for_number(
                session, to_number=dialed, from_number=caller, call_sid=call_sid, room_name=room_name
            )
        except calls.SessionRefused as exc:
            raise CallRefused(str(exc), reason=exc.reason, source="dialed_number") from exc
        except DomainError as exc:  # a dialed "number" that is not E.164
            raise CallRefused(str(exc), reason="invalid_number", source="dialed_number") from exc
        return _identity(session, call, "dialed_number")


def _identity(session: Session, call, source: str) -> CallIdentity:
    agent = session.get(VoiceAgent, call.agent_id)
    return CallIdentity(
        session_id=call.id, agent_id=call.agent_id, organization_id=call.organization_id, source=source,
        provider_call_id=call.provider_call_id, from_number=call.from_number, started_at=call.started_at,
        transfer_number=agent.transfer_number if agent is not None else None, trace_context=call.trace_context,
        outbound=call.direction == "outbound", transfer_mode=agent.transfer_mode if agent is not None else "cold",
        resumed=source.endswith("+resume"),
    )


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        return None
