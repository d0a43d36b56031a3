"""Twilio's voice webhooks: the incoming call, how the Dial leg ended, the call's end, its recording,
and an outbound call's answer, status and answering-machine result (``services.outbound_calls``).

Every request is signature-checked first (``_verified``): a missing or forged
``X-Twilio-Signature`` is a 403 and nothing is read or written; with no
``TWILIO_AUTH_TOKEN`` every request is refused. After that, whatever happens, Twilio
gets HTTP 200 with TwiML the caller can hear: the database failing or hanging is
bounded by ``incoming_calls.DB_TIMEOUT_SECONDS`` and answered with a spoken apology.

The incoming call is the hot path (``bench/bench_webhook.py`` measures it): it is served by
``incoming_app`` ahead of FastAPI's layers, and its session is opened by
``services.incoming_calls``, whose writer thread commits the calls waiting together.

No LiveKit call happens here: for an inbound SIP call, LiveKit's dispatch rule (installed
by ``make livekit-setup``) creates the room and dispatches the worker. A room made
beforehand by the backend would stay empty, so the seed's "create room" step is not ours.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qs, unquote_plus

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response

from voice_platform import telemetry
from voice_platform.api.errors import ErrorJSONResponse, domain_error_response
from voice_platform.db import session_scope
from voice_platform.errors import PermissionDenied
from voice_platform.security import validate_twilio_signature
from voice_platform.services import calls, incoming_calls, outbound_answers, outbound_calls
from voice_platform.settings import Settings, get_settings
from voice_platform.telephony import twiml, urls

log = logging.getLogger(__name__)
router = APIRouter(prefix=urls.VOICE_PREFIX.removeprefix("/api/v1"), tags=["voice"], include_in_schema=False)

MAX_BODY_BYTES = 64 * 1024
XML = "application/xml"


def _verified(body: bytes, query: bytes, signature: str | None, public_url: str) -> dict[str, str]:
    """The form Twilio posted, once its signature is verified against ``public_url`` (+ the query)."""
    if len(body) > MAX_BODY_BYTES:
        raise PermissionDenied("Request too large for a Twilio webhook")
    params = _form(body.decode("utf-8", "replace"))
    url = public_url + "?" + query.decode("latin-1") if query else public_url
    if not validate_twilio_signature(url, params, signature):
        raise PermissionDenied("Invalid or missing Twilio signature")
    return params


async def _verified_form(request: Request, public_url: str) -> dict[str, str]:
    return _verified(await request.body(), request.scope["query_string"], request.headers.get("x-twilio-signature"),
                     public_url)


def _form(body: str) -> dict[str, str]:
    """A form body as ``dict(parse_qsl(body, keep_blank_values=True))`` reads it (the last value of
    a repeated name wins), unquoting only what is quoted: most of Twilio's values are plain."""
    form: dict[str, str] = {}
    for pair in body.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            if "%" in name or "+" in name:
                name = unquote_plus(name)
            form[name] = unquote_plus(value) if "%" in value or "+" in value else value
    return form


async def twilio_request(request: Request) -> dict[str, str]:
    """The form Twilio posted, once its signature is verified against the public URL."""
    return await _verified_form(request, urls.public_url(request.url.path))


TwilioForm = Annotated[dict[str, str], Depends(twilio_request)]


def _xml(document: str) -> Response:
    return Response(document, media_type=XML)


async def _bounded(work, *args):
    """Run database work off the event loop, for at most ``incoming_calls.DB_TIMEOUT_SECONDS``."""
    return await asyncio.wait_for(asyncio.to_thread(work, *args), incoming_calls.DB_TIMEOUT_SECONDS)


@dataclass(frozen=True)
class _Answering:
    """What the incoming webhook derives from the settings, computed once per settings object."""

    settings: Settings
    incoming_url: str
    dial_status_url: str
    recording_url: str


_answering: _Answering | None = None


def _current() -> _Answering:
    global _answering
    settings = get_settings()
    cached = _answering
    if cached is None or cached.settings is not settings:  # tests and the CLI reset the settings
        cached = _answering = _Answering(settings, urls.incoming_url(), urls.dial_status_url(),
                                         urls.recording_status_url())
    return cached


async def incoming_app(scope, receive, send) -> None:
    """Twilio's voice URL (``INCOMING_ROUTE``) as a plain ASGI app: ``api.app`` hands it the
    request before FastAPI's layers (middleware, the router walk, FastAPI's own telemetry).
    Every call goes through here, and those layers cost more than the webhook's own work, and
    more again with telemetry on (measured in bench_webhook and bench_webhook_tracing). What
    they gave it is done here: the body is read with a bound, a refused signature is FastAPI's
    403 ``{"detail": ...}``, a method other than POST its 405, and anything unexpected is
    logged and answered with a spoken apology, never a 500 to Twilio. ``test_incoming_parity``
    proves it answers as ``incoming`` served as a FastAPI route would."""
    await _serve_twilio(scope, receive, send, incoming, "incoming call webhook")


