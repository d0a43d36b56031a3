"""Warm transfer's state and Twilio legs: the real twilio Client against the fake Twilio (through
TWILIO_API_BASE_URL), the real database; the webhooks' side is in tests/telephony."""

from __future__ import annotations

import uuid

import pytest

from tests.fakes.twilio_rest import PUBLIC_URL, twilio  # noqa: F401 - fixture
from tests.support.api import signup
from tests.support.warm_transfer import (  # noqa: F401 - fixture
    BRIEFING, caller_updates, row, sip_headers, sip_settings, stages, warm_call,
)
from voice_platform.db import session_scope
from voice_platform.errors import NotFound
from voice_platform.models import User
from voice_platform.services import calls, warm_transfer, warm_transfer_legs

TRANSFER = PUBLIC_URL + "/api/v1/voice/twilio/transfer"


def _in(work, *args, **kwargs):
    with session_scope() as session:
        return work(session, *args, **kwargs)


def test_start_puts_the_caller_alone_in_a_conference_with_hold_music(client, sip_settings):
    call = warm_call(client, sip_settings)

    attempt = warm_transfer_legs.start(call.session_id, "  Ada wants   a refund.  ")

    assert attempt == 1
    (hold,) = caller_updates(sip_settings, call.call_sid)
    conference = hold.find("Dial/Conference")
    assert conference.text == f"vp-{call.session_id}-1"
    assert conference.get("startConferenceOnEnter") == "false"  # the caller waits: Twilio plays waitUrl
    assert conference.get("endConferenceOnExit") == "true"
    assert conference.get("waitUrl") == f"{TRANSFER}/wait?session={call.session_id}&attempt=1"
    stored = row(call.session_id)
    assert stored.status == "active" and stored.end_reason is None  # the call goes on in Twilio
    assert stored.transfer["state"] == "holding" and stored.transfer["briefing"] == "Ada wants a refund."
    assert stored.transfer["caller_call_sid"] == call.call_sid and stages(call.session_id) == ["holding"]
    assert _in(warm_transfer.in_progress, call.session_id)


@pytest.mark.parametrize("briefing", ["", "   "])
def test_a_transfer_needs_a_briefing(client, sip_settings, briefing):
    call = warm_call(client, sip_settings)
    with pytest.raises(warm_transfer.TransferRefused, match="briefing"):
        warm_transfer_legs.start(call.session_id, briefing)
    assert caller_updates(sip_settings, call.call_sid) == [] and row(call.session_id).transfer is None


def test_one_transfer_at_a_time_and_only_of_a_live_phone_call(client, sip_settings):
    call = warm_call(client, sip_settings)
    warm_transfer_legs.start(call.session_id, BRIEFING)
    with pytest.raises(warm_transfer.TransferRefused, match="already under way"):
        warm_transfer_legs.start(call.session_id, BRIEFING)
    with pytest.raises(warm_transfer.TransferRefused):
        warm_transfer_legs.start(uuid.uuid4(), BRIEFING)
    ended = warm_call(client, sip_settings)
    _in(calls.finish_session, ended.session_id, reason="caller_hangup")
    with pytest.raises(warm_transfer.TransferRefused, match="cannot be transferred"):
        warm_transfer_legs.start(ended.session_id, BRIEFING)
    assert len(caller_updates(sip_settings, call.call_sid)) == 1


def test_twilio_failing_at_the_hold_leaves_the_caller_with_the_agent(client, sip_settings):
    call = warm_call(client, sip_settings)
    sip_settings.fail_with = 503
    with pytest.raises(Exception):
        warm_transfer_legs.start(call.session_id, BRIEFING)
    stored = row(call.session_id)
    assert stored.status == "active" and stored.transfer["state"] == "hold_failed"
    assert stages(call.session_id) == ["holding", "hold_failed"]
    assert not _in(warm_transfer.in_progress, call.session_id)
    sip_settings.fail_with = None  # and the agent may try again: a new attempt
    assert warm_transfer_legs.start(call.session_id, BRIEFING) == 2


