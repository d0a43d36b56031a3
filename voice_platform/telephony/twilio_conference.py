"""Twilio's side of a warm transfer: the conference the caller waits in, the person's call, the TwiML.

Self-hosted LiveKit has no MoveParticipant, so the hand-over happens in Twilio: the caller's
call is given new TwiML (``Calls(sid).update``) that puts it alone in a ``<Conference>`` that
has not started (Twilio plays our ``waitUrl`` meanwhile: hold music), the person is called
(``Calls.create``) with our whisper webhook as its ``url``, and pressing 1 there puts the
person in the same conference, which starts it: bridged. Returning the caller to the agent is
one more ``Calls(sid).update`` with a new ``<Dial><Sip>`` (``telephony.twiml``).

Every request has a timeout (``twilio_rest.client(timeout)``), and every failure raises
``TwilioUnavailable``: the caller of these functions decides what the caller hears instead.
The webhook URLs live here because Twilio signs the exact URL: the URL handed to Twilio and
the URL ``api/transfer.py`` verifies are built by the same functions (``urls.public_url``).
Each carries the session and the transfer attempt in its query, so a late callback of an
earlier attempt can never act on the current one.
"""

from __future__ import annotations

from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from voice_platform.telephony import twilio_rest
from voice_platform.telephony.urls import VOICE_PREFIX, public_url

TRANSFER_PREFIX = VOICE_PREFIX + "/transfer"
WAIT_PATH = TRANSFER_PREFIX + "/wait"  # the conference's waitUrl: hold music (its first request calls the person)
WHISPER_PATH = TRANSFER_PREFIX + "/whisper"  # the person picked up: the briefing and "press 1"
ACCEPT_PATH = TRANSFER_PREFIX + "/accept"  # the Gather's action: the digit pressed (or none)
PERSON_STATUS_PATH = TRANSFER_PREFIX + "/person-status"  # the person's call ended (no-answer, busy, ...)

# Twilio's own public hold music (the collection its default waitUrl plays).
HOLD_MUSIC_URL = "http://com.twilio.music.classical.s3.amazonaws.com/BusyStrings.mp3"
RING_SECONDS = 20  # the person's phone rings this long before Twilio reports no-answer
GATHER_SECONDS = 10  # after the briefing, the person has this long to press 1
HTTP_TIMEOUT_SECONDS = 5.0

HOLD_INTRO = "Please hold while I connect you."
WHISPER_INTRO = "Hello, this is the assistant with a call for you."
PRESS_ONE = "Press 1 to take this call."
NOT_TAKEN = "The caller goes back to the assistant. Goodbye."
CALLER_GONE = "The caller is no longer waiting. Goodbye."


def _url(path: str, session_id, attempt: int) -> str:
    return f"{public_url(path)}?session={session_id}&attempt={attempt}"


def wait_url(session_id, attempt: int) -> str:
    return _url(WAIT_PATH, session_id, attempt)


def whisper_url(session_id, attempt: int) -> str:
    return _url(WHISPER_PATH, session_id, attempt)


def accept_url(session_id, attempt: int) -> str:
    return _url(ACCEPT_PATH, session_id, attempt)


def person_status_url(session_id, attempt: int) -> str:
    return _url(PERSON_STATUS_PATH, session_id, attempt)


def conference_name(session_id, attempt: int) -> str:
    """One conference per attempt: a second transfer of the same call never meets the first's."""
    return f"vp-{session_id}-{attempt}"


# --- TwiML --------------------------------------------------------------------------------------

def hold_twiml(conference: str, wait: str) -> str:
    """The caller, alone in a conference that has not started (so Twilio plays ``wait``); their
    leaving ends it, so a caller who hangs up never leaves the person in an empty room."""
    response, dial = VoiceResponse(), Dial()
    dial.conference(conference, start_conference_on_enter=False, end_conference_on_exit=True, beep=False,
                    wait_url=wait, wait_method="POST")
    response.append(dial)
    return str(response)


def music_twiml(*, intro: bool, music: str | None = None) -> str:
    """What the waiting caller hears: ``music`` (the agent's hold music) or Twilio's. Played once
    per request: when it ends Twilio asks ``waitUrl`` again, which lets the webhook notice a
    transfer that has waited too long."""
    response = VoiceResponse()
    if intro:
        response.say(HOLD_INTRO)
    response.play(music or HOLD_MUSIC_URL, loop=1)
    return str(response)


def whisper_twiml(briefing: str, accept: str) -> str:
    """The person hears the agent's briefing and may press 1; any result (even none) goes to
    ``accept``, so a silence is a decline at once instead of after the call's end."""
    response = VoiceResponse()
    gather = Gather(num_digits=1, timeout=GATHER_SECONDS, action=accept, method="POST", action_on_empty_result=True)
    gather.say(WHISPER_INTRO)
    gather.say(briefing)
    gather.say(PRESS_ONE)
    response.append(gather)
    response.say(NOT_TAKEN)
    response.hangup()
    return str(response)


def bridge_twiml(conference: str) -> str:
    """The person joins the caller's conference and starts it (bridged); their hanging up ends it."""
    response, dial = VoiceResponse(), Dial()
    dial.conference(conference, start_conference_on_enter=True, end_conference_on_exit=True, beep=False)
    response.append(dial)
    return str(response)


def goodbye_twiml(sentence: str) -> str:
    response = VoiceResponse()
    response.say(sentence)
    response.hangup()
    return str(response)


# --- REST ---------------------------------------------------------------------------------------

def redirect(call_sid: str, twiml: str, *, timeout: float = HTTP_TIMEOUT_SECONDS) -> None:
    """Give a live call new TwiML (the caller: into the conference, or back to the agent)."""
    twilio_rest.update_call_twiml(call_sid, twiml, timeout=timeout)


def call_person(*, to: str, from_: str, url: str, status_callback: str, ring_seconds: int = RING_SECONDS,
                timeout: float = HTTP_TIMEOUT_SECONDS) -> str:
    """Call the person at the transfer number; the CallSid. ``url`` is the whisper webhook; the
    status callback hears only the end (``completed`` carries no-answer, busy, failed ...)."""
    from requests import RequestException
    from twilio.base.exceptions import TwilioException

    twilio = twilio_rest.client(timeout)
    try:
        call = twilio.calls.create(to=to, from_=from_, url=url, method="POST", status_callback=status_callback,
                                   status_callback_method="POST", status_callback_event=["completed"],
                                   timeout=ring_seconds)
    except (TwilioException, RequestException) as exc:
        raise twilio_rest.TwilioUnavailable(f"Twilio could not call the person: {type(exc).__name__}") from exc
    return call.sid
