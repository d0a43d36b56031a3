"""The call-control tool inside LiveKit's own AgentSession: end_call and transfer_call."""

from __future__ import annotations

import asyncio
import threading
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import pytest
from livekit.agents import Agent, AgentSession

from tests.worker.conftest import load_call, open_webhook_session
from tests.fakes.twilio_rest import FakeTwilio
from tests.worker.scripted_llm import ScriptedLLM
from voice_platform.telephony import twilio_rest
from voice_platform.tools.implementations import call_control
from voice_platform.tools.implementations.call_control import (
    CallControl,
    CallControlTool,
    unavailable_functions,
)
from voice_platform.tools.registry import default_registry


@dataclass
class CallUserdata:
    call_control: CallControl | None
    tool_runtimes: dict = field(default_factory=dict)


def _functions(transfer_number: str | None, outbound: bool = False):
    tool = CallControlTool()
    return default_registry.get_tool_functions("Call_control", tool,
                                               unavailable_functions(transfer_number, outbound=outbound))


async def _converse(llm: ScriptedLLM, call: CallControl | None, text: str, transfer_number: str | None = None,
                    outbound: bool = False):
    session = AgentSession(llm=llm, userdata=CallUserdata(call))
    closed: asyncio.Future = asyncio.get_running_loop().create_future()
    session.on("close", lambda ev: closed.done() or closed.set_result(ev))
    await session.start(Agent(instructions="You answer the phone.", tools=_functions(transfer_number, outbound)))
    result = await session.run(user_input=text)
    return session, result, closed


def _claimed(number: str):
    from voice_platform.db import session_scope
    from voice_platform.services import calls

    session_id = open_webhook_session(number)
    with session_scope() as s:
        calls.claim_session(s, session_id, room_name="call-test")
    return session_id


def test_transfer_is_offered_only_with_a_transfer_number():
    assert sorted(f.info.name for f in _functions(None)) == ["end_call"]
    assert sorted(f.info.name for f in _functions("+15557654321")) == ["end_call", "transfer_call"]


def test_do_not_call_is_offered_on_outbound_calls_only():
    assert sorted(f.info.name for f in _functions(None, outbound=True)) == ["do_not_call", "end_call"]


async def test_do_not_call_lists_the_callee_of_an_outbound_call(phone_agent):
    from sqlalchemy import update

    from voice_platform.db import session_scope
    from voice_platform.models import CallSession
    from voice_platform.services import do_not_call

    session_id = _claimed(phone_agent.number)
    with session_scope() as s:  # an outbound call: the other party is the callee, To
        s.execute(update(CallSession).where(CallSession.id == session_id)
                  .values(direction="outbound", from_number=phone_agent.number, to_number="+15557000123"))
    llm = ScriptedLLM([("call", {"name": "do_not_call"}), ("say", "Of course, we won't call you again.")])
    session, result, _closed = await _converse(llm, CallControl(session_id, call_sid="CA1"),
                                               "Please stop calling me.", outbound=True)
    result.expect.next_event().is_function_call(name="do_not_call")
    result.expect.next_event().is_function_call_output(is_error=False)
    assert "will not call this number again" in llm.tool_outputs[0]
    await session.aclose()
    with session_scope() as s:
        assert do_not_call.is_listed(s, phone_agent.org_id, "+15557000123")
        assert not do_not_call.is_listed(s, phone_agent.org_id, phone_agent.number)


async def test_do_not_call_without_a_number_tells_the_model_so():
    llm = ScriptedLLM([("call", {"name": "do_not_call"}), ("say", "Noted.")])
    session, result, _closed = await _converse(llm, CallControl(session_id=None), "Never call me", outbound=True)
    result.expect.next_event().is_function_call(name="do_not_call")
    result.expect.next_event().is_function_call_output(is_error=True)
    assert "not a phone call" in llm.tool_outputs[0]
    await session.aclose()


async def test_end_call_says_goodbye_then_closes_and_records_agent_ended(phone_agent):
    session_id = _claimed(phone_agent.number)
    llm = ScriptedLLM([("call", {"name": "end_call"}), ("say", "Goodbye, have a lovely day.")])
    call = CallControl(session_id=session_id, call_sid="CA123")

    session, result, closed = await _converse(llm, call, "That's all, thank you. Bye!")

    result.expect.next_event().is_function_call(name="end_call")
    result.expect.next_event().is_function_call_output(is_error=False)
    result.expect.next_event().is_message(role="assistant")
    assert "goodbye" in llm.tool_outputs[0].lower()  # the model was told to say it
    event = await asyncio.wait_for(closed, 5)
    assert event.reason.value == "user_initiated" and event.error is None
    stored = load_call(session_id)
    assert (stored.status, stored.end_reason, call.ended) == ("completed", "agent_ended", "agent_ended")


async def test_end_call_without_call_control_is_an_error_for_the_model():
    llm = ScriptedLLM([("call", {"name": "end_call"}), ("say", "Sorry, I cannot hang up.")])

    session, result, closed = await _converse(llm, None, "Bye")

    result.expect.next_event().is_function_call(name="end_call")
    result.expect.next_event().is_function_call_output(is_error=True)
    assert "not available" in llm.tool_outputs[0]
    assert not closed.done()
    await session.aclose()


