"""The job function end to end in a fake job (LiveKit's own fake_job_context, no server):
identify -> conversation -> greeting -> setup times -> the end recorded once.

The conversation here is LiveKit's AgentSession with a scripted pipeline LLM and the real
call-control tool; the runtime's Gemini conversation is exercised in test_entrypoint_gemini.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import pytest
from livekit.agents import Agent, AgentSession
from livekit.agents.llm import LLM, LLMStream
from livekit.agents.testing import fake_job_context
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS

from tests.support.waiting import until
from tests.worker.conftest import load_call, open_webhook_session
from tests.worker.scripted_llm import ScriptedLLM
from voice_platform.tools.implementations.call_control import CallControl, CallControlTool
from voice_platform.tools.registry import default_registry
from worker import entrypoint as entry


@dataclass
class CallUserdata:
    call_control: CallControl | None = None  # the worker sets it
    tool_runtimes: dict = field(default_factory=dict)


class ScriptedConversation:
    """What the worker asks of a conversation: an agent, a fresh session, a greeting."""

    def __init__(self, session_id, llm: LLM) -> None:
        self.llm = llm
        self.userdata = CallUserdata()
        tools = default_registry.get_tool_functions("Call_control", CallControlTool())
        self.agent = Agent(instructions="You answer the phone for a dentist.", tools=tools)
        self.built_for = None

    def new_session(self) -> AgentSession:
        return AgentSession(llm=self.llm, userdata=self.userdata)

    def greet(self, session: AgentSession):
        return session.generate_reply(instructions="Greet the caller.")


class SilentLLM(LLM):
    """A model that accepts the request and never answers (a hung connection)."""

    def chat(self, *, chat_ctx, tools=None, conn_options=DEFAULT_API_CONNECT_OPTIONS, **_kw) -> LLMStream:
        return _Silent(self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options)


class _Silent(LLMStream):
    async def _run(self) -> None:
        await asyncio.Event().wait()



def _metadata(session_id, agent_id) -> str:
    return json.dumps({"session_id": str(session_id), "agent_id": str(agent_id)})


async def test_a_call_is_greeted_timed_and_ended_by_the_agent(phone_agent):
    session_id = open_webhook_session(phone_agent.number)
    llm = ScriptedLLM([("say", "Hello, Bright Smile dental."), ("call", {"name": "end_call"}), ("say", "Goodbye!")])
    conversation = ScriptedConversation(session_id, llm)
    built = []

    def build(sid):
        built.append(sid)
        return conversation

    with fake_job_context(room=None, job_metadata=_metadata(session_id, phone_agent.id)) as ctx:
        job = asyncio.create_task(entry.answer(ctx, build=build))
        await until(lambda: load_call(session_id).setup_ours_ms is not None)
        assert load_call(session_id).status == "active"
        await ctx.primary_session.run(user_input="That's everything, bye.")
        await asyncio.wait_for(job, 10)

    call = load_call(session_id)
    assert built == [session_id]
    assert (call.status, call.end_reason, call.error) == ("completed", "agent_ended", None)
    control = conversation.userdata.call_control
    assert (control.session_id, control.call_sid, control.ended) == (session_id, call.provider_call_id, "agent_ended")
    assert llm.offered and all(names == ["end_call"] for names in llm.offered)  # no transfer number: no transfer
    assert 0 < call.setup_ours_ms < 5000 and 0 <= call.setup_model_ms < 5000
    assert call.ended_at is not None and call.duration_seconds is not None


async def test_a_model_that_never_greets_fails_the_call_instead_of_dead_air(phone_agent, monkeypatch):
    monkeypatch.setattr(entry, "GREETING_WAIT_SECONDS", 0.5)
    session_id = open_webhook_session(phone_agent.number)

    with fake_job_context(room=None, job_metadata=_metadata(session_id, phone_agent.id)) as ctx:
        await asyncio.wait_for(entry.answer(ctx, build=lambda sid: ScriptedConversation(sid, SilentLLM())), 10)

    call = load_call(session_id)
    assert (call.status, call.end_reason) == ("failed", "model_unavailable")
    assert "did not greet" in call.error and call.setup_model_ms is None


async def test_an_error_while_building_fails_the_call_with_the_reason(phone_agent):
    session_id = open_webhook_session(phone_agent.number)

    def build(_sid):
        raise RuntimeError("agent row vanished")

    with fake_job_context(room=None, job_metadata=_metadata(session_id, phone_agent.id)) as ctx:
        await asyncio.wait_for(entry.answer(ctx, build=build), 10)

    call = load_call(session_id)
    assert (call.status, call.end_reason) == ("failed", "error")
    assert call.error == "RuntimeError: agent row vanished"


async def test_a_refused_session_builds_nothing_and_ends_the_job(phone_agent, caplog):
    session_id = open_webhook_session(phone_agent.number)
    from voice_platform.db import session_scope
    from voice_platform.services import calls

    with session_scope() as s:
        calls.finish_session(s, session_id, reason="caller_hangup")

    def build(_sid):
        raise AssertionError("a refused call must not be built")

    with fake_job_context(room=None, job_metadata=_metadata(session_id, phone_agent.id)) as ctx:
        await asyncio.wait_for(entry.answer(ctx, build=build), 10)

    assert "call refused: reason=ended source=metadata" in caplog.text
    assert load_call(session_id).end_reason == "caller_hangup"  # untouched


async def test_an_agent_with_a_transfer_number_is_offered_the_transfer(client):
    from tests.support.api import create_agent, signup, unique_phone

    admin = signup(client, "transfer")
    agent = create_agent(client, admin, phone_number=unique_phone(), transfer_number="+15557654321")
    session_id = open_webhook_session(agent["phone_number"])
    llm = ScriptedLLM([("say", "Hello."), ("call", {"name": "end_call"}), ("say", "Bye.")])
    conversation = ScriptedConversation(session_id, llm)

    with fake_job_context(room=None, job_metadata=_metadata(session_id, agent["id"])) as ctx:
        job = asyncio.create_task(entry.answer(ctx, build=lambda _sid: conversation))
        await until(lambda: load_call(session_id).setup_ours_ms is not None)
        await ctx.primary_session.run(user_input="Bye")
        await asyncio.wait_for(job, 10)

    assert llm.offered[0] == ["end_call", "transfer_call"]
    assert conversation.userdata.call_control.transfer_number == "+15557654321"


async def test_a_job_shut_down_mid_call_leaves_the_session_failed_not_active(phone_agent):
    session_id = open_webhook_session(phone_agent.number)
    conversation = ScriptedConversation(session_id, ScriptedLLM([("say", "Hello.")]))

    with fake_job_context(room=None, job_metadata=_metadata(session_id, phone_agent.id)) as ctx:
        job = asyncio.create_task(entry.answer(ctx, build=lambda _sid: conversation))
        await until(lambda: load_call(session_id).setup_ours_ms is not None)
        # what JobContext runs when the worker drains or the job is killed (a fake job never runs them itself)
        for callback in ctx._shutdown_callbacks:
            await callback("worker draining")
        assert (load_call(session_id).status, load_call(session_id).end_reason) == ("failed", "error")
        await ctx.primary_session.aclose()
        await asyncio.wait_for(job, 10)

    call = load_call(session_id)
    assert call.error == "the job shut down: worker draining"  # the later close changed nothing
