"""Twilio's webhooks during a warm transfer (``services.warm_transfer`` has the whole story).

    POST /api/v1/voice/twilio/transfer/wait?session=&attempt=           the conference's waitUrl
    POST /api/v1/voice/twilio/transfer/whisper?session=&attempt=        the person's call answered
    POST /api/v1/voice/twilio/transfer/accept?session=&attempt=         the whisper's Gather action
    POST /api/v1/voice/twilio/transfer/person-status?session=&attempt=  the person's call ended

Each request's signature is verified over its exact URL as ``api/voice.py`` does (its
``twilio_request`` dependency: 403 and nothing read when missing or forged); the session and
attempt in the query are therefore as authentic as the rest. Twilio always gets TwiML someone
can hear, quickly: the database work is bounded, and Twilio requests (calling the person,
bringing the caller back) run after the response, in the background.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response

from voice_platform.api.voice import twilio_request
from voice_platform.db import session_scope
from voice_platform.services import incoming_calls, warm_transfer, warm_transfer_legs
from voice_platform.telephony import twilio_conference, twiml

log = logging.getLogger(__name__)
router = APIRouter(prefix=twilio_conference.TRANSFER_PREFIX.removeprefix("/api/v1"), tags=["voice"],
                   include_in_schema=False)

TwilioForm = Annotated[dict[str, str], Depends(twilio_request)]
XML = "application/xml"


def _xml(document: str) -> Response:
    return Response(document, media_type=XML)


def _target(request: Request) -> tuple[uuid.UUID, int] | None:
    try:
        return uuid.UUID(request.query_params.get("session") or ""), int(request.query_params.get("attempt") or "")
    except ValueError:
        return None


def _in_scope(work, *args):
    with session_scope() as session:
        return work(session, *args)


async def _db(work, *args):
    """``work(session, *args)`` in its own transaction, off the event loop, bounded like the voice webhooks."""
    return await asyncio.wait_for(asyncio.to_thread(_in_scope, work, *args), incoming_calls.DB_TIMEOUT_SECONDS)


@router.post("/wait")
async def wait(request: Request, form: TwilioForm, background: BackgroundTasks) -> Response:
    """Hold music for the caller. The first request calls the person (after answering); a
    request for a transfer nobody will complete brings the caller back, or ends a call that is over."""
    target = _target(request)
    if target is None:
        return _xml(twiml.say_and_hang_up(twiml.APOLOGY))
    try:
        action, music = await _db(warm_transfer.waiting, *target)
    except Exception as exc:  # noqa: BLE001 - music meanwhile: Twilio asks again when it ends
        log.error("transfer wait of %s not read (%s)", form.get("CallSid"), exc.__class__.__name__)
        action, music = "music", None
    if action == "hang_up":
        return _xml(twiml.say_and_hang_up(twiml.APOLOGY))
    if action == "call_person":
        background.add_task(warm_transfer_legs.call_person, *target)
    elif action == "return":
        background.add_task(warm_transfer_legs.bring_back, *target)
    return _xml(twilio_conference.music_twiml(intro=action == "call_person", music=music))


@router.post("/whisper")
async def whisper(request: Request, form: TwilioForm) -> Response:
    """The person picked up: the agent's briefing, then "press 1"."""
    target = _target(request)
    briefing = None
    if target is not None:
        try:
            briefing = await _db(warm_transfer.briefing_for, *target)
        except Exception as exc:  # noqa: BLE001 - the person hangs up; their status callback brings the caller back
            log.error("transfer whisper of %s not read (%s)", form.get("CallSid"), exc.__class__.__name__)
    if briefing is None or target is None:
        return _xml(twilio_conference.goodbye_twiml(twilio_conference.CALLER_GONE))
    return _xml(twilio_conference.whisper_twiml(briefing, twilio_conference.accept_url(*target)))


@router.post("/accept")
async def accept(request: Request, form: TwilioForm, background: BackgroundTasks) -> Response:
    """The digit pressed (or none): 1 joins the caller's conference; anything else sends the
    caller back to the agent."""
    target = _target(request)
    outcome = "gone"
    if target is not None:
        try:
            outcome = await _db(warm_transfer.person_answered, *target, form.get("Digits", ""))
        except Exception as exc:  # noqa: BLE001 - not recorded: the person's status callback settles it
            log.error("transfer answer of %s not recorded (%s)", form.get("CallSid"), exc.__class__.__name__)
            outcome = "error"
    if outcome == "accepted":
        return _xml(twilio_conference.bridge_twiml(twilio_conference.conference_name(*target)))
    if outcome == "declined":
        background.add_task(warm_transfer_legs.bring_back, *target)
    sentence = twilio_conference.CALLER_GONE if outcome == "gone" else twilio_conference.NOT_TAKEN
    return _xml(twilio_conference.goodbye_twiml(sentence))


@router.post("/person-status")
async def person_status(request: Request, form: TwilioForm, background: BackgroundTasks) -> Response:
    """The person's call ended; unanswered (or hung up without pressing 1), the caller goes back."""
    target = _target(request)
    if target is not None:
        try:
            if await _db(warm_transfer.person_call_ended, *target, form.get("CallStatus", "")):
                background.add_task(warm_transfer_legs.bring_back, *target)
        except Exception as exc:  # noqa: BLE001 - the hold's time limit brings the caller back
            log.error("transfer status of %s not recorded (%s)", form.get("CallSid"), exc.__class__.__name__)
    return _xml(twiml.HEAD + twiml.TAIL)
