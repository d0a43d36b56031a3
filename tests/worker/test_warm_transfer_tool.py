"""transfer_call in warm mode inside LiveKit's own AgentSession: the model's briefing puts the caller on
hold (the real twilio Client against the fake Twilio through TWILIO_API_BASE_URL), the session stays
open for the worker to leave alone, and any failure keeps the caller with the agent."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from livekit.agents import Agent, AgentSession

from tests.fakes.twilio_rest import twilio  # noqa: F401 - fixture
from tests.support.warm_transfer import (  # noqa: F401 - fixture
    BRIEFING, PERSON, caller_updates, row, sip_settings, stages, warm_call,
)
from tests.worker.scripted_llm import ScriptedLLM
from voice_platform.tools.implementations.call_control import (
    WARM_TRANSFER, CallControl, CallControlTool, unavailable_functions,
)
from voice_platform.tools.registry import default_registry


@dataclass
class CallUserdata:
    call_control: CallControl | None
    tool_runtimes: dict = field(default_factory=dict)


async def _transfer(call: CallControl, arguments: dict):
    tools = default_registry.get_tool_functions("Call_control", CallControlTool(), unavailable_functions(PERSON))
    llm = ScriptedLLM([("call", {"name": "transfer_call", "arguments": arguments}), ("say", "")])
    session = AgentSession(llm=llm, userdata=CallUserdata(call))
    closed: asyncio.Future = asyncio.get_running_loop().create_future()
    session.on("close", lambda ev: closed.done() or closed.set_result(ev))
    await session.start(Agent(instructions="You answer the phone.", tools=tools))
    result = await session.run(user_input="Can I talk to someone about my appointment?")
    result.expect.next_event().is_function_call(name="transfer_call")
    return session, result, closed, llm


def _control(call) -> CallControl:
    return CallControl(session_id=call.session_id, call_sid=call.call_sid, transfer_number=PERSON,
                       transfer_mode="warm")


async def test_warm_transfer_holds_the_caller_and_leaves_the_session_open(client, sip_settings):
    call = warm_call(client, sip_settings)
    control = _control(call)

    session, result, closed, llm = await _transfer(control, {"briefing": BRIEFING})

    result.expect.next_event().is_function_call_output(is_error=False)
    assert "on hold" in llm.tool_outputs[0]
    (hold,) = caller_updates(sip_settings, call.call_sid)
    assert hold.find("Dial/Conference") is not None
    assert control.ended == WARM_TRANSFER  # the worker sees it when the SIP leg drops: no finish
    await asyncio.wait_for(closed, 5)  # this leg's conversation is over
    stored = row(call.session_id)
    assert stored.status == "active" and stored.transfer["briefing"] == BRIEFING
    assert stages(call.session_id) == ["holding"]


async def test_warm_transfer_asks_the_model_for_a_briefing(client, sip_settings):
    call = warm_call(client, sip_settings)
    control = _control(call)

    session, result, closed, llm = await _transfer(control, {})

    result.expect.next_event().is_function_call_output(is_error=True)
    assert "briefing" in llm.tool_outputs[0]
    assert control.ended is None and caller_updates(sip_settings, call.call_sid) == []
    assert not closed.done()
    await session.aclose()


async def test_twilio_failing_keeps_the_caller_with_the_agent(client, sip_settings):
    call = warm_call(client, sip_settings)
    control = _control(call)
    sip_settings.fail_with = 503

    session, result, closed, llm = await _transfer(control, {"briefing": BRIEFING})

    result.expect.next_event().is_function_call_output(is_error=True)
    assert "did not go through" in llm.tool_outputs[0]
    assert control.ended is None and not closed.done()
    assert row(call.session_id).status == "active" and stages(call.session_id) == ["holding", "hold_failed"]
    await session.aclose()
