"""The recording player's endpoint fetches the MP3 from Twilio with the account's credentials."""

from __future__ import annotations

import base64
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.api import add_member, create_agent, signup, unique_phone

MP3 = b"ID3\x03\x00fake-mp3-frames"
SID, TOKEN = "AC" + "1" * 32, "recording-test-token"


class _Recordings(BaseHTTPRequestHandler):
    """Twilio's media endpoint: basic auth with the account SID and auth token, else 401."""

    def do_GET(self):  # noqa: N802
        expected = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            self.send_response(401)
            self.end_headers()
            return
        if not self.path.endswith("/Recordings/RE1.mp3"):
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "audio/mpeg")
        self.send_header("Content-Length", str(len(MP3)))
        self.end_headers()
        self.wfile.write(MP3)

    def log_message(self, *_args):
        pass


@pytest.fixture()
def twilio_media(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recordings)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}/"
    from voice_platform.settings import reset_settings_cache

    monkeypatch.setenv("TWILIO_ACCOUNT_SID", SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("TWILIO_RECORDINGS_BASE_URL", base)
    reset_settings_cache()
    yield base
    server.shutdown()
    server.server_close()
    reset_settings_cache()


def _call_with_recording(client, recording_url: str):
    from sqlalchemy import update

    from voice_platform.db import session_scope
    from voice_platform.models import CallSession, User
    from voice_platform.services import call_history, calls

    admin = signup(client, "rec")
    number = unique_phone()
    create_agent(client, admin, phone_number=number, record_calls=True)
    with session_scope() as session:
        routed = calls.open_phone_session(session, call_sid="CA" + uuid.uuid4().hex, from_number="+15550004444",
                                          to_number=number)
        session.execute(update(CallSession).where(CallSession.id == routed.session_id).values(recording_url=recording_url))
        token = call_history.recording_link_token(session, session.get(User, uuid.UUID(admin.user_id)), routed.session_id)
    return admin, routed.session_id, token


def test_the_signed_link_plays_the_mp3_and_nothing_else_does(client, twilio_media):
    admin, call_id, token = _call_with_recording(client, twilio_media + "2010-04-01/Accounts/AC1/Recordings/RE1")
    ok = client.get(f"/api/v1/calls/{call_id}/recording", params={"token": token})
    assert ok.status_code == 200 and ok.content == MP3 and ok.headers["content-type"] == "audio/mpeg"
    assert client.get(f"/api/v1/calls/{call_id}/recording", params={"token": token + "x"}).status_code == 404
    assert client.get(f"/api/v1/calls/{uuid.uuid4()}/recording", params={"token": token}).status_code == 404
    # A member of another organization cannot reuse the link for their own calls, and a removed member loses it.
    member = add_member(client, admin)
    from voice_platform.db import session_scope
    from voice_platform.models import User
    from voice_platform.services import call_history

    with session_scope() as session:
        member_token = call_history.recording_link_token(session, session.get(User, uuid.UUID(member.user_id)), call_id)
    assert client.get(f"/api/v1/calls/{call_id}/recording", params={"token": member_token}).status_code == 200
    client.delete(f"/api/v1/organizations/{admin.org_id}/members/{member.user_id}", headers=admin.headers)
    assert client.get(f"/api/v1/calls/{call_id}/recording", params={"token": member_token}).status_code == 404


def test_twilio_failures_are_clear_errors(client, twilio_media):
    _admin, call_id, token = _call_with_recording(client, twilio_media + "2010-04-01/Accounts/AC1/Recordings/RE404")
    gone = client.get(f"/api/v1/calls/{call_id}/recording", params={"token": token})
    assert gone.status_code == 502 and "no longer" in gone.json()["detail"]
    _admin, call_id, token = _call_with_recording(client, "https://evil.example/steal")
    assert client.get(f"/api/v1/calls/{call_id}/recording", params={"token": token}).status_code == 502
