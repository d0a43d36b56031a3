"""The public URLs Twilio calls back, in one place.

Signatures are computed by Twilio over the exact URL it was given, so the URL we
hand Twilio (a number's voice URL, a Dial ``action``) and the URL we verify a
request against are built by the same functions, from ``settings.api_url``
(``API_BASE_URL`` or ``PUBLIC_BASE_URL``: the address the outside world sees, also
behind a TLS proxy).
"""

from __future__ import annotations

from voice_platform.settings import get_settings

VOICE_PREFIX = "/api/v1/voice/twilio"
INCOMING_PATH = VOICE_PREFIX + "/incoming"
DIAL_STATUS_PATH = VOICE_PREFIX + "/dial-status"
STATUS_PATH = VOICE_PREFIX + "/status"
RECORDING_PATH = VOICE_PREFIX + "/recording"
# An outbound call's webhooks carry its session id in the query: Twilio signs the whole URL, so
# the id is as authentic as the rest, and each callback finds its session even before we have
# stored the CallSid that ``calls.create`` returned.
OUTBOUND_PATH = VOICE_PREFIX + "/outbound"
OUTBOUND_STATUS_PATH = VOICE_PREFIX + "/outbound-status"
AMD_PATH = VOICE_PREFIX + "/amd"


def public_url(path: str) -> str:
    return get_settings().api_url + path


def incoming_url() -> str:
    """A number's voice URL: Twilio POSTs here when the number is dialed."""
    return public_url(INCOMING_PATH)


def status_callback_url() -> str:
    """A number's status callback: Twilio POSTs the call's final status here."""
    return public_url(STATUS_PATH)


def dial_status_url() -> str:
    return public_url(DIAL_STATUS_PATH)


def recording_status_url() -> str:
    return public_url(RECORDING_PATH)


def _for_session(path: str, session_id) -> str:
    return f"{public_url(path)}?session={session_id}"


def outbound_answer_url(session_id) -> str:
    """``calls.create``'s ``url``: Twilio POSTs here when the callee picks up."""
    return _for_session(OUTBOUND_PATH, session_id)


def outbound_status_url(session_id) -> str:
    """``calls.create``'s ``status_callback``: every stage of the outbound call, its end closes it."""
    return _for_session(OUTBOUND_STATUS_PATH, session_id)


def amd_callback_url(session_id) -> str:
    """``async_amd_status_callback``: Twilio's answering-machine detection result."""
    return _for_session(AMD_PATH, session_id)
