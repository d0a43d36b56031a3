"""Placing one outbound call: the API's ``POST /agents/{id}/calls`` and the campaign dialer share it.

The function the campaign dialer (services/dialer.py) calls for a contact, EXACTLY this path::

    open_and_dial(org_id: uuid.UUID, agent_id: uuid.UUID, to: str, variables: dict | None = None, *,
                  campaign_contact_id: uuid.UUID | None = None, actor: User | None = None) -> PlacedCall

    PlacedCall(call_id: uuid.UUID, status: str = "queued", provider_call_id: str | None)

It manages its own transactions (do not call it inside an open session scope):
  1. one transaction: checks (actor given: ``agent:update`` in org_id; an agent of another
     organization is NotFound; ``to`` E.164, variables (``validate_variables``), Twilio and LiveKit
     SIP configured, the agent active and with a number, the do-not-call list), open the
     CallSession (kind phone, direction outbound, status pending), take the plan's slot, and, with
     ``campaign_contact_id``, set that contact's ``last_call_id`` to the new call's id;
  2. Twilio ``calls.create`` (no transaction open while Twilio is asked);
  3. store the CallSid.
Raises (nothing is opened unless said):
  - ``SlotRefused`` (429; ``.reason`` "over_concurrency" | "minutes_exhausted"): the plan's slot
    was refused: the transaction rolled back, no session, ``last_call_id`` untouched;
  - ``OnDoNotCallList`` (a Conflict, 409): the number is on the organization's list;
  - ``ValidationFailed`` (422), ``NotFound`` (404), ``PermissionDenied`` (403), ``AgentSwitchedOff``
    (409), ``IntegrationNotConfigured``/``TwilioNotConfigured`` (503);
  - ``TwilioUnavailable`` (502): Twilio refused or did not answer: the session was opened and is
    finished with reason ``dial_failed`` (slot given back; for a campaign contact,
    ``campaign_outcomes`` set it ``failed`` in that same transaction).

``validate_variables(value, field="variables") -> dict`` is the variables' rule, for campaign
contacts too. ``sweep_undialed(now=None) -> int`` fails outbound sessions left pending without a CallSid for
``NEVER_DIALED_AFTER`` (the process died between steps 1 and 2): reason ``never_dialed``, slot
given back. The dialer loop calls it every round.

Twilio then drives the call through ``api/voice.py``: the answer webhook (``outbound_answers``) bridges the
callee into LiveKit like an inbound caller, the asynchronous answering-machine result
(``machine_detected``) applies the agent's ``voicemail_action``, and the call's status callback
closes the session as ``services.calls`` closes an inbound one. Each of those finds the session by
the id in its signed URL and attaches the CallSid if step 3 has not yet (Twilio can call back
before ``calls.create`` has returned to us).
"""

from __future__ import annotations

import logging
import math
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from voice_platform import telemetry
from voice_platform.db import session_scope
from voice_platform.errors import Conflict, IntegrationNotConfigured, NotFound, QuotaExceeded, ValidationFailed
from voice_platform.models import CallSession, CampaignContact, Organization, User, VoiceAgent
from voice_platform.models.base import utcnow
from voice_platform.models.calls import OPEN_STATUSES, OUTBOUND, PENDING, PHONE
from voice_platform.services import billing, calls, do_not_call, placeholders, validation
from voice_platform.services.rbac import require
from voice_platform.settings import get_settings
from voice_platform.telephony import twilio_rest, twiml, urls

log = logging.getLogger(__name__)

NOT_FOUND = "Agent not found"
NEEDS_NUMBER = "The agent needs a phone number to call from"
MAX_VARIABLES = 50
MAX_VALUE_LENGTH = 500
NAME = re.compile(placeholders.NAME_PATTERN)
NEVER_DIALED_AFTER = timedelta(minutes=2)
# Twilio's answering-machine detection results that mean a machine took the call (DetectMessageEnd:
# reported after the greeting's beep, silence or end, so a message left now is recorded whole).
MACHINE = frozenset({"machine_end_beep", "machine_end_silence", "machine_end_other"})
SLOT_MESSAGES = {
    billing.OVER_CONCURRENCY: "Every call line of your plan is in use; try again when a call has ended",
    billing.MINUTES_EXHAUSTED: "Your plan's minutes for this period are used up; upgrade the plan to call",
}


