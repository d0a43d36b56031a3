"""Posting to the voice webhooks the way Twilio does: form-encoded, signed with twilio's own validator."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

AUTH_TOKEN = "twilio-test-auth-token-0123456789"
PUBLIC = "https://voice.example.com"
SIP_DOMAIN = "vp-test.sip.livekit.cloud"


@pytest.fixture()
def voice_settings(monkeypatch):
    """Twilio and LiveKit SIP configured; the public URL is https behind a proxy (the test client speaks http)."""
    from voice_platform.settings import reset_settings_cache

    for key, value in {"TWILIO_AUTH_TOKEN": AUTH_TOKEN, "PUBLIC_BASE_URL": PUBLIC, "LIVEKIT_SIP_DOMAIN": SIP_DOMAIN,
                       "LIVEKIT_SIP_USERNAME": "twilio-in", "LIVEKIT_SIP_PASSWORD": "s3cret&<pw>"}.items():
        monkeypatch.setenv(key, value)
    reset_settings_cache()
    yield
    monkeypatch.undo()
    reset_settings_cache()


def signature(path: str, params: dict[str, str], *, token: str = AUTH_TOKEN, base: str = PUBLIC) -> str:
    return RequestValidator(token).compute_signature(base + path, params)


def post(client, path: str, params: dict[str, str], *, signed: bool = True, sig: str | None = None):
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signed:
        headers["X-Twilio-Signature"] = sig or signature(path, params)
    return client.post(path, content=urlencode(params), headers=headers)


def call_params(to: str, call_sid: str | None = None, **extra) -> dict[str, str]:
    return {"CallSid": call_sid or "CA" + uuid.uuid4().hex, "AccountSid": "AC" + "0" * 32, "From": "+15550001111",
            "To": to, "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01", **extra}


def twiml(response) -> ET.Element:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.text)
    assert root.tag == "Response"
    return root


def spoken(root: ET.Element) -> str:
    """The sentence said before hanging up (asserts the document says one and hangs up)."""
    assert [child.tag for child in root] == ["Say", "Hangup"], ET.tostring(root)
    return root[0].text or ""