def _declined(call) -> None:
    """Hold, the person called, briefed, and pressing 2: the state a return starts from."""
    warm_transfer_legs.start(call.session_id, BRIEFING)
    assert _in(warm_transfer.waiting, call.session_id, 1)[0] == "call_person"
    assert _in(warm_transfer.briefing_for, call.session_id, 1) == BRIEFING
    assert _in(warm_transfer.person_answered, call.session_id, 1, "2") == "declined"


def test_a_declined_transfer_comes_back_with_a_single_use_resume_token(client, sip_settings):
    call = warm_call(client, sip_settings)
    _declined(call)

    assert warm_transfer_legs.bring_back(call.session_id, 1)

    back = caller_updates(sip_settings, call.call_sid)[-1]
    headers = sip_headers(back)
    assert headers["X-Vp-Session"] == str(call.session_id)
    assert headers["X-Vp-Resume"] == warm_transfer.resume_token(call.session_id, 1)
    assert back.find("Dial").get("action") == PUBLIC_URL + "/api/v1/voice/twilio/dial-status"
    resumed = _in(lambda s: warm_transfer.resume(s, call.session_id, headers["X-Vp-Resume"], room_name="r2").room_name)
    assert resumed == "r2"
    assert stages(call.session_id) == ["holding", "calling_person", "briefing", "declined", "returned", "resumed"]
    with pytest.raises(warm_transfer.ResumeRefused) as again:
        _in(warm_transfer.resume, call.session_id, headers["X-Vp-Resume"])
    assert again.value.reason == "already_answered"
    assert not _in(warm_transfer.in_progress, call.session_id)
    assert "offer to take a message" in warm_transfer.resume_note(row(call.session_id))


def test_resume_refuses_forged_foreign_and_early_tokens(client, sip_settings):
    call, other = warm_call(client, sip_settings), warm_call(client, sip_settings)
    _declined(call)
    token = warm_transfer.resume_token(call.session_id, 1)
    cases = [
        ("malformed", call.session_id, "not-a-token"),
        ("forged", call.session_id, "1." + "A" * 32),
        ("forged", other.session_id, token),  # another call's (another organization's) token
        ("forged", call.session_id, "2." + token.split(".", 1)[1]),  # another attempt's
        ("not_returning", call.session_id, token),  # declined, not yet sent back: nothing to answer
        ("unknown", uuid.uuid4(), None),
    ]
    for expected, session_id, raw in cases:
        with pytest.raises(warm_transfer.ResumeRefused) as refused:
            _in(warm_transfer.resume, session_id, raw or warm_transfer.resume_token(session_id, 1))
        assert refused.value.reason == expected, (expected, raw)
    _in(calls.finish_session, call.session_id, reason="caller_hangup")
    with pytest.raises(warm_transfer.ResumeRefused) as ended:
        _in(warm_transfer.resume, call.session_id, token)
    assert ended.value.reason == "ended"
    assert isinstance(ended.value, calls.SessionRefused)  # the worker's claim path already maps these


def test_a_caller_who_cannot_be_brought_back_hears_an_apology_and_the_session_fails(client, sip_settings):
    call = warm_call(client, sip_settings)
    _declined(call)
    sip_settings.fail_with = 503

    assert not warm_transfer_legs.bring_back(call.session_id, 1)

    stored = row(call.session_id)
    assert (stored.status, stored.end_reason) == ("failed", "error") and "warm transfer" in stored.error
    assert stages(call.session_id)[-2:] == ["returned", "return_failed"]
    tries = sip_settings.requests_to("POST", f"/Calls/{call.call_sid}.json")
    assert len(tries) == 1 + warm_transfer_legs.RETURN_TRIES + 1  # hold, the returns, the apology
    assert "<Say>" in tries[-1]["form"]["Twiml"]


def test_another_organization_cannot_see_the_transfer(client, sip_settings):
    call = warm_call(client, sip_settings)
    warm_transfer_legs.start(call.session_id, BRIEFING)
    stranger = signup(client, "stranger")
    with session_scope() as session:
        own = warm_transfer.transfer_of(session, session.get(User, uuid.UUID(call.admin.user_id)), call.session_id)
        assert own["state"] == "holding" and own["briefing"] == BRIEFING
        with pytest.raises(NotFound):
            warm_transfer.transfer_of(session, session.get(User, uuid.UUID(stranger.user_id)), call.session_id)
