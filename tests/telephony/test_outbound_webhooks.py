"""An outbound call played end to end: placed through the API with the real twilio Client against
the fake Twilio, which then plays it as Twilio does (answer, AMD result, status callbacks), each
request signed with twilio's RequestValidator over the URL the platform gave, through the app."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import update
from sqlmodel import select

from tests.fakes.twilio_calls import _sign_and_post
from tests.fakes.twilio_rest import PUBLIC_URL, twilio  # noqa: F401 - fixture
from tests.support.api import create_agent, signup, unique_phone
from voice_platform.db import session_scope
from voice_platform.models import BillingEvent, CallSession, Subscription
from voice_platform.services import calls
from voice_platform.telephony import twiml as texts

SIP_DOMAIN = "vp-test.sip.livekit.cloud"
CALLEE = "+14155550199"


@pytest.fixture()
def fake(twilio, monkeypatch):  # noqa: F811
    from voice_platform.settings import reset_settings_cache

    for key, value in {"LIVEKIT_SIP_DOMAIN": SIP_DOMAIN, "LIVEKIT_SIP_USERNAME": "twilio-in",
                       "LIVEKIT_SIP_PASSWORD": "s3cret&<pw>"}.items():
        monkeypatch.setenv(key, value)
    reset_settings_cache()
    yield twilio


def _place(client, **agent_fields) -> tuple[dict, str, str]:
    """An agent with a number calls CALLEE: (the agent, the call id, Twilio's CallSid)."""
    admin = signup(client, "outbound")
    agent = create_agent(client, admin, phone_number=unique_phone(), **agent_fields)
    r = client.post(f"/api/v1/agents/{agent['id']}/calls", json={"to": CALLEE, "variables": {"name": "Ada"}},
                    headers=admin.headers)
    assert r.status_code == 201, r.text
    return agent, r.json()["call_id"], _sid(r.json()["call_id"])


def _sid(call_id: str) -> str:
    return _row(call_id).provider_call_id


def _row(call_id: str) -> CallSession:
    with session_scope() as session:
        return session.get(CallSession, uuid.UUID(call_id))


def _claimed_by_the_worker(call_id: str) -> None:
    with session_scope() as session:
        calls.claim_session(session, uuid.UUID(call_id), room_name="room-" + call_id)


def _minutes(org_id) -> list[int]:
    with session_scope() as session:
        return [e.quantity for e in session.exec(select(BillingEvent).where(BillingEvent.organization_id == org_id))]


def _active_calls(org_id) -> int:
    with session_scope() as session:
        return session.exec(select(Subscription.active_calls).where(Subscription.organization_id == org_id)).one()


def test_the_answered_call_dials_livekit_with_the_session_and_its_end_closes_it(client, fake):
    agent, call_id, sid = _place(client, record_calls=True)
    answered = fake.answer(sid, client)
    root = ET.fromstring(answered.text)
    dial, sip = root.find("Dial"), root.find("Dial/Sip")
    assert dial.get("action") == PUBLIC_URL + "/api/v1/voice/twilio/dial-status"
    assert dial.get("record") == "record-from-answer-dual"  # the agent records calls, as inbound
    assert (sip.get("username"), sip.get("password")) == ("twilio-in", "s3cret&<pw>")
    uri = urlsplit(sip.text)
    assert uri.path == f"{agent['phone_number']}@{SIP_DOMAIN};transport=tcp"  # LiveKit's trunk number
    assert parse_qs(uri.query)["X-Vp-Session"] == [call_id]

    _claimed_by_the_worker(call_id)
    assert fake.status(sid, "completed", client, duration=75).status_code == 200
    row = _row(call_id)
    assert (row.status, row.end_reason, row.duration_seconds) == ("completed", "caller_hangup", 75.0)
    assert _minutes(row.organization_id) == [2] and _active_calls(row.organization_id) == 0
    assert [d[2] for d in fake.placed()[0]["delivered"]] == [200, 200, 200]  # answered, Url, completed


def test_listed_with_the_other_calls(client, fake):
    admin = signup(client, "listed")
    agent = create_agent(client, admin, phone_number=unique_phone())
    r = client.post(f"/api/v1/agents/{agent['id']}/calls", json={"to": CALLEE}, headers=admin.headers)
    listed = client.get(f"/api/v1/calls/organization/{admin.org_id}", headers=admin.headers).json()
    assert [row["id"] for row in listed["items"]] == [r.json()["call_id"]]


@pytest.mark.parametrize("outcome, reason", [("no-answer", "no_answer"), ("busy", "busy"), ("failed", "failed")])
def test_unanswered_calls_end_with_their_reason_and_free_the_line(client, fake, outcome, reason):
    _agent, call_id, sid = _place(client)
    fake.play(sid, client, outcome=outcome)
    row = _row(call_id)
    assert (row.status, row.end_reason) == ("failed", reason)
    assert _active_calls(row.organization_id) == 0 and _minutes(row.organization_id) == []


def test_a_status_callback_before_the_call_sid_was_stored_still_closes_the_call(client, fake):
    _agent, call_id, sid = _place(client)
    with session_scope() as session:  # as if Twilio called back before calls.create returned to us
        session.execute(update(CallSession).where(CallSession.id == uuid.UUID(str(call_id))).values(provider_call_id=None))
    fake.play(sid, client, outcome="no-answer")
    row = _row(call_id)
    assert (row.provider_call_id, row.end_reason) == (sid, "no_answer")


def test_a_machine_hears_the_voicemail_message_with_its_variables_and_the_call_ends_as_voicemail(client, fake):
    agent, call_id, sid = _place(client, voicemail_action="leave_message",
                                 voicemail_message="Hi {{name}}, this is {{agent_number}} {{unknown}}calling back.")
    fake.answer(sid, client)
    _claimed_by_the_worker(call_id)
    assert fake.machine(sid, "machine_end_beep", client, duration_ms=9000).status_code == 204
    [update_twiml] = fake.placed()[0]["updates"]
    root = ET.fromstring(update_twiml)
    assert [c.tag for c in root] == ["Say", "Hangup"]
    assert root[0].text == f"Hi Ada, this is {agent['phone_number']} calling back."
    row = _row(call_id)
    assert (row.status, row.end_reason, row.answered_by) == ("completed", "voicemail", "machine_end_beep")
    assert _minutes(row.organization_id) == [1]  # still metered
    fake.status(sid, "completed", client, duration=40)  # Twilio's end changes nothing more
    assert _row(call_id).end_reason == "voicemail" and _minutes(row.organization_id) == [1]


def test_a_machine_before_the_worker_answered_is_metered_from_twilio_answer(client, fake):
    _agent, call_id, sid = _place(client)  # voicemail_action defaults to hangup
    fake.answer(sid, client)
    fake.machine(sid, "machine_end_silence", client, duration_ms=12000)
    assert fake.placed()[0]["updates"] == [texts.hang_up()]
    row = _row(call_id)
    assert (row.status, row.end_reason) == ("completed", "voicemail")
    assert row.duration_seconds >= 12 and _minutes(row.organization_id) == [1]
    assert _active_calls(row.organization_id) == 0


@pytest.mark.parametrize("answered_by, action", [("machine_end_other", "continue"), ("human", "hangup"),
                                                 ("unknown", "leave_message")])
def test_continue_and_humans_only_store_who_answered(client, fake, answered_by, action):
    _agent, call_id, sid = _place(client, voicemail_action=action, voicemail_message="Call us back.")
    fake.answer(sid, client)
    _claimed_by_the_worker(call_id)
    fake.machine(sid, answered_by, client)
    row = _row(call_id)
    assert (row.status, row.answered_by) == ("active", answered_by)
    assert fake.placed()[0]["updates"] == []


def test_unknown_ended_or_forged_sessions_are_not_bridged(client, fake):
    _agent, call_id, sid = _place(client)
    fake.play(sid, client, outcome="busy")
    assert ET.fromstring(fake.answer(sid, client).text)[0].tag == "Hangup"  # ended
    url = f"{PUBLIC_URL}/api/v1/voice/twilio/outbound?session="
    params = {"CallSid": sid, "AccountSid": fake.account_sid, "CallStatus": "in-progress"}
    for session_id in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        answer = _sign_and_post(fake.auth_token, url + session_id, params, client)
        assert answer.status_code == 200 and ET.fromstring(answer.text)[0].tag == "Hangup"
    forged = _sign_and_post("another-token", url + call_id, params, client)
    tampered = client.post(f"/api/v1/voice/twilio/outbound?session={call_id}", data=params, headers={
        "X-Twilio-Signature": "x"})
    assert forged.status_code == 403 and tampered.status_code == 403
    for path in ("amd", "outbound-status"):
        r = _sign_and_post("another-token", f"{PUBLIC_URL}/api/v1/voice/twilio/{path}?session={call_id}", params,
                           client)
        assert r.status_code == 403


def test_another_call_sid_cannot_take_a_pending_session(client, fake):
    _agent, call_id, sid = _place(client)
    params = {"CallSid": "CA" + "f" * 32, "AccountSid": fake.account_sid, "CallStatus": "in-progress"}
    answer = _sign_and_post(fake.auth_token, f"{PUBLIC_URL}/api/v1/voice/twilio/outbound?session={call_id}", params,
                            client)
    assert ET.fromstring(answer.text)[0].tag == "Hangup"
    assert _row(call_id).provider_call_id == sid and _row(call_id).status == "pending"


def test_without_livekit_sip_the_callee_hears_why(client, fake, monkeypatch):
    from voice_platform.settings import reset_settings_cache

    _agent, call_id, sid = _place(client)
    monkeypatch.delenv("LIVEKIT_SIP_DOMAIN")
    reset_settings_cache()
    root = ET.fromstring(fake.answer(sid, client).text)
    assert [c.tag for c in root] == ["Say", "Hangup"] and root[0].text == texts.UNAVAILABLE


def test_a_whole_outbound_call_on_the_embedded_sqlite_database(fake, tmp_path, monkeypatch):
    """The answer's statement (UPDATE ... FROM a VALUES CTE), the voicemail and the sweep on SQLite."""
    from fastapi.testclient import TestClient

    from tests.support.databases import TestDatabase
    from voice_platform.api import create_app
    from voice_platform.db import dispose_engines
    from voice_platform.services import outbound_calls
    from voice_platform.settings import reset_settings_cache

    url = f"sqlite:///{tmp_path / 'embedded.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    reset_settings_cache()
    dispose_engines()
    TestDatabase(url=url, name=None).migrate()
    try:
        with TestClient(create_app()) as client:
            agent, call_id, sid = _place(client, voicemail_action="leave_message", voicemail_message="Hi {{name}}.")
            assert ET.fromstring(fake.answer(sid, client).text).find("Dial/Sip") is not None
            assert ET.fromstring(fake.answer(sid, client).text).find("Dial/Sip") is not None  # a retry: the same
            fake.machine(sid, "machine_end_beep", client)
            row = _row(call_id)
            assert (row.status, row.end_reason, row.provider_call_id) == ("completed", "voicemail", sid)
            assert fake.placed()[0]["updates"] == [texts.say_and_hang_up("Hi Ada.")]
            assert _minutes(row.organization_id) == [1] and _active_calls(row.organization_id) == 0
            assert outbound_calls.sweep_undialed() == 0
    finally:
        dispose_engines()