class SlotRefused(QuotaExceeded):
    """The plan has no free call line (or no minutes left): try again later (429)."""

    status_code = 429

    def __init__(self, reason: str) -> None:
        super().__init__(SLOT_MESSAGES.get(reason, SLOT_MESSAGES[billing.OVER_CONCURRENCY]))
        self.reason = reason


class OnDoNotCallList(Conflict):
    """The organization's do-not-call list holds the number (409: the request is well formed)."""


class AgentSwitchedOff(Conflict):
    """The agent is switched off: it neither answers nor places calls (409)."""


@dataclass(frozen=True)
class PlacedCall:
    call_id: uuid.UUID
    status: str = "queued"
    provider_call_id: str | None = None


@dataclass(frozen=True)
class _Opened:
    call_id: uuid.UUID
    to: str
    from_: str


def validate_variables(value: object, field: str = "variables") -> dict[str, Any]:
    """A call's ``{{placeholder}}`` values: a flat object of at most ``MAX_VARIABLES`` scalars
    (text up to ``MAX_VALUE_LENGTH`` characters, numbers, booleans, null), names as placeholders
    spell them. Also the campaign contacts' check."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationFailed("Variables must be an object of names to values", field=field)
    if len(value) > MAX_VARIABLES:
        raise ValidationFailed(f"At most {MAX_VARIABLES} variables per call", field=field)
    for name, item in value.items():
        if not isinstance(name, str) or not NAME.match(name):
            raise ValidationFailed("A variable's name is letters, digits and underscores, not starting with a "
                                   "digit, at most 64 characters", field=field)
        if isinstance(item, str):
            if len(item) > MAX_VALUE_LENGTH or "\x00" in item:
                raise ValidationFailed(f"Variable {name}: text of at most {MAX_VALUE_LENGTH} characters, "
                                       "without NUL", field=field)
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ValidationFailed(f"Variable {name} is not valid text", field=field) from None
        elif item is not None and not isinstance(item, (bool, int, float)):
            raise ValidationFailed(f"Variable {name} must be text, a number, true/false or null", field=field)
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValidationFailed(f"Variable {name} must be a finite number", field=field)
    return dict(value)


def _callee(to: object) -> str:
    number = validation.phone_e164(to, field="to")
    if number is None:
        raise ValidationFailed("A number to call in E.164 format is required, e.g. +14155550100", field="to")
    return number


def _require_configured() -> None:
    if not twilio_rest.is_configured():
        raise twilio_rest.TwilioNotConfigured("Outbound calls need Twilio: set TWILIO_ACCOUNT_SID and "
                                              "TWILIO_AUTH_TOKEN")
    if not get_settings().livekit_sip_domain:
        raise IntegrationNotConfigured("Outbound calls need LiveKit SIP: set LIVEKIT_SIP_DOMAIN")


def _open(session, *, org_id: uuid.UUID | None, agent_id: uuid.UUID, to: object, variables: object,
          campaign_contact_id: uuid.UUID | None, actor: User | None, trace_context: str | None = None) -> _Opened:
    """Step 1, in the caller's transaction: the checks, in the order a person fixes them, then the
    session, its slot and the contact's call id."""
    agent = session.get(VoiceAgent, agent_id)
    if agent is None or (org_id is not None and agent.organization_id != org_id):
        raise NotFound(NOT_FOUND)
    if actor is not None:
        require(session, actor, "agent:update", agent.organization_id, not_found=NOT_FOUND)
    number, values = _callee(to), validate_variables(variables)
    _require_configured()
    if not agent.is_active:
        raise AgentSwitchedOff("The agent is switched off; switch it on to place calls")
    if not agent.phone_number:
        raise ValidationFailed(NEEDS_NUMBER, field="agent_id")
    if do_not_call.is_listed(session, agent.organization_id, number):
        raise OnDoNotCallList(f"{number} is on the organization's do-not-call list", field="to")
    refusal = billing.take_slot(session, agent.organization_id)
    if refusal is not None:
        raise SlotRefused(refusal)
    now = utcnow()
    call = CallSession(organization_id=agent.organization_id, agent_id=agent.id, kind=PHONE, direction=OUTBOUND,
                       status=PENDING, from_number=agent.phone_number, to_number=number, variables=values or None,
                       campaign_contact_id=campaign_contact_id, started_at=now, trace_context=trace_context)
    session.add(call)
    session.flush()
    if campaign_contact_id is not None:
        session.execute(update(CampaignContact).where(CampaignContact.id == campaign_contact_id)
                        .values(last_call_id=call.id, updated_at=now)
                        .execution_options(synchronize_session=False))
    return _Opened(call_id=call.id, to=number, from_=agent.phone_number)


