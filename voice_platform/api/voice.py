"""Twilio's voice webhooks: the incoming call, how the Dial leg ended, the call's end, its recording.

Every request is signature-checked first (``twilio_request``): a missing or forged
``X-Twilio-Signature`` is a 403 and nothing is read or written; with no
``TWILIO_AUTH_TOKEN`` every request is refused. After that, whatever happens, Twilio
gets HTTP 200 with TwiML the caller can hear: the database failing or hanging is
bounded by ``DB_TIMEOUT_SECONDS`` and answered with a spoken apology.

No LiveKit call happens here: for an inbound SIP call, LiveKit's dispatch rule (installed
by ``make livekit-setup``) creates the room and dispatches the worker. A room made
beforehand by the backend would stay empty, so the seed's "create room" step is not ours.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request, Response

from voice_platform.db import session_scope
from voice_platform.errors import PermissionDenied
from voice_platform.security import validate_twilio_signature
from voice_platform.services import calls
from voice_platform.settings import get_settings
from voice_platform.telephony import twiml, urls

log = logging.getLogger(__name__)
router = APIRouter(prefix=urls.VOICE_PREFIX.removeprefix("/api/v1"), tags=["voice"], include_in_schema=False)

DB_TIMEOUT_SECONDS = 2.0  # Twilio waits 15 s, the caller hears ringing: answer within 3 s in every case
MAX_BODY_BYTES = 64 * 1024
XML = "application/xml"


async def twilio_request(request: Request) -> dict[str, str]:
    """The form Twilio posted, once its signature is verified against the public URL."""
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise PermissionDenied("Request too large for a Twilio webhook")
    params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    url = urls.public_url(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
    if not validate_twilio_signature(url, params, request.headers.get("x-twilio-signature")):
        raise PermissionDenied("Invalid or missing Twilio signature")
    return params


TwilioForm = Annotated[dict[str, str], Depends(twilio_request)]


def _xml(document: str) -> Response:
    return Response(document, media_type=XML)


async def _bounded(work, *args):
    """Run database work off the event loop, for at most ``DB_TIMEOUT_SECONDS``."""
    return await asyncio.wait_for(asyncio.to_thread(work, *args), DB_TIMEOUT_SECONDS)


def _route(call_sid: str, from_number: str | None, to_number: str | None) -> calls.RoutedCall:
    with session_scope() as session:
        return calls.open_phone_session(session, call_sid=call_sid, from_number=from_number, to_number=to_number)


@router.post("/incoming")
async def incoming(form: TwilioForm) -> Response:
    settings = get_settings()
    call_sid = form.get("CallSid", "")
    if not call_sid or len(call_sid) > 64:
        return _xml(twiml.say_and_hang_up(twiml.TECHNICAL_PROBLEM))
    if not settings.livekit_sip_domain:
        log.error("call %s refused: LIVEKIT_SIP_DOMAIN is not set", call_sid)
        return _xml(twiml.say_and_hang_up(twiml.UNAVAILABLE))
    try:
        routed = await _bounded(_route, call_sid, form.get("From"), form.get("To"))
    except Exception as exc:  # noqa: BLE001 - database down or hanging: the caller still hears a sentence
        log.error("call %s: could not open its session (%s)", call_sid, exc.__class__.__name__)
        return _xml(twiml.say_and_hang_up(twiml.TECHNICAL_PROBLEM))
    if routed.session_id is None:
        log.info("call %s to %r refused: %s", call_sid, form.get("To"), routed.refusal)
        return _xml(twiml.say_and_hang_up(twiml.SPOKEN_REFUSALS.get(routed.refusal, twiml.UNAVAILABLE)))
    return _xml(twiml.dial_sip(
        uri=twiml.sip_uri(form.get("To", ""), settings.livekit_sip_domain, str(routed.session_id)),
        username=settings.livekit_sip_username, password=settings.livekit_sip_password,
        action_url=urls.dial_status_url(), record=routed.record_calls,
        recording_callback_url=urls.recording_status_url(), notice=routed.recording_notice,
    ))


def _dial_ended(call_sid: str, dial_status: str) -> bool:
    with session_scope() as session:
        return calls.dial_ended(session, call_sid, dial_status)


@router.post("/dial-status")
async def dial_status(form: TwilioForm) -> Response:
    """The Dial ``action``: the SIP leg ended. A failed leg or a failed session hears an apology."""
    status = form.get("DialCallStatus", "")
    try:
        apologise = await _bounded(_dial_ended, form.get("CallSid", ""), status)
    except Exception as exc:  # noqa: BLE001 - whatever broke, the caller hears why the line ends
        log.error("dial status of %s not recorded (%s)", form.get("CallSid"), exc.__class__.__name__)
        apologise = status != "completed"
    return _xml(twiml.say_and_hang_up(twiml.APOLOGY) if apologise else twiml.hang_up())


def _status(call_sid: str, status: str, duration: str | None) -> bool:
    with session_scope() as session:
        return calls.call_status_changed(session, call_sid, status, duration)


@router.post("/status")
async def call_status(form: TwilioForm) -> Response:
    """The number's status callback: the call is over; close its session (once)."""
    try:
        await _bounded(_status, form.get("CallSid", ""), form.get("CallStatus", ""), form.get("CallDuration"))
    except Exception as exc:  # noqa: BLE001 - Twilio retries on errors; answer 200 and log
        log.error("status of %s not recorded (%s)", form.get("CallSid"), exc.__class__.__name__)
    return _xml(twiml.HEAD + twiml.TAIL)


def _recording(form: dict[str, str]) -> bool:
    with session_scope() as session:
        return calls.store_recording(session, form.get("CallSid", ""), recording_sid=form.get("RecordingSid", ""),
                                     url=form.get("RecordingUrl"), duration=form.get("RecordingDuration"))


@router.post("/recording")
async def recording(form: TwilioForm) -> Response:
    """Twilio's recordingStatusCallback: keep the recording's SID, URL and duration on the session."""
    if form.get("RecordingStatus", "completed") == "completed":
        try:
            await _bounded(_recording, form)
        except Exception as exc:  # noqa: BLE001
            log.error("recording of %s not stored (%s)", form.get("CallSid"), exc.__class__.__name__)
    return _xml(twiml.HEAD + twiml.TAIL)
