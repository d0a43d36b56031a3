"""The Twilio voice webhooks through the real app, signed with twilio's own RequestValidator."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import select

from tests.support.api import create_agent, signup, unique_phone
from tests.telephony.voice_support import (
    PUBLIC, SIP_DOMAIN, call_params, post, signature, spoken, twiml, voice_settings,  # noqa: F401 - fixture
)
from voice_platform.models import CallSession
from voice_platform.telephony import twiml as texts

INCOMING = "/api/v1/voice/twilio/incoming"
DIAL_STATUS = "/api/v1/voice/twilio/dial-status"
STATUS = "/api/v1/voice/twilio/status"
RECORDING = "/api/v1/voice/twilio/recording"

pytestmark = pytest.mark.usefixtures("voice_settings")


@pytest.fixture()
def agent(client):
    admin = signup(client, "voice")
    return create_agent(client, admin, phone_number=unique_phone()), admin


def _sessions(session, call_sid: str) -> list[CallSession]:
    session.expire_all()
    return list(session.exec(select(CallSession).where(CallSession.provider_call_id == call_sid)).all())


def _sip(root):
    dial = root.find("Dial")
    assert dial is not None, root
    return dial, dial.find("Sip")


def test_incoming_call_dials_livekit_with_the_session_header(client, agent, session):
    body, _admin = agent
    params = call_params(body["phone_number"])
    root = twiml(post(client, INCOMING, params))
    dial, sip = _sip(root)
    assert dial.get("answerOnBridge") == "true"
    assert dial.get("action") == PUBLIC + DIAL_STATUS and dial.get("record") is None
    assert (sip.get("username"), sip.get("password")) == ("twilio-in", "s3cret&<pw>")  # escaped, parsed back
    uri = urlsplit(sip.text)
    assert uri.scheme == "sip" and uri.path == f"{body['phone_number']}@{SIP_DOMAIN};transport=tcp"
    header = parse_qs(uri.query)["X-Vp-Session"][0]
    assert len(sip.text) < 255
    [row] = _sessions(session, params["CallSid"])
    assert str(row.id) == header
    assert (row.status, row.kind, row.from_number, row.to_number) == ("pending", "phone", "+15550001111", body["phone_number"])
    assert str(row.agent_id) == body["id"] and str(row.organization_id) == body["organization_id"]
    assert row.started_at is not None


def test_a_retried_call_sid_gets_the_same_session_and_twiml(client, agent, session):
    params = call_params(agent[0]["phone_number"])
    first, second = post(client, INCOMING, params), post(client, INCOMING, params)
    assert first.text == second.text
    assert len(_sessions(session, params["CallSid"])) == 1


def test_concurrent_retries_of_one_call_sid_make_one_row(client, agent, session, test_database):
    from tests.support.calls import open_session_alone

    params = call_params(agent[0]["phone_number"])
    barrier, results, errors = threading.Barrier(8), [], []

    def retry() -> None:
        barrier.wait()
        try:
            results.append(open_session_alone(params["CallSid"], params["From"], params["To"]).session_id)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=retry) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and len(results) == 8 and len(set(results)) == 1
    assert len(_sessions(session, params["CallSid"])) == 1


@pytest.mark.parametrize("case", ["forged", "missing", "wrong_url", "wrong_token"])
def test_unsigned_or_forged_requests_are_refused_and_write_nothing(client, agent, session, case):
    params = call_params(agent[0]["phone_number"])
    if case == "missing":
        r = post(client, INCOMING, params, signed=False)
    elif case == "forged":
        r = post(client, INCOMING, params, sig=signature(INCOMING, {**params, "To": "+15559999999"}))
    elif case == "wrong_url":
        r = post(client, INCOMING, params, sig=signature(INCOMING, params, base="https://attacker.example"))
    else:
        r = post(client, INCOMING, params, sig=signature(INCOMING, params, token="another-token"))
    assert r.status_code == 403 and "signature" in r.json()["detail"]
    assert _sessions(session, params["CallSid"]) == []


def test_without_an_auth_token_every_request_is_refused(client, agent, session, monkeypatch):
    from voice_platform.settings import reset_settings_cache

    params = call_params(agent[0]["phone_number"])
    sig = signature(INCOMING, params)
    monkeypatch.delenv("TWILIO_AUTH_TOKEN")
    reset_settings_cache()
    for path in (INCOMING, DIAL_STATUS, STATUS, RECORDING):
        assert post(client, path, params, sig=sig).status_code == 403
    assert _sessions(session, params["CallSid"]) == []


def test_the_signature_covers_the_query_string(client, agent):
    params = call_params(agent[0]["phone_number"])
    path = INCOMING + "?tenant=a"
    good = post(client, path, params, sig=signature(path, params))
    assert good.status_code == 200
    assert post(client, path, params, sig=signature(INCOMING, params)).status_code == 403


@pytest.mark.parametrize("to, expected", [("+19999999999", texts.NOT_IN_SERVICE), ("not a number", texts.NOT_IN_SERVICE),
                                          ("", texts.NOT_IN_SERVICE)])
def test_unknown_or_garbage_numbers_hear_a_sentence_and_hang_up(client, session, to, expected):
    params = call_params(to)
    assert spoken(twiml(post(client, INCOMING, params))) == expected
    assert _sessions(session, params["CallSid"]) == []


def test_an_inactive_agent_hears_unavailable(client, agent, session):
    body, admin = agent
    client.put(f"/api/v1/agents/{body['id']}", json={"is_active": False}, headers=admin.headers).raise_for_status()
    params = call_params(body["phone_number"])
    assert spoken(twiml(post(client, INCOMING, params))) == texts.UNAVAILABLE
    assert _sessions(session, params["CallSid"]) == []


def test_recording_agent_records_the_dial_and_says_the_notice(client, session):
    admin = signup(client, "rec")
    body = create_agent(client, admin, phone_number=unique_phone(), record_calls=True,
                        recording_notice="This call is recorded & kept <30 days>.")
    params = call_params(body["phone_number"])
    root = twiml(post(client, INCOMING, params))
    assert root[0].tag == "Say" and root[0].text == "This call is recorded & kept <30 days>."
    dial, _sip_el = _sip(root)
    assert dial.get("record") == "record-from-answer-dual"
    assert dial.get("recordingStatusCallback") == PUBLIC + RECORDING

    rec = {"CallSid": params["CallSid"], "RecordingSid": "RE" + "1" * 32, "RecordingStatus": "completed",
           "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE1", "RecordingDuration": "37"}
    assert twiml(post(client, RECORDING, rec)).tag == "Response"
    [row] = _sessions(session, params["CallSid"])
    assert (row.recording_sid, row.recording_url, row.recording_duration_seconds) == (rec["RecordingSid"], rec["RecordingUrl"], 37.0)


@pytest.mark.parametrize("dial_status, reason", [("failed", "dial_failed"), ("busy", "busy"), ("no-answer", "no_answer")])
def test_a_failed_sip_leg_apologises_and_fails_the_session(client, agent, session, dial_status, reason):
    params = call_params(agent[0]["phone_number"])
    post(client, INCOMING, params).raise_for_status()
    result = {"CallSid": params["CallSid"], "DialCallStatus": dial_status, "DialCallSid": "CA" + uuid.uuid4().hex}
    assert spoken(twiml(post(client, DIAL_STATUS, result))) == texts.APOLOGY
    [row] = _sessions(session, params["CallSid"])
    assert (row.status, row.end_reason) == ("failed", reason) and dial_status in row.error


def test_a_completed_leg_hangs_up_unless_the_worker_failed_the_call(client, agent, session):
    from voice_platform.services import calls

    served, failed = call_params(agent[0]["phone_number"]), call_params(agent[0]["phone_number"])
    for params in (served, failed):
        post(client, INCOMING, params).raise_for_status()
    [row] = _sessions(session, failed["CallSid"])
    calls.finish_session(session, row.id, reason="model_unavailable", error="API key not valid")
    session.commit()
    done = {"DialCallStatus": "completed"}
    assert [c.tag for c in twiml(post(client, DIAL_STATUS, {"CallSid": served["CallSid"], **done}))] == ["Hangup"]
    assert spoken(twiml(post(client, DIAL_STATUS, {"CallSid": failed["CallSid"], **done}))) == texts.APOLOGY


def test_status_callback_closes_the_session_once(client, agent, session):
    params = call_params(agent[0]["phone_number"])
    post(client, INCOMING, params).raise_for_status()
    end = {"CallSid": params["CallSid"], "CallStatus": "completed", "CallDuration": "42"}
    post(client, STATUS, end).raise_for_status()
    [row] = _sessions(session, params["CallSid"])
    first = (row.status, row.end_reason, row.duration_seconds, row.ended_at)
    assert first[:3] == ("completed", "caller_hangup", 42.0) and row.ended_at is not None
    post(client, STATUS, {**end, "CallDuration": "50"}).raise_for_status()  # a retry
    post(client, STATUS, {**end, "CallStatus": "failed"}).raise_for_status()  # late and out of order
    [row] = _sessions(session, params["CallSid"])
    assert (row.status, row.end_reason, row.duration_seconds, row.ended_at) == first


def test_status_after_the_worker_ended_the_call_keeps_the_workers_reason(client, agent, session):
    from voice_platform.services import calls

    params = call_params(agent[0]["phone_number"])
    post(client, INCOMING, params).raise_for_status()
    [row] = _sessions(session, params["CallSid"])
    calls.finish_session(session, row.id, reason="agent_ended")
    session.commit()
    post(client, STATUS, {"CallSid": params["CallSid"], "CallStatus": "completed", "CallDuration": "9"}).raise_for_status()
    [row] = _sessions(session, params["CallSid"])
    assert (row.status, row.end_reason) == ("completed", "agent_ended")


def test_non_final_status_and_unknown_calls_change_nothing(client, agent, session):
    params = call_params(agent[0]["phone_number"])
    post(client, INCOMING, params).raise_for_status()
    post(client, STATUS, {"CallSid": params["CallSid"], "CallStatus": "in-progress"}).raise_for_status()
    post(client, STATUS, {"CallSid": "CA-unknown", "CallStatus": "completed"}).raise_for_status()
    assert spoken(twiml(post(client, DIAL_STATUS, {"CallSid": "CA-unknown", "DialCallStatus": "failed"}))) == texts.APOLOGY
    [row] = _sessions(session, params["CallSid"])
    assert row.status == "pending"


class _Blackhole:
    """A TCP server that accepts connections and never answers: a hanging database."""

    def __enter__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        return self

    def __exit__(self, *_exc):
        self.sock.close()


def _database_is(monkeypatch, url: str) -> None:
    from voice_platform.settings import reset_settings_cache

    monkeypatch.setenv("DATABASE_URL", url)
    reset_settings_cache()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("state", ["stopped", "hanging"])
def test_a_database_that_is_down_or_hangs_still_answers_within_3_seconds(client, agent, monkeypatch, state):
    params = call_params(agent[0]["phone_number"])
    with _Blackhole() as hole:
        port = hole.port if state == "hanging" else _closed_port()
        _database_is(monkeypatch, f"postgresql+psycopg://postgres@127.0.0.1:{port}/down")
        for path, extra in ((INCOMING, {}), (DIAL_STATUS, {"DialCallStatus": "failed"})):
            started = time.monotonic()
            root = twiml(post(client, path, {**params, **extra}))
            assert time.monotonic() - started < 3.0
            assert spoken(root) in (texts.TECHNICAL_PROBLEM, texts.APOLOGY)
        started = time.monotonic()
        assert post(client, STATUS, {**params, "CallStatus": "completed"}).status_code == 200
        assert time.monotonic() - started < 3.0
    # the database is back: the next call is answered normally (no writer left stuck on the dead one)
    monkeypatch.undo()
    from tests.telephony.voice_support import AUTH_TOKEN, PUBLIC, SIP_DOMAIN
    from voice_platform.settings import reset_settings_cache

    for key, value in {"TWILIO_AUTH_TOKEN": AUTH_TOKEN, "PUBLIC_BASE_URL": PUBLIC, "LIVEKIT_SIP_DOMAIN": SIP_DOMAIN}.items():
        monkeypatch.setenv(key, value)
    reset_settings_cache()
    deadline = time.monotonic() + 15
    while True:
        root = twiml(post(client, INCOMING, call_params(agent[0]["phone_number"])))
        if root.find("Dial") is not None or time.monotonic() > deadline:
            break
    assert root.find("Dial") is not None, "the webhook did not recover after the database came back"


def test_no_livekit_sip_domain_refuses_politely_without_writing(client, agent, session, monkeypatch):
    from voice_platform.settings import reset_settings_cache

    monkeypatch.delenv("LIVEKIT_SIP_DOMAIN")
    reset_settings_cache()
    params = call_params(agent[0]["phone_number"])
    assert spoken(twiml(post(client, INCOMING, params))) == texts.UNAVAILABLE
    assert _sessions(session, params["CallSid"]) == []


def test_the_incoming_webhook_bounds_its_body_and_takes_only_post(client, agent, session):
    """It is answered ahead of FastAPI (api.app), so it does what FastAPI's layers did for it."""
    from voice_platform.api.voice import MAX_BODY_BYTES

    params = call_params(agent[0]["phone_number"], Padding="x" * MAX_BODY_BYTES)
    r = post(client, INCOMING, params)
    assert r.status_code == 403 and "too large" in r.json()["detail"]
    assert _sessions(session, params["CallSid"]) == []
    r = client.get(INCOMING)
    assert r.status_code == 405 and r.headers["allow"] == "POST"


def test_a_bug_in_the_incoming_webhook_is_a_spoken_apology_not_a_500(client, agent, session, monkeypatch):
    from voice_platform.api import voice

    def broken(*_args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(voice, "_current", broken)
    r = post(client, INCOMING, call_params(agent[0]["phone_number"]))
    assert r.status_code == 200 and spoken(twiml(r)) == texts.TECHNICAL_PROBLEM


async def test_a_caller_gone_before_the_body_arrived_is_not_answered():
    from voice_platform.api import voice

    sent = []

    async def receive():
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": INCOMING, "headers": [], "query_string": b""}
    await voice.incoming_app(scope, receive, send)
    assert sent == []