def open_and_dial(org_id: uuid.UUID | None, agent_id: uuid.UUID, to: str, variables: dict | None = None, *,
                  campaign_contact_id: uuid.UUID | None = None, actor: User | None = None) -> PlacedCall:
    """Open the session (with its slot) and ask Twilio to place the call; see the module's docstring."""
    # The call's trace starts here, as an inbound call's starts at its webhook: the session keeps
    # this span's traceparent, and the worker's spans (and a warm transfer's) join it.
    with telemetry.tracer().start_as_current_span("call.outbound.place", attributes={
            "call.agent_id": str(agent_id), "call.campaign": campaign_contact_id is not None}) as span:
        with session_scope() as session:
            opened = _open(session, org_id=org_id, agent_id=agent_id, to=to, variables=variables,
                           campaign_contact_id=campaign_contact_id, actor=actor,
                           trace_context=telemetry.traceparent_of(span))
        span.set_attribute("call.session_id", str(opened.call_id))
        try:
            sid = twilio_rest.create_call(
                to=opened.to, from_=opened.from_, url=urls.outbound_answer_url(opened.call_id),
                status_callback=urls.outbound_status_url(opened.call_id),
                amd_callback=urls.amd_callback_url(opened.call_id),
            )
        except Exception as exc:
            _dial_failed(opened.call_id, exc)
            raise
        with session_scope() as session:
            _attach(session, opened.call_id, sid)
    return PlacedCall(call_id=opened.call_id, provider_call_id=sid)


def place_call(actor: User, agent_id: uuid.UUID, to: str, variables: dict | None = None) -> PlacedCall:
    """``POST /agents/{agent_id}/calls``: the agent's organization, ``agent:update`` required."""
    return open_and_dial(None, agent_id, to, variables, actor=actor)


def _dial_failed(call_id: uuid.UUID, exc: Exception) -> None:
    message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
    log.warning("outbound call %s: Twilio did not place it (%s)", call_id, type(exc).__name__)
    try:
        with session_scope() as session:
            calls.finish_session(session, call_id, reason="dial_failed", error=str(message)[:500])
    except Exception:  # noqa: BLE001 - the sweep closes it (never_dialed) and gives the slot back
        log.exception("outbound call %s: could not record that it was not placed", call_id)


