"""Warm transfer: the caller waits on hold while a person hears the agent's briefing and presses 1.

Why on Twilio's side: LiveKit's own ``WarmTransferTask`` needs ``MoveParticipant``, which only
LiveKit Cloud has. So the caller's Twilio call leaves LiveKit for a ``<Conference>`` (hold
music), the person is called by Twilio, and the caller comes back to the agent, if nobody takes
the call, through a NEW ``<Dial><Sip>`` leg into LiveKit carrying the same session.

The call session stays open (``active``) for the whole transfer: the call goes on in Twilio.
``call_sessions.transfer`` keeps the stages, each change made under a row lock so Twilio's
concurrent callbacks settle the transfer exactly once::

    {"mode": "warm", "attempt": 1, "state": ..., "briefing", "conference", "caller_call_sid",
     "person_number", "person_call_sid", "held_at", "stages": [{"stage", "at", "attempt", ...}]}

    holding -> calling_person -> briefing -> accepted          (bridged; session finished "transferred")
                              \\-> declined | no_answer | failed -> returned -> resumed
    holding -> hold_failed  (Twilio refused: the caller never left the agent)
    returned -> return_failed (the caller could not be brought back: session failed, apology spoken)

Who moves it: the ``transfer_call`` tool (``warm_transfer_legs.start``: holding, then the
caller's call is redirected); ``api/transfer.py``'s webhooks (the conference's waitUrl calls the
person once, the whisper, the digit, the person's status callback); ``resume`` (the worker).
This module is the state (database only); ``services.warm_transfer_legs`` asks Twilio, with no
transaction open while it waits.

Accepted: the session is finished at once as ``transferred`` (as a cold transfer is): the
agent's part, its minutes and its concurrency slot end when the person takes the call; the
caller's later status callback changes nothing (the first finish wins).

THE WORKER CONTRACT (the lead wires it):
- The worker puts the agent's ``transfer_mode`` on ``CallControl.transfer_mode`` ("cold" by
  default): "warm" makes ``transfer_call(briefing)`` take this path.
- Original leg: the tool sets ``CallControl.ended = "warm_transfer"`` before the caller's call is
  redirected. The SIP participant then leaves; the worker must NOT finish the session (neither
  on close nor in its job-shutdown callback), only drain the recorder and delete its room.
  ``in_progress(session, session_id)`` says the same from the database (for a crash-safe check).
- Return leg: the SIP URI carries ``X-Vp-Session=<session id>`` and ``X-Vp-Resume=<token>``
  (``telephony.twiml.SESSION_HEADER`` / ``RESUME_HEADER``); LiveKit's trunk maps them to the
  participant attributes ``vp.session`` / ``vp.resume`` (``livekit_sip.SESSION_ATTRIBUTE`` /
  ``RESUME_ATTRIBUTE``; ``include_headers`` also gives ``sip.h.x-vp-resume``). With a resume
  token the worker calls ``resume(session, session_id, token, room_name=...)`` INSTEAD of
  ``calls.claim_session``: it returns the (still active) CallSession, or raises
  ``ResumeRefused`` (a ``calls.SessionRefused``, ``.reason``: malformed | forged | unknown | ended |
  already_answered | not_returning). The token is single-use (the state moves to ``resumed``)
  and bound to the session and the attempt (``resume_token(session_id, attempt)``, an HMAC with
  the secret key). The worker then continues the same conversation from the stored turns
  (``calls.turns``) instead of greeting, and asks the model to speak ``resume_note(call)``'s
  instruction (the transfer did not go through; offer a message or a callback).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Iterator

from sqlmodel import Session, select

from voice_platform import telemetry
from voice_platform.errors import DomainError, NotFound
from voice_platform.models import CallSession, User, VoiceAgent
from voice_platform.models.base import aware, utcnow
from voice_platform.models.calls import ACTIVE, OUTBOUND, PHONE
from voice_platform.services import calls
from voice_platform.services.rbac import require
from voice_platform.settings import get_settings
from voice_platform.telephony import twilio_conference

log = logging.getLogger(__name__)

MODE = "warm"
HOLDING, CALLING, BRIEFING, ACCEPTED = "holding", "calling_person", "briefing", "accepted"
DECLINED, NO_ANSWER, FAILED = "declined", "no_answer", "failed"
RETURNED, RESUMED = "returned", "resumed"
HOLD_FAILED, RETURN_FAILED = "hold_failed", "return_failed"
WAITING = (HOLDING, CALLING, BRIEFING)  # the caller is on hold and nobody has decided yet
OUTCOMES = (DECLINED, NO_ANSWER, FAILED)  # nobody took the call: the caller goes back
AWAY = (*WAITING, *OUTCOMES, RETURNED)  # the caller is not with the agent's original leg

MAX_BRIEFING_CHARS = 600  # about 40 seconds of speech: the person decides, then reads the call page
MAX_ATTEMPTS = 3  # per call: a caller is not bounced between hold and the agent forever
HOLD_LIMIT = timedelta(minutes=2)  # a transfer left undecided this long (a lost callback) gives up
PERSON_FINAL = {"completed": DECLINED, "busy": NO_ANSWER, "no-answer": NO_ANSWER, "canceled": NO_ANSWER,
                "failed": FAILED}
TOKEN_CONTEXT = b"vp-warm-transfer-resume"


class TransferRefused(DomainError):
    """The transfer cannot start; the message is for the model to act on."""

    status_code = 409


class ResumeRefused(calls.SessionRefused):
    """A return leg the worker must not answer (see the module docstring for ``reason``)."""


@dataclass(frozen=True)
class Hold:
    """What putting the caller on hold needs, read in the transaction that recorded ``holding``."""

    session_id: uuid.UUID
    attempt: int
    caller_call_sid: str
    conference: str
    trace_context: str | None


@dataclass(frozen=True)
class Leg:
    """A call to make or redirect, read under the row lock, made after the commit."""

    call_sid: str | None
    agent_number: str
    person_number: str | None
    trace_context: str | None


# --- the resume token -------------------------------------------------------------------------

def _mac(session_id: uuid.UUID, attempt: int) -> str:
    key = hashlib.sha256(TOKEN_CONTEXT + get_settings().secret_key.encode()).digest()
    digest = hmac.digest(key, f"{session_id}:{attempt}".encode(), "sha256")
    return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")


def resume_token(session_id: uuid.UUID, attempt: int) -> str:
    """``<attempt>.<mac>``: proves the return leg was sent by us, for this session and attempt."""
    return f"{attempt}.{_mac(uuid.UUID(str(session_id)), attempt)}"


def _token_attempt(session_id: uuid.UUID, token: str) -> int:
    raw_attempt, _, mac = (token or "").strip().partition(".")
    if not raw_attempt.isdigit() or not mac or len(raw_attempt) > 3:
        raise ResumeRefused("The resume token is malformed", reason="malformed")
    attempt = int(raw_attempt)
    if not hmac.compare_digest(mac, _mac(session_id, attempt)):
        raise ResumeRefused("The resume token is not valid for this call", reason="forged")
    return attempt


# --- the state, under a row lock --------------------------------------------------------------

def _locked(session: Session, session_id: uuid.UUID) -> CallSession | None:
    statement = select(CallSession).where(CallSession.id == session_id).with_for_update()
    return session.exec(statement.execution_options(populate_existing=True)).first()


def _current(session: Session, session_id: uuid.UUID, attempt: int) -> tuple[CallSession | None, dict]:
    """The open call and its transfer when ``attempt`` is the current one; else (None, {})."""
    call = _locked(session, session_id)
    transfer = dict(call.transfer or {}) if call is not None else {}
    if call is None or call.status != ACTIVE or transfer.get("attempt") != attempt:
        return None, {}
    return call, transfer


@contextmanager
def stage_span(call: CallSession | Hold | Leg, stage: str, session_id: uuid.UUID, attempt: int,
                **attributes: Any) -> Iterator[Any]:
    """One span per stage, in the call's trace (numbers and the briefing never go on it)."""
    with telemetry.continue_trace(call.trace_context, f"call.transfer.{stage}", **{
            "call.session_id": str(session_id), "transfer.attempt": attempt, **attributes}) as span:
        yield span


