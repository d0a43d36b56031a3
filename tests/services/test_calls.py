"""The call-session lifecycle: every transition happens once."""

from __future__ import annotations

import uuid

import pytest

from tests.support.api import create_agent, signup, unique_phone


@pytest.fixture()
def agent(client):
    admin = signup(client, "lifecycle")
    number = unique_phone()
    return create_agent(client, admin, phone_number=number), number


def _open(number: str, sid: str):
    from voice_platform.db import session_scope
    from voice_platform.services import calls

    with session_scope() as session:
        return calls.open_phone_session(session, call_sid=sid, from_number="+15550002222", to_number=number)


def test_retry_of_a_call_sid_reuses_the_session_and_refusals_open_nothing(agent):
    from sqlmodel import func, select

    from voice_platform.db import session_scope
    from voice_platform.models import CallSession

    _agent, number = agent
    sid = "CA" + uuid.uuid4().hex
    first, again = _open(number, sid), _open(number, sid)
    assert first.session_id == again.session_id and first.refusal is None
    assert _open("+19999999999", "CA" + uuid.uuid4().hex).refusal == "unknown_number"
    assert _open("not-a-number", "CA" + uuid.uuid4().hex).refusal == "invalid_number"
    with session_scope() as session:
        assert session.exec(select(func.count()).select_from(CallSession)).one() == 1


def test_a_session_is_claimed_once_and_closed_once(agent):
    from voice_platform.db import session_scope
    from voice_platform.services import calls

    _agent, number = agent
    routed = _open(number, "CA" + uuid.uuid4().hex)
    with session_scope() as session:
        assert calls.claim_session(session, routed.session_id).status == "active"
    with session_scope() as session, pytest.raises(calls.SessionRefused) as again:
        calls.claim_session(session, routed.session_id)
    assert again.value.reason == "already_answered"
    with session_scope() as session:
        assert calls.finish_session(session, routed.session_id, reason="agent_ended") is True
        assert calls.finish_session(session, routed.session_id, reason="error") is False
    with session_scope() as session:
        call = calls.get_call(session, routed.session_id)
        assert (call.status, call.end_reason) == ("completed", "agent_ended")
        with pytest.raises(calls.SessionRefused) as ended:
            calls.claim_session(session, routed.session_id)
        assert ended.value.reason == "ended"
        with pytest.raises(calls.SessionRefused) as unknown:
            calls.claim_session(session, uuid.uuid4())
        assert unknown.value.reason == "unknown"


def test_inactive_agent_is_refused(client, agent):
    from voice_platform.db import session_scope
    from voice_platform.models import VoiceAgent

    created, number = agent
    with session_scope() as session:
        session.get(VoiceAgent, uuid.UUID(created["id"])).is_active = False
    assert _open(number, "CA" + uuid.uuid4().hex).refusal == "inactive_agent"
