"""Fetching a call recording from Twilio for the dashboard's player.

Twilio serves recordings only with the account's credentials (HTTP basic auth), so
the browser cannot play the stored URL directly: the API fetches it on the
signed-in user's behalf. Only URLs under ``TWILIO_RECORDINGS_BASE_URL`` are
fetched, so a stored URL can never make the server call somewhere else.
"""

from __future__ import annotations

import httpx

from voice_platform.errors import DomainError, IntegrationNotConfigured
from voice_platform.settings import get_settings

TIMEOUT_S = 10.0


class RecordingUnavailable(DomainError):
    status_code = 502


def fetch_recording_mp3(recording_url: str) -> bytes:
    settings = get_settings()
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        raise IntegrationNotConfigured("Playing recordings needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
    base = settings.twilio_recordings_base_url.rstrip("/") + "/"
    if not recording_url.startswith(base):
        raise RecordingUnavailable("This recording is not stored at Twilio")
    url = recording_url if recording_url.endswith(".mp3") else recording_url + ".mp3"
    try:
        response = httpx.get(url, auth=(settings.twilio_account_sid, settings.twilio_auth_token), timeout=TIMEOUT_S,
                             follow_redirects=True)
    except httpx.HTTPError as exc:
        raise RecordingUnavailable(f"Twilio did not answer ({type(exc).__name__}); try again later") from exc
    if response.status_code == 404:
        raise RecordingUnavailable("Twilio no longer has this recording")
    if response.status_code != 200:
        raise RecordingUnavailable(f"Twilio refused the recording (HTTP {response.status_code})")
    return response.content