def _move(session: Session, call: CallSession, transfer: dict, state: str, *, stage: str | None = None,
          span: bool = True, **details: Any) -> None:
    """Record a stage and the new state (a new dict: the JSON column sees the change), flushed."""
    stage = stage or state
    entry = {"stage": stage, "at": utcnow().isoformat(), "attempt": transfer.get("attempt"), **details}
    call.transfer = {**transfer, "state": state, "stages": [*(transfer.get("stages") or []), entry]}
    session.add(call)
    session.flush()
    if span:  # an instant: the stage happened in this request
        with stage_span(call, stage, call.id, transfer.get("attempt") or 0, **{"transfer.state": state}):
            pass


def _agent_number(session: Session, call: CallSession) -> tuple[str, str | None]:
    """The agent's number (the caller id towards the person, and the number LiveKit's trunk
    matches on the return leg) and its transfer number."""
    agent = session.get(VoiceAgent, call.agent_id)
    own = call.from_number if call.direction == OUTBOUND else call.to_number
    return (agent.phone_number if agent and agent.phone_number else own or ""), (agent.transfer_number if agent else None)


def begin(session: Session, session_id: uuid.UUID, briefing: str) -> Hold:
    """Record ``holding`` (a new attempt) for an active phone call, or refuse with a reason."""
    text = " ".join((briefing or "").split())[:MAX_BRIEFING_CHARS]
    if not text:
        raise TransferRefused("Write a short briefing for the person (who is calling, what they want, what you "
                              "did), then call transfer_call again.")
    call = _locked(session, session_id)
    if call is None or call.kind != PHONE or call.status != ACTIVE or not call.provider_call_id:
        raise TransferRefused("This call cannot be transferred now.")
    agent_number, person_number = _agent_number(session, call)
    if not person_number or not agent_number:
        raise TransferRefused("Transferring is not set up for this agent. Offer to take a message instead.")
    transfer = dict(call.transfer or {})
    if transfer.get("state") in AWAY:
        raise TransferRefused("A transfer of this call is already under way.")
    attempt = int(transfer.get("attempt") or 0) + 1
    if attempt > MAX_ATTEMPTS:
        raise TransferRefused("The transfer was already tried several times. Offer to take a message instead.")
    conference = twilio_conference.conference_name(session_id, attempt)
    agent = session.get(VoiceAgent, call.agent_id)  # already read by _agent_number: no query
    transfer.update(mode=MODE, attempt=attempt, briefing=text, conference=conference,
                    caller_call_sid=call.provider_call_id, person_number=person_number, person_call_sid=None,
                    held_at=utcnow().isoformat(), hold_music=agent.hold_music_url if agent else None)
    _move(session, call, transfer, HOLDING, span=False)  # its span wraps the redirect (warm_transfer_legs.start)
    return Hold(session_id, attempt, call.provider_call_id, conference, call.trace_context)


