"""The Twilio legs of a warm transfer: hold the caller, call the person, bring the caller back.

``services.warm_transfer`` keeps the state; this module asks Twilio. Each function manages its
own transactions (call it with no session open): the state change is committed before Twilio
is asked, so no row lock is held while Twilio answers, and a callback arriving meanwhile
already sees the new state. Every request is bounded (``twilio_conference.HTTP_TIMEOUT_SECONDS``).

Never silence: a caller on hold whose person cannot be called goes back to the agent; a caller
who cannot be brought back hears an apology and the session is failed with the reason.
"""

from __future__ import annotations

import logging
import uuid

from voice_platform.db import session_scope
from voice_platform.services import calls, warm_transfer
from voice_platform.services.warm_transfer import CALLING, FAILED, HOLD_FAILED, HOLDING, RETURN_FAILED, RETURNED
from voice_platform.settings import get_settings
from voice_platform.telephony import twilio_conference, twiml, urls

log = logging.getLogger(__name__)

RETURN_TRIES = 2  # one retry: a Twilio hiccup must not cost the caller their conversation


def start(session_id: uuid.UUID, briefing: str, *, session_factory=session_scope) -> int:
    """Put the caller on hold for a new attempt (its number). ``TransferRefused`` when the call
    cannot be transferred; a Twilio failure is re-raised once recorded (``hold_failed``): the
    caller is still with the agent. Called by the ``transfer_call`` tool, in a thread."""
    with session_factory() as session:
        hold = warm_transfer.begin(session, session_id, briefing)
    document = twilio_conference.hold_twiml(hold.conference, twilio_conference.wait_url(session_id, hold.attempt))
    with warm_transfer.stage_span(hold, "holding", session_id, hold.attempt) as span:
        try:
            twilio_conference.redirect(hold.caller_call_sid, document)
        except Exception as exc:
            span.set_attribute("transfer.error", type(exc).__name__)
            with session_factory() as session:
                gave_up = warm_transfer.settle(session, session_id, hold.attempt, HOLD_FAILED,
                                               from_states=(HOLDING,), error=f"Twilio: {type(exc).__name__}")
            if gave_up:
                raise
            # the waitUrl came in meanwhile: Twilio did move the caller, only its answer was lost
            log.info("transfer of %s: the caller reached the hold although Twilio's answer failed", session_id)
    return hold.attempt


def call_person(session_id: uuid.UUID, attempt: int, *, session_factory=session_scope) -> None:
    """Call the person (the first waitUrl request asks for it, after answering); on failure the
    caller goes back to the agent."""
    with session_factory() as session:
        leg = warm_transfer.person_leg(session, session_id, attempt)
    if leg is None:
        return
    with warm_transfer.stage_span(leg, CALLING, session_id, attempt) as span:
        try:
            if not leg.person_number or not leg.agent_number:
                raise ValueError("the agent has no transfer number or no number of its own any more")
            call_sid = twilio_conference.call_person(
                to=leg.person_number, from_=leg.agent_number, url=twilio_conference.whisper_url(session_id, attempt),
                status_callback=twilio_conference.person_status_url(session_id, attempt))
        except Exception as exc:  # noqa: BLE001 - whatever failed, the caller must not wait for nobody
            span.set_attribute("transfer.error", type(exc).__name__)
            log.warning("transfer of %s: the person could not be called (%s)", session_id, type(exc).__name__)
            with session_factory() as session:
                back = warm_transfer.settle(session, session_id, attempt, FAILED, from_states=(CALLING,),
                                            error=f"the person could not be called ({type(exc).__name__})")
            if back:
                bring_back(session_id, attempt, session_factory=session_factory)
            return
    with session_factory() as session:
        warm_transfer.person_called(session, session_id, attempt, call_sid)


def return_twiml(session_id: uuid.UUID, attempt: int, agent_number: str) -> str:
    """A new ``<Dial><Sip>`` into LiveKit, as the incoming webhook's, plus the resume token; its
    Dial action is the usual one, so a leg that cannot connect still ends in a spoken apology."""
    settings = get_settings()
    uri = twiml.sip_uri(agent_number, settings.livekit_sip_domain or "", str(session_id),
                        resume=warm_transfer.resume_token(session_id, attempt))
    return twiml.dial_sip(uri=uri, username=settings.livekit_sip_username, password=settings.livekit_sip_password,
                          action_url=urls.dial_status_url())


def bring_back(session_id: uuid.UUID, attempt: int, *, session_factory=session_scope) -> bool:
    """Send the caller back to the agent (stage ``returned``); True when Twilio took the new TwiML.
    When it cannot (no LiveKit SIP domain, Twilio failing twice) the session is failed and the
    caller hears an apology, if Twilio lets us say one."""
    with session_factory() as session:
        leg = warm_transfer.returning_leg(session, session_id, attempt)
    if leg is None or not leg.call_sid:
        return False
    error = None
    with warm_transfer.stage_span(leg, RETURNED, session_id, attempt) as span:
        if not get_settings().livekit_sip_domain:
            error = "LIVEKIT_SIP_DOMAIN is not set"
        else:
            document = return_twiml(session_id, attempt, leg.agent_number)
            for _ in range(RETURN_TRIES):
                try:
                    twilio_conference.redirect(leg.call_sid, document)
                    return True
                except Exception as exc:  # noqa: BLE001 - retried, then the apology below
                    error = f"Twilio could not bring the caller back ({type(exc).__name__})"
        span.set_attribute("transfer.error", error or "")
    log.error("transfer of %s: %s", session_id, error)
    with session_factory() as session:
        warm_transfer.settle(session, session_id, attempt, RETURN_FAILED, from_states=(RETURNED,), error=error)
        calls.finish_session(session, session_id, reason="error", error=f"warm transfer: {error}")
    try:
        twilio_conference.redirect(leg.call_sid, twiml.say_and_hang_up(twiml.APOLOGY))
    except Exception:  # noqa: BLE001 - Twilio is down: the conference's end is all that is left
        log.warning("transfer of %s: the apology could not be sent either", session_id)
    return False
