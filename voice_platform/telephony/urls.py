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