def settle(session: Session, session_id: uuid.UUID, attempt: int, state: str, *, from_states: tuple[str, ...],
           **details: Any) -> bool:
    """Move the current attempt from one of ``from_states`` to ``state``; False when it had moved on."""
    call, transfer = _current(session, session_id, attempt)
    if call is None or transfer.get("state") not in from_states:
        return False
    _move(session, call, transfer, state, **details)
    return True


def waiting(session: Session, session_id: uuid.UUID, attempt: int) -> tuple[str, str | None]:
    """The conference's waitUrl was asked: what to do, and the hold music of this attempt (the
    agent's when the transfer began; None: Twilio's). What to do: "call_person" (the first time),
    "return" (the person's call is lost, or the hold was reported failed yet the caller is here),
    "music", or "hang_up" (the session is over or another attempt's: nobody will ever come for
    this caller)."""
    call, transfer = _current(session, session_id, attempt)
    if call is None:
        return "hang_up", None
    return _waiting(session, call, transfer), transfer.get("hold_music")


def _waiting(session: Session, call: CallSession, transfer: dict[str, Any]) -> str:
    state = transfer.get("state")
    if state == HOLDING:
        _move(session, call, transfer, CALLING, span=False)  # its span wraps the call (warm_transfer_legs)
        return "call_person"
    if state == HOLD_FAILED:  # Twilio moved the caller after all, later than we waited for it
        _move(session, call, transfer, FAILED, error="the caller reached the hold after the tool gave up")
        return "return"
    held = aware(_parse(transfer.get("held_at")))
    if state in (CALLING, BRIEFING) and held is not None and utcnow() - held > HOLD_LIMIT:
        _move(session, call, transfer, NO_ANSWER, error="nobody decided in time")
        return "return"
    return "music"


def person_leg(session: Session, session_id: uuid.UUID, attempt: int) -> Leg | None:
    """Whom to call and from which number, while the transfer is ``calling_person``."""
    call, transfer = _current(session, session_id, attempt)
    if call is None or transfer.get("state") != CALLING:
        return None
    agent_number, person_number = _agent_number(session, call)
    return Leg(None, agent_number, person_number or transfer.get("person_number"), call.trace_context)


def person_called(session: Session, session_id: uuid.UUID, attempt: int, call_sid: str) -> None:
    call, transfer = _current(session, session_id, attempt)
    if call is not None:
        call.transfer = {**transfer, "person_call_sid": call_sid[:64]}
        session.add(call)