async def _serve_twilio(scope, receive, send, answer, name: str) -> None:
    """A Twilio webhook served as plain ASGI: what FastAPI's layers would have done around
    ``answer(body, query, signature)`` (the bounded body, 403 and 405 as FastAPI says them, a
    spoken apology for anything unexpected)."""
    if scope["method"] != "POST":
        response: Response = ErrorJSONResponse({"detail": "Method Not Allowed"}, status_code=405,
                                               headers={"Allow": "POST"})
    else:
        body = await _body(receive)
        if body is None:
            return  # Twilio hung up on this request: nobody to answer
        signature = None
        for header, value in scope["headers"]:
            if header == b"x-twilio-signature":
                signature = value.decode("latin-1")
        try:
            response = await answer(body, scope["query_string"], signature)
        except PermissionDenied as exc:
            response = domain_error_response(exc)
        except Exception:  # noqa: BLE001 - a bug must still leave the caller a sentence
            log.exception("%s failed", name)
            response = _xml(twiml.say_and_hang_up(twiml.TECHNICAL_PROBLEM))
    await response(scope, receive, send)


async def _body(receive) -> bytes | None:
    """The request body, read up to just past ``MAX_BODY_BYTES`` (more is refused unread);
    None when the client disconnected."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY_BYTES or not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def incoming(body: bytes, query: bytes, signature: str | None) -> Response:
    """The incoming-call webhook: the signature check, one bounded wait for the session
    writer, the TwiML. What it derives from the settings is computed once.

    With telemetry on it is traced here: a server span and one child for the session (agent
    lookup, concurrency slot and insert, one statement on PostgreSQL), through
    ``telemetry.webhook_trace`` (its fast path, cheaper than the SDK's spans as measured in
    bench_webhook_tracing, or the SDK's own spans), whose times also give ``webhook.latency``.
    The session row keeps the child's traceparent so the worker's spans join this trace."""
    if telemetry.installed() is None:
        return (await _incoming(body, query, signature, None))[0]
    trace = telemetry.webhook_trace(INCOMING_ROUTE)
    if trace is None:  # the sampler said no: the latency still counts
        started = time.perf_counter()
        response, result = await _incoming(body, query, signature, None)
        latency = telemetry.elapsed_ms(started)
    else:
        try:
            response, result = await _incoming(body, query, signature, trace)
        except BaseException as exc:
            trace.finish(trace.status_code, error=f"{type(exc).__name__}: {exc}")
            raise
        latency = trace.finish(response.status_code, result)
    telemetry.record_webhook_latency(latency, result)
    return response


async def _incoming(body: bytes, query: bytes, signature: str | None,
                    trace: telemetry.WebhookTrace | telemetry.SdkWebhookTrace | None) -> tuple[Response, str]:
    """The answer and, for telemetry, what it was (dialed, or why not)."""
    answering = _current()
    settings = answering.settings
    try:
        form = _verified(body, query, signature, answering.incoming_url)
    except PermissionDenied:
        if trace is not None:
            trace.status_code = 403
        raise
    call_sid = form.get("CallSid", "")
    if not call_sid or len(call_sid) > 64:
        return _xml(twiml.say_and_hang_up(twiml.TECHNICAL_PROBLEM)), "bad_request"
    if not settings.livekit_sip_domain:
        log.error("call %s refused: LIVEKIT_SIP_DOMAIN is not set", call_sid)
        return _xml(twiml.say_and_hang_up(twiml.UNAVAILABLE)), "unconfigured"
    to_number = form.get("To")
    try:
        if trace is not None:
            try:
                routed = await incoming_calls.open_session(call_sid, form.get("From"), to_number,
                                                           trace.session_opening())
            except Exception as exc:
                trace.session_failed(f"{type(exc).__name__}: {exc}")
                raise
            trace.session_opened(telemetry.mask_number(to_number), routed.refusal)
        else:
            routed = await incoming_calls.open_session(call_sid, form.get("From"), to_number, None)
    except Exception as exc:  # noqa: BLE001 - database down or hanging: the caller still hears a sentence
        log.error("call %s: could not open its session (%s)", call_sid, exc.__class__.__name__)
        return _xml(twiml.say_and_hang_up(twiml.TECHNICAL_PROBLEM)), "error"
    if routed.session_id is None:
        log.info("call %s to %s refused: %s", call_sid, telemetry.mask_number(to_number), routed.refusal)
        return (_xml(twiml.say_and_hang_up(twiml.SPOKEN_REFUSALS.get(routed.refusal, twiml.UNAVAILABLE))),
                routed.refusal or "refused")
    return _xml(twiml.dial_sip(
        uri=twiml.sip_uri(to_number or "", settings.livekit_sip_domain, str(routed.session_id)),
        username=settings.livekit_sip_username, password=settings.livekit_sip_password,
        action_url=answering.dial_status_url, record=routed.record_calls,
        recording_callback_url=answering.recording_url, notice=routed.recording_notice,
    )), "dialed"


INCOMING_ROUTE = urls.VOICE_PREFIX + "/incoming"  # served by incoming_app, ahead of the router (api.app)


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


# --- outbound calls: each webhook's URL carries its session id (``?session=``), signed by Twilio -----

def _session_param(request: Request) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.query_params.get("session") or "")
    except ValueError:
        return None


class _OutboundAnswer:
    """``POST /voice/twilio/outbound?session=<id>``: the callee picked up. A plain ASGI endpoint
    in the router (no request objects, no dependency solving: bench_outbound_webhook holds it to
    the incoming webhook's targets), doing what those layers would: the body read with a bound,
    a refused signature FastAPI's 403 ``{"detail": ...}``, anything unexpected logged and answered
    with a spoken apology, never a 500 to Twilio."""

    async def __call__(self, scope, receive, send) -> None:
        await _serve_twilio(scope, receive, send, outbound_answer, "outbound answer webhook")


async def outbound_answer(body: bytes, query: bytes, signature: str | None) -> Response:
    """Bridge the callee into LiveKit exactly as an inbound caller: the same ``<Dial><Sip>`` with
    the session header, the agent's number as the dialed one (LiveKit's inbound trunk and
    dispatch rule take the call; the worker claims this session). An unknown, ended or already
    bridged session, or another call's, hangs up; the database failing says a sentence first."""
    answering = _current()
    settings = answering.settings
    form = _verified(body, query, signature, urls.public_url(urls.OUTBOUND_PATH))
    call_sid = form.get("CallSid", "")
    try:
        call_id = uuid.UUID(parse_qs(query.decode("latin-1")).get("session", [""])[0])
    except ValueError:
        call_id = None
    if call_id is None or not call_sid or len(call_sid) > 64:
        return _xml(twiml.hang_up())
    if not settings.livekit_sip_domain:
        log.error("outbound call %s not bridged: LIVEKIT_SIP_DOMAIN is not set", call_sid)
        return _xml(twiml.say_and_hang_up(twiml.UNAVAILABLE))
    try:
        answer = await outbound_answers.answer(call_id, call_sid)
    except Exception as exc:  # noqa: BLE001 - database down or hanging: the callee still hears a sentence
        log.error("outbound call %s: session not found (%s)", call_sid, exc.__class__.__name__)
        return _xml(twiml.say_and_hang_up(twiml.TECHNICAL_PROBLEM))
    if answer is None:
        return _xml(twiml.hang_up())
    return _xml(twiml.dial_sip(
        uri=twiml.sip_uri(answer.agent_number, settings.livekit_sip_domain, str(call_id)),
        username=settings.livekit_sip_username, password=settings.livekit_sip_password,
        action_url=answering.dial_status_url, record=answer.record_calls,
        recording_callback_url=answering.recording_url, notice=answer.recording_notice,
    ))


OUTBOUND_ROUTE = urls.OUTBOUND_PATH
outbound_app = _OutboundAnswer()
router.add_route(OUTBOUND_ROUTE.removeprefix("/api/v1"), outbound_app, methods=["POST"], include_in_schema=False)


def _outbound_status(call_id: uuid.UUID, form: dict[str, str]) -> bool:
    with session_scope() as session:
        return outbound_calls.status_changed(session, call_id, form.get("CallSid", ""), form.get("CallStatus", ""),
                                             form.get("CallDuration"))


@router.post("/outbound-status")
async def outbound_status(request: Request, form: TwilioForm) -> Response:
    """``calls.create``'s status callback (initiated, ringing, answered, completed): the final one
    closes the session as an inbound call's ``/status`` does (no-answer, busy ... as end reasons)."""
    call_id = _session_param(request)
    if call_id is not None:
        try:
            await _bounded(_outbound_status, call_id, form)
        except Exception as exc:  # noqa: BLE001 - Twilio retries on errors; answer 200 and log
            log.error("status of outbound %s not recorded (%s)", form.get("CallSid"), exc.__class__.__name__)
    return _xml(twiml.HEAD + twiml.TAIL)


def _machine(call_id: uuid.UUID, form: dict[str, str]) -> outbound_calls.Voicemail | None:
    with session_scope() as session:
        return outbound_calls.machine_detected(session, call_id, form.get("CallSid", ""), form.get("AnsweredBy", ""),
                                               form.get("MachineDetectionDuration"))


@router.post("/amd", status_code=204)
async def answering_machine(request: Request, form: TwilioForm, background: BackgroundTasks) -> Response:
    """Twilio's asynchronous answering-machine detection result. Answered at once (204); the new
    TwiML for a machine (the voicemail message, or a hang-up) is pushed to the live call after
    the response, once the session's end is committed."""
    call_id = _session_param(request)
    voicemail = None
    if call_id is not None:
        try:
            voicemail = await _bounded(_machine, call_id, form)
        except Exception as exc:  # noqa: BLE001 - the call goes on with the agent; log it
            log.error("machine detection of %s not recorded (%s)", form.get("CallSid"), exc.__class__.__name__)
    if voicemail is not None:
        background.add_task(outbound_calls.leave_voicemail, voicemail)
    return Response(status_code=204)
