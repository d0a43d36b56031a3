"""Call identification: every route to a session, and every refusal, against the real database."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid

import pytest
from livekit import rtc

from tests.worker.conftest import deliver_attributes, load_call, open_webhook_session, sip_participant
from worker.identify import HEADER_ATTRIBUTE, SESSION_ATTRIBUTE, CallRefused, identify_call


async def test_session_attribute_arriving_after_join_is_awaited(phone_agent):
    session_id = open_webhook_session(phone_agent.number)
    room, caller = rtc.Room(), sip_participant({"sip.trunkPhoneNumber": phone_agent.number})
    loop = asyncio.get_running_loop()
    loop.call_later(0.05, deliver_attributes, room, caller, {"sip.callStatus": "active"})  # unrelated change first
    loop.call_later(0.1, deliver_attributes, room, caller, {SESSION_ATTRIBUTE: str(session_id)})

    started = loop.time()
    identity = await identify_call(job_metadata="", room=room, participant=caller, room_name="call-late", attribute_wait=5)

    assert loop.time() - started < 2  # taken when it arrived, not at the end of the wait
    assert (identity.session_id, identity.agent_id, identity.source) == (session_id, phone_agent.id, "attribute")
    call = load_call(session_id)
    assert (call.status, call.room_name) == ("active", "call-late") and call.answered_at is not None


async def test_include_headers_attribute_is_the_second_source(phone_agent):
    session_id = open_webhook_session(phone_agent.number)
    caller = sip_participant({HEADER_ATTRIBUTE: str(session_id), "sip.trunkPhoneNumber": phone_agent.number})

    identity = await identify_call(job_metadata="", room=rtc.Room(), participant=caller, room_name="call-h")

    assert (identity.session_id, identity.source) == (session_id, "header")


async def test_dialed_number_finds_the_webhooks_session_by_call_sid(phone_agent):
    call_sid = "CA" + uuid.uuid4().hex
    session_id = open_webhook_session(phone_agent.number, call_sid)
    caller = sip_participant({"sip.trunkPhoneNumber": phone_agent.number, "sip.twilio.callSid": call_sid,
                              "sip.phoneNumber": "+15550001111"})

    identity = await identify_call(job_metadata="", room=rtc.Room(), participant=caller, room_name="call-n",
                                   attribute_wait=0.1)

    assert (identity.session_id, identity.source) == (session_id, "dialed_number")
    assert load_call(session_id).status == "active"


async def test_dialed_number_opens_a_session_when_the_webhooks_is_missing(phone_agent):
    caller = sip_participant({"sip.trunkPhoneNumber": phone_agent.number, "sip.callID": "SCL_abc123",
                              "sip.phoneNumber": "+15550009999"})

    identity = await identify_call(job_metadata="", room=rtc.Room(), participant=caller, room_name="call-o",
                                   attribute_wait=0.1)

    call = load_call(identity.session_id)
    assert (call.agent_id, call.status, call.kind, call.room_name) == (phone_agent.id, "active", "phone", "call-o")
    assert (call.provider_call_id, call.from_number, call.to_number) == ("SCL_abc123", "+15550009999", phone_agent.number)


async def test_job_metadata_of_calls_we_start_ourselves(phone_agent):
    session_id = open_webhook_session(phone_agent.number)
    metadata = json.dumps({"session_id": str(session_id), "agent_id": str(phone_agent.id)})

    identity = await identify_call(job_metadata=metadata, room=None, participant=None, room_name="web-1")

    assert (identity.session_id, identity.agent_id, identity.source) == (session_id, phone_agent.id, "metadata")


async def test_metadata_naming_another_agent_is_refused_and_leaves_the_session_pending(phone_agent):
    session_id = open_webhook_session(phone_agent.number)
    metadata = json.dumps({"session_id": str(session_id), "agent_id": str(uuid.uuid4())})

    with pytest.raises(CallRefused) as refused:
        await identify_call(job_metadata=metadata, room_name="web-2")

    assert refused.value.reason == "agent_mismatch"
    assert load_call(session_id).status == "pending"


async def test_a_session_id_is_single_use(phone_agent, caplog):
    session_id = open_webhook_session(phone_agent.number)
    attrs = {SESSION_ATTRIBUTE: str(session_id)}
    await identify_call(job_metadata="", room=rtc.Room(), participant=sip_participant(attrs), room_name="call-1")

    caplog.set_level(logging.WARNING, logger="worker.identify")
    with pytest.raises(CallRefused) as replayed:
        await identify_call(job_metadata="", room=rtc.Room(), participant=sip_participant(attrs), room_name="call-2")

    assert (replayed.value.reason, replayed.value.source) == ("already_answered", "attribute")
    assert load_call(session_id).room_name == "call-1"  # the replay took nothing over
    assert "call refused: reason=already_answered source=attribute room=call-2" in caplog.text
    # a second job dispatched into the answered call's own room is told apart: it must not hang up
    with pytest.raises(CallRefused) as duplicate:
        await identify_call(job_metadata="", room=rtc.Room(), participant=sip_participant(attrs), room_name="call-1")
    assert duplicate.value.reason == "duplicate_job"


async def test_ended_unknown_and_malformed_session_ids_are_refused(phone_agent):
    from voice_platform.db import session_scope
    from voice_platform.services import calls

    ended = open_webhook_session(phone_agent.number)
    with session_scope() as session:
        calls.finish_session(session, ended, reason="caller_hangup")
    cases = {str(ended): "ended", str(uuid.uuid4()): "unknown", "not-a-uuid": "malformed"}
    for value, reason in cases.items():
        with pytest.raises(CallRefused) as refused:
            await identify_call(job_metadata="", room=rtc.Room(), participant=sip_participant({SESSION_ATTRIBUTE: value}))
        assert refused.value.reason == reason, value
    with pytest.raises(CallRefused) as bad_metadata:
        await identify_call(job_metadata=json.dumps({"session_id": "nope"}))
    assert bad_metadata.value.reason == "malformed"
    assert load_call(ended).end_reason == "caller_hangup"


async def test_no_session_and_no_usable_number_is_refused(phone_agent):
    room = rtc.Room()
    with pytest.raises(CallRefused) as nothing:
        await identify_call(job_metadata="not json", room=room, participant=sip_participant({}), attribute_wait=0.05)
    assert nothing.value.reason == "unidentified"
    with pytest.raises(CallRefused) as unknown:
        await identify_call(job_metadata="", room=room, attribute_wait=0.05,
                            participant=sip_participant({"sip.trunkPhoneNumber": "+19998887777"}))
    assert unknown.value.reason == "unknown_number"
    with pytest.raises(CallRefused) as garbage:
        await identify_call(job_metadata="", room=room, attribute_wait=0.05,
                            participant=sip_participant({"sip.trunkPhoneNumber": "sip:anonymous"}))
    assert garbage.value.reason == "invalid_number"


async def test_a_caller_who_leaves_during_the_wait_is_not_waited_for(phone_agent):
    room, caller = rtc.Room(), sip_participant({"sip.trunkPhoneNumber": phone_agent.number})
    asyncio.get_running_loop().call_later(0.05, room.emit, "participant_disconnected", caller)

    with pytest.raises(CallRefused) as gone:
        await asyncio.wait_for(identify_call(job_metadata="", room=room, participant=caller, attribute_wait=10), 3)

    assert gone.value.reason == "caller_gone"