async def test_transfer_needs_a_number_and_a_phone_call(phone_agent):
    session_id = _claimed(phone_agent.number)
    steps = [("call", {"name": "transfer_call"}), ("say", "I can take a message instead.")]
    # offered, but the call's data has no number (e.g. removed mid-call): refused with a reason the model can say
    first = ScriptedLLM(list(steps))
    no_number, r1, _ = await _converse(first, CallControl(session_id, call_sid="CA1"), "A person please",
                                       transfer_number="+15557654321")
    r1.expect.next_event().is_function_call(name="transfer_call")
    r1.expect.next_event().is_function_call_output(is_error=True)
    assert "not set up" in first.tool_outputs[0]
    await no_number.aclose()

    llm = ScriptedLLM(list(steps))
    chat, r2, _ = await _converse(llm, CallControl(session_id, call_sid=None, transfer_number="+15557654321"),
                                  "A person please", transfer_number="+15557654321")
    r2.expect.next_event().is_function_call(name="transfer_call")
    r2.expect.next_event().is_function_call_output(is_error=True)
    assert "not a phone call" in llm.tool_outputs[0]
    await chat.aclose()
    assert load_call(session_id).status == "active"  # a refused transfer ends nothing


# -- transfer through Twilio's REST API (the real twilio Client against a fake on 127.0.0.1) --

HUMAN = "+15557654321"


@pytest.fixture()
def twilio(monkeypatch):
    from voice_platform.settings import reset_settings_cache

    sid, token = "AC" + uuid.uuid4().hex, uuid.uuid4().hex
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", sid)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", token)
    reset_settings_cache()
    with FakeTwilio(account_sid=sid, auth_token=token) as fake:
        monkeypatch.setattr(twilio_rest, "http_client_factory", fake.http_client)
        yield fake
    monkeypatch.undo()
    reset_settings_cache()


async def test_transfer_redirects_the_parent_call_to_the_human_and_ends_the_session(phone_agent, twilio):
    session_id = _claimed(phone_agent.number)
    call_sid = "CA" + uuid.uuid4().hex
    twilio.add_call(call_sid)
    llm = ScriptedLLM([("call", {"name": "transfer_call"}), ("say", "")])
    call = CallControl(session_id=session_id, call_sid=call_sid, transfer_number=HUMAN)

    session, result, closed = await _converse(llm, call, "Can I talk to a person?", transfer_number=HUMAN)

    result.expect.next_event().is_function_call(name="transfer_call")
    result.expect.next_event().is_function_call_output(is_error=False)
    (request,) = twilio.requests
    assert request["path"].endswith(f"/Calls/{call_sid}.json")
    twiml = ET.fromstring(request["form"]["Twiml"])
    dial = twiml.find("Dial")
    assert dial is not None and dial.text == HUMAN and dial.get("answerOnBridge") == "true"
    assert [child.tag for child in twiml] == ["Dial", "Say", "Hangup"]  # nobody answers: spoken, then hung up
    assert twilio.calls[call_sid]["twiml"] == request["form"]["Twiml"]
    await asyncio.wait_for(closed, 5)
    stored = load_call(session_id)
    assert (stored.status, stored.end_reason, call.ended) == ("completed", "transferred", "transferred")


async def test_a_failed_transfer_keeps_the_caller_with_the_agent(phone_agent, twilio):
    session_id = _claimed(phone_agent.number)
    call_sid = "CA" + uuid.uuid4().hex
    twilio.add_call(call_sid)
    twilio.fail_with = 503
    llm = ScriptedLLM([("call", {"name": "transfer_call"}), ("say", "Sorry, I could not put you through.")])
    call = CallControl(session_id=session_id, call_sid=call_sid, transfer_number=HUMAN)

    session, result, closed = await _converse(llm, call, "A person, please", transfer_number=HUMAN)

    result.expect.next_event().is_function_call(name="transfer_call")
    result.expect.next_event().is_function_call_output(is_error=True)
    assert "did not go through" in llm.tool_outputs[0]
    assert len(twilio.requests) == 1 and "twiml" not in twilio.calls[call_sid]
    assert not closed.done() and call.ended is None
    assert load_call(session_id).status == "active"
    await session.aclose()


async def test_a_hanging_twilio_is_cut_off(phone_agent, twilio, monkeypatch):
    monkeypatch.setattr(call_control, "TWILIO_TIMEOUT_SECONDS", 0.5)
    session_id = _claimed(phone_agent.number)
    call_sid = "CA" + uuid.uuid4().hex
    twilio.add_call(call_sid)
    twilio.hang = threading.Event()
    llm = ScriptedLLM([("call", {"name": "transfer_call"}), ("say", "Sorry.")])

    loop = asyncio.get_running_loop()
    started = loop.time()
    session, result, closed = await _converse(
        llm, CallControl(session_id=session_id, call_sid=call_sid, transfer_number=HUMAN), "A person", transfer_number=HUMAN)

    assert loop.time() - started < 3
    result.expect.next_event().is_function_call(name="transfer_call")
    result.expect.next_event().is_function_call_output(is_error=True)
    assert load_call(session_id).status == "active"
    twilio.hang.set()
    await session.aclose()