def briefing_for(session: Session, session_id: uuid.UUID, attempt: int) -> str | None:
    """The person picked up: the briefing to whisper (stage ``briefing``); None when the caller
    is no longer waiting for this attempt."""
    call, transfer = _current(session, session_id, attempt)
    if call is None or transfer.get("state") not in (CALLING, BRIEFING):
        return None
    if transfer.get("state") == CALLING:
        _move(session, call, transfer, BRIEFING)
    return transfer.get("briefing") or ""


def person_answered(session: Session, session_id: uuid.UUID, attempt: int, digits: str) -> str:
    """The whisper's Gather ended: "accepted" (pressed 1: stage accepted, the session finished as
    ``transferred``), "declined" (anything else, or nothing), or "gone" (the caller left first)."""
    call, transfer = _current(session, session_id, attempt)
    if call is None or transfer.get("state") not in (CALLING, BRIEFING):
        return "gone"
    if (digits or "").strip() == "1":
        _move(session, call, transfer, ACCEPTED)
        calls.finish_session(session, session_id, reason="transferred")
        return "accepted"
    _move(session, call, transfer, DECLINED, pressed=(digits or "").strip()[:4] or None)
    return "declined"


def person_call_ended(session: Session, session_id: uuid.UUID, attempt: int, call_status: str) -> bool:
    """The person's call ended (its status callback); True when that leaves the caller to be
    brought back (nobody answered, busy, failed, or hung up without pressing 1)."""
    outcome = PERSON_FINAL.get(call_status)
    if outcome is None:
        return False
    return settle(session, session_id, attempt, outcome, from_states=(CALLING, BRIEFING), status=call_status)


def returning_leg(session: Session, session_id: uuid.UUID, attempt: int) -> Leg | None:
    """Record ``returned`` (before Twilio is asked, so the worker's ``resume`` may come at once)
    and what the new SIP leg needs; None when there is nothing to bring back."""
    call, transfer = _current(session, session_id, attempt)
    if call is None or transfer.get("state") not in OUTCOMES:
        return None
    _move(session, call, transfer, RETURNED, span=False)  # its span wraps the redirect
    agent_number, _ = _agent_number(session, call)
    return Leg(call.provider_call_id, agent_number, None, call.trace_context)


def resume(session: Session, session_id: uuid.UUID, token: str, *, room_name: str | None = None) -> CallSession:
    """The worker answers the return leg: the active call, once per returned attempt."""
    session_id = uuid.UUID(str(session_id))
    attempt = _token_attempt(session_id, token)
    call = _locked(session, session_id)
    if call is None:
        raise ResumeRefused("Unknown call session", reason="unknown")
    if call.status != ACTIVE:
        raise ResumeRefused("This call session has ended", reason="ended")
    transfer = dict(call.transfer or {})
    if transfer.get("attempt") != attempt or transfer.get("state") != RETURNED:
        taken = transfer.get("attempt") == attempt and transfer.get("state") == RESUMED
        raise ResumeRefused("This call is not coming back from a transfer",
                            reason="already_answered" if taken else "not_returning")
    if room_name:
        call.room_name = room_name[:128]
    _move(session, call, transfer, RESUMED)
    return call


def resumed(call: CallSession) -> bool:
    """The call came back to its agent from a warm transfer (``resume`` took its token)."""
    return (call.transfer or {}).get("state") == RESUMED


def resume_note(call: CallSession) -> str:
    """The instruction the resumed conversation gives the model before it speaks."""
    outcomes = [s.get("stage") for s in (call.transfer or {}).get("stages") or [] if s.get("stage") in OUTCOMES]
    why = {DECLINED: "the person could not take the call", NO_ANSWER: "nobody answered",
           FAILED: "the call to the person could not be made"}.get(outcomes[-1] if outcomes else "", "it failed")
    return (f"You tried to transfer the caller to a person, but {why}. The caller has been on hold and is back "
            "with you now. Apologise briefly, say nobody could take the call right now, and offer to take a "
            "message or to arrange a callback. Continue the same conversation.")


def in_progress(session: Session, session_id: uuid.UUID) -> bool:
    """True while a warm transfer holds the call away from the agent's original leg."""
    call = session.get(CallSession, session_id, populate_existing=True)
    return call is not None and (call.transfer or {}).get("state") in AWAY


def transfer_of(session: Session, actor: User, call_id: uuid.UUID) -> dict | None:
    """The call page's view of the transfer (stages, outcome); another organization's call is 404."""
    call = session.get(CallSession, call_id)
    if call is None:
        raise NotFound("Call not found")
    require(session, actor, "call:read", call.organization_id, not_found="Call not found")
    return dict(call.transfer) if call.transfer else None


def _parse(value: Any):
    from datetime import datetime

    try:
        return datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None