def _attach(session, call_id: uuid.UUID, call_sid: str) -> bool:
    """Store the CallSid on the outbound session that has none yet (whoever is first: the placing
    request or one of Twilio's callbacks)."""
    if not call_sid or len(call_sid) > 64:
        return False
    return session.execute(
        update(CallSession)
        .where(CallSession.id == call_id, CallSession.direction == OUTBOUND, CallSession.provider_call_id.is_(None))
        .values(provider_call_id=call_sid, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount > 0


def undialed_query(now: datetime):
    """The outbound calls opened before ``now - NEVER_DIALED_AFTER`` and never placed (their
    conditions are the partial index ``ix_call_sessions_undialed``'s, so it answers this)."""
    return (select(CallSession.id).where(CallSession.status == PENDING, CallSession.provider_call_id.is_(None),
                                         CallSession.direction == OUTBOUND,
                                         CallSession.started_at < now - NEVER_DIALED_AFTER)
            .order_by(CallSession.started_at).limit(500))


def sweep_undialed(now: datetime | None = None) -> int:
    """Fail outbound sessions still pending with no CallSid after ``NEVER_DIALED_AFTER``: the
    process placing them stopped before Twilio was asked (or before it answered), so nobody else
    will close them and their slot would stay taken. Returns how many were closed."""
    with session_scope() as session:
        stale = session.execute(undialed_query(now or utcnow())).scalars().all()
        closed = sum(calls.finish_session(session, call_id, reason="never_dialed",
                                          error="The call was opened but never placed with Twilio")
                     for call_id in stale)
    if closed:
        log.warning("closed %d outbound call(s) never placed with Twilio", closed)
    return closed


# --- Twilio's callbacks (api/voice.py) -----------------------------------------------------

def status_changed(session, call_id: uuid.UUID, call_sid: str, call_status: str, duration: str | None) -> bool:
    """The outbound call's status callback: attach the CallSid, then close it like an inbound call."""
    _attach(session, call_id, call_sid)
    return calls.call_status_changed(session, call_sid, call_status, duration)


@dataclass(frozen=True)
class Voicemail:
    """What the AMD callback decided: the TwiML to give the live call, if any."""

    call_sid: str
    twiml: str


def machine_detected(session, call_id: uuid.UUID, call_sid: str, answered_by: str,
                     detection_ms: str | None) -> Voicemail | None:
    """Twilio's asynchronous answering-machine result. Stored on the session; for a machine, the
    agent's ``voicemail_action``: ``hangup`` or ``leave_message`` end the call as ``voicemail``
    (metered from when Twilio answered) and return the TwiML to push to the call; ``continue``
    lets the agent talk on. A human, a fax or ``unknown`` change nothing else."""
    _attach(session, call_id, call_sid)
    call = session.get(CallSession, call_id, populate_existing=True)
    if call is None or call.direction != OUTBOUND or call.provider_call_id != call_sid:
        return None
    session.execute(update(CallSession).where(CallSession.id == call_id)
                    .values(answered_by=(answered_by or "unknown")[:30], updated_at=utcnow())
                    .execution_options(synchronize_session=False))
    agent = session.get(VoiceAgent, call.agent_id)
    if answered_by not in MACHINE or call.status not in OPEN_STATUSES or agent is None:
        return None
    action = agent.voicemail_action
    if action not in ("hangup", "leave_message"):
        return None
    document = twiml.hang_up()
    if action == "leave_message" and (agent.voicemail_message or "").strip():
        document = twiml.say_and_hang_up(_message(session, call, agent))
    answered = utcnow() - timedelta(milliseconds=_milliseconds(detection_ms))
    session.execute(update(CallSession).where(CallSession.id == call_id)  # metered from the answer
                    .values(answered_at=func.coalesce(CallSession.answered_at, answered))
                    .execution_options(synchronize_session=False))
    calls.finish_session(session, call_id, reason="voicemail")
    return Voicemail(call_sid=call_sid, twiml=document)


def _message(session, call: CallSession, agent: VoiceAgent) -> str:
    org = session.get(Organization, call.organization_id)
    values = placeholders.call_values(caller_number=call.to_number, agent_number=call.from_number,
                                      timezone_name=org.timezone if org else None, variables=call.variables)
    return placeholders.fill(agent.voicemail_message or "", values)


def _milliseconds(value: str | None) -> int:
    """Twilio's MachineDetectionDuration, bounded (a minute at most: DetectMessageEnd's limit)."""
    return min(int(value), 60_000) if value and value.isdigit() else 0


def leave_voicemail(voicemail: Voicemail) -> None:
    """After the AMD callback's transaction committed: give the live call its new TwiML."""
    try:
        twilio_rest.update_call_twiml(voicemail.call_sid, voicemail.twiml)
    except Exception as exc:  # noqa: BLE001 - the callee hung up already, or Twilio is down: the call ends anyway
        log.warning("voicemail TwiML not given to call %s (%s)", voicemail.call_sid, type(exc).__name__)
