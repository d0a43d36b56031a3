"""The job function with the real Gemini Live plugin against a fake server on 127.0.0.1.

Proves the realtime half of end_call (the model's own goodbye after the tool output is
awaited before the call closes) and that an unreachable model fails the call at once,
with the reason stored, instead of leaving the caller in silence.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

from livekit.agents import Agent, AgentSession
from livekit.agents.testing import fake_job_context
from livekit.plugins.google.realtime import RealtimeModel

from tests.support.waiting import until
from tests.worker.conftest import load_call, open_webhook_session
from tests.fakes.gemini_live import FakeGeminiLive
from voice_platform.tools.implementations.call_control import CallControl, CallControlTool
from voice_platform.tools.registry import default_registry
from worker import entrypoint as entry

MODEL = "gemini-2.5-flash-native-audio-preview-09-2025"


@dataclass
class CallUserdata:
    call_control: CallControl | None = None
    tool_runtimes: dict = field(default_factory=dict)


class RealtimeConversation:
    def __init__(self) -> None:
        self.userdata = CallUserdata()
        tools = default_registry.get_tool_functions("Call_control", CallControlTool())
        self.agent = Agent(instructions="You answer the phone for a dentist.", tools=tools)

    def new_session(self) -> AgentSession:
        return AgentSession(llm=RealtimeModel(model=MODEL, api_key="test-key", voice="Puck"), userdata=self.userdata)

    def greet(self, session: AgentSession):
        return session.generate_reply(instructions="Greet the caller.")



def _metadata(session_id, agent_id) -> str:
    return json.dumps({"session_id": str(session_id), "agent_id": str(agent_id)})


async def test_end_call_on_gemini_waits_for_the_goodbye_then_ends(phone_agent, tmp_path, monkeypatch):
    session_id = open_webhook_session(phone_agent.number)
    replies = [[{"say": "Hello, Bright Smile dental."}], [{"call": "end_call"}], [{"say": "Goodbye, take care!"}]]
    async with FakeGeminiLive(tmp_path, replies) as gemini:
        for key, value in gemini.environment().items():
            monkeypatch.setenv(key, value)
        conversation = RealtimeConversation()
        with fake_job_context(room=None, job_metadata=_metadata(session_id, phone_agent.id)) as ctx:
            job = asyncio.create_task(entry.answer(ctx, build=lambda _sid: conversation))
            await until(lambda: load_call(session_id).setup_ours_ms is not None)
            session = ctx.primary_session
            await session.run(user_input="That's all, thank you. Bye!")
            await asyncio.wait_for(job, 15)

    assert gemini.declared_functions() == ["end_call"]  # no transfer number: not declared
    said = [m.text_content for m in session.history.items if m.type == "message" and m.role == "assistant"]
    assert said[0] == "Hello, Bright Smile dental." and said[-1] == "Goodbye, take care!"
    assert any("toolResponse" in m or "tool_response" in m for m in gemini.received)
    call = load_call(session_id)
    assert (call.status, call.end_reason) == ("completed", "agent_ended")
    assert call.setup_model_ms is not None and call.setup_model_ms < 5000


async def test_an_unreachable_model_fails_the_call_with_its_reason(phone_agent, tmp_path, monkeypatch):
    session_id = open_webhook_session(phone_agent.number)
    async with FakeGeminiLive(tmp_path, refuse=True) as gemini:
        for key, value in gemini.environment().items():
            monkeypatch.setenv(key, value)
        started = time.monotonic()
        with fake_job_context(room=None, job_metadata=_metadata(session_id, phone_agent.id)) as ctx:
            await asyncio.wait_for(entry.answer(ctx, build=lambda _sid: RealtimeConversation()), 15)
        elapsed = time.monotonic() - started

    assert gemini.setups  # it did reach the model, which refused
    call = load_call(session_id)
    assert (call.status, call.end_reason) == ("failed", "model_unavailable")
    assert "API key not valid" in call.error and "test-key" not in call.error
    assert elapsed < entry.GREETING_WAIT_SECONDS  # the refusal ends it, not the greeting timeout
