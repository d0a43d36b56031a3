"""A phone call in progress, ready for a warm transfer, on the fake Twilio; and Twilio's side of it.

``warm_call`` is what the incoming webhook and the worker leave behind: an agent of a new
organization with its number, a transfer number and ``transfer_mode`` warm, an active session
claimed by the worker, and the caller's call known to the fake Twilio (so ``Calls(sid).update``
lands). ``post_signed`` posts what Twilio posts to one of our URLs, signed over that exact URL.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.fakes.twilio_calls import Delivered, _sign_and_post
from tests.fakes.twilio_rest import FakeTwilio
from tests.support.api import Actor, create_agent, signup, unique_phone

SIP_DOMAIN = "vp-test.sip.livekit.cloud"
PERSON = "+15557654321"
CALLER = "+15550001111"
BRIEFING = "Ada Lovelace wants to move Tuesday's appointment to Friday; I checked Friday at 10 is free."


@pytest.fixture()
def sip_settings(twilio, monkeypatch):
    """The ``twilio`` fake plus LiveKit's SIP domain (the caller's way back to the agent)."""
    from voice_platform.settings import reset_settings_cache

    for key, value in {"LIVEKIT_SIP_DOMAIN": SIP_DOMAIN, "LIVEKIT_SIP_USERNAME": "twilio-in",
                       "LIVEKIT_SIP_PASSWORD": "s3cret"}.items():
        monkeypatch.setenv(key, value)
    reset_settings_cache()
    yield twilio


@dataclass
class WarmCall:
    admin: Actor
    agent: dict
    session_id: uuid.UUID
    call_sid: str


def warm_call(client, fake: FakeTwilio, *, transfer_mode: str = "warm") -> WarmCall:
    from voice_platform.db import session_scope
    from voice_platform.services import calls

    admin = signup(client, "warm")
    agent = create_agent(client, admin, phone_number=unique_phone(), transfer_number=PERSON,
                         transfer_mode=transfer_mode)
    call_sid = "CA" + uuid.uuid4().hex
    with session_scope() as session:
        routed = calls.open_phone_session(session, call_sid=call_sid, from_number=CALLER,
                                          to_number=agent["phone_number"])
        calls.claim_session(session, routed.session_id, room_name="call-" + call_sid)
    fake.add_call(call_sid, from_=CALLER, to=agent["phone_number"])
    return WarmCall(admin, agent, routed.session_id, call_sid)


def post_signed(fake: FakeTwilio, client, url: str, **params: str) -> Delivered:
    return _sign_and_post(fake.auth_token, url, {"AccountSid": fake.account_sid, **params}, client)


def caller_updates(fake: FakeTwilio, call_sid: str) -> list[ET.Element]:
    """Every TwiML the caller's call was given (Calls(sid).update), parsed, oldest first."""
    return [ET.fromstring(r["form"]["Twiml"]) for r in fake.requests_to("POST", f"/Calls/{call_sid}.json")
            if "Twiml" in r["form"]]


def row(session_id: uuid.UUID):
    from voice_platform.db import session_scope
    from voice_platform.models import CallSession

    with session_scope() as session:
        return session.get(CallSession, session_id)


def stages(session_id: uuid.UUID) -> list[str]:
    return [s["stage"] for s in (row(session_id).transfer or {}).get("stages", [])]


def sip_headers(root: ET.Element) -> dict[str, str]:
    """The X- headers of a ``<Dial><Sip>`` URI (what LiveKit's trunk receives)."""
    uri = root.find("Dial/Sip").text
    return {k: v[0] for k, v in parse_qs(urlsplit(uri.replace("sip:", "sip://", 1)).query).items()}
