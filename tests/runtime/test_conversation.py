"""The runtime's conversation through the real Gemini Live plugin against a fake server on 127.0.0.1:
declared functions, per-tool configs and secrets, failing and hanging tools, and what is recorded."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlmodel import update

from voice_platform.db import session_scope
from voice_platform.models import AgentTool
from voice_platform.runtime import chat
from voice_platform.services import calls


def _open_test_session(agent_id: str) -> uuid.UUID:
    from voice_platform.models import CallSession, VoiceAgent
    from voice_platform.models.base import utcnow

    with session_scope() as session:
        agent = session.get(VoiceAgent, uuid.UUID(agent_id))
        call = CallSession(organization_id=agent.organization_id, agent_id=agent.id, kind="test", status="active",
                           started_at=utcnow(), answered_at=utcnow())
        session.add(call)
        session.flush()
        return call.id


def _tool_responses(gemini) -> list[dict]:
    out = []
    for message in gemini.received:
        body = message.get("toolResponse") or message.get("tool_response")
        if body:
            out.extend(body.get("functionResponses") or body.get("function_responses") or [])
    return out


async def test_enabled_functions_run_with_their_own_config_and_failures_reach_the_model(gemini, tooled_agent, registry):
    agent, _admin = tooled_agent
    with session_scope() as session:  # a stale name left in the database by an older version of a tool
        session.execute(update(AgentTool).where(AgentTool.id == uuid.UUID(agent["flaky_attachment_id"]))
                        .values(unselected_functions=["unused", "gone_since_v2"]))
    gemini.replies = [
        [{"call": "forecast", "args": {"city": "Paris"}}],
        [{"call": "lookup", "args": {"topic": "hours", "pin": "1234"}}],
        [{"call": "explode"}],
        [{"call": "stall"}],
        [{"say": "Paris is sunny and we open at nine."}],
    ]
    session_id = _open_test_session(agent["id"])
    reply = await chat.converse(session_id, "What's the weather and when do you open?", registry=registry)

    assert gemini.declared_functions() == ["end_call", "explode", "forecast", "lookup", "stall"]
    setup = gemini.setups[0]
    instructions = json.dumps(setup.get("systemInstruction"))
    assert "Bright Smile dental" in instructions and "Open 9-5" in instructions and "America/New_York" in instructions
    compression = json.dumps(setup["contextWindowCompression"])  # nested keys come in either spelling
    assert "sessionResumption" in setup and "100000" in compression and "60000" in compression

    responses = {r["name"]: r["response"] for r in _tool_responses(gemini)}
    # each tool reads its own runtime: the weather tool its api_key, the notes tool its prefix and token
    assert "'key_set': True" in responses["forecast"]["output"]
    assert "'note': 'N:hours', 'token_set': True" in responses["lookup"]["output"]
    assert "explode failed" in json.dumps(responses["explode"])
    assert "did not answer within 0.5 s" in json.dumps(responses["stall"])
    assert "weather-secret-1" not in json.dumps(gemini.received) and "notes-secret-2" not in json.dumps(gemini.received)

    assert reply.reply == "Paris is sunny and we open at nine."
    assert [(c.name, c.is_error) for c in reply.tool_calls] == [
        ("forecast", False), ("lookup", False), ("explode", True), ("stall", True)]

    with session_scope() as session:
        turns = [(t.role, t.text) for t in calls.turns(session, session_id)]
        invocations = calls.tool_invocations(session, session_id)
    assert turns == [("assistant", "Hello, Bright Smile dental, how can I help?"),
                     ("user", "What's the weather and when do you open?"),
                     ("assistant", "Paris is sunny and we open at nine.")]
    by_name = {i.function_name: i for i in invocations}
    assert set(by_name) == {"forecast", "lookup", "explode", "stall"}
    assert by_name["forecast"].tool_name == "Test_weather" and by_name["forecast"].error is None
    assert by_name["forecast"].result["key_set"] is True
    assert by_name["lookup"].arguments == {"topic": "hours", "pin": "1234"}
    assert "RuntimeError" in by_name["explode"].error
    assert "did not answer" in by_name["stall"].error and 400 <= by_name["stall"].duration_ms < 3000


async def test_a_conversation_continues_from_its_stored_turns(gemini, tooled_agent, registry):
    agent, _admin = tooled_agent
    session_id = _open_test_session(agent["id"])
    gemini.replies = [[{"say": "Sure, what day?"}]]
    first = await chat.converse(session_id, "I'd like to book a cleaning.", registry=registry)
    gemini.replies = [[{"say": "Tuesday at ten is free."}]]
    second = await chat.converse(session_id, "Tuesday please.", registry=registry)

    assert (first.reply, second.reply) == ("Sure, what day?", "Tuesday at ten is free.")
    assert len(gemini.setups) == 2  # a new Live session per message, rebuilt from the database
    later = json.dumps(gemini.received[len(gemini.received) // 2:])
    assert "I'd like to book a cleaning." in later and "Sure, what day?" in later
    with session_scope() as session:
        assert [t.role for t in calls.turns(session, session_id)] == ["assistant", "user", "assistant", "user", "assistant"]


async def test_an_unreachable_model_is_a_clear_failure(tmp_path, monkeypatch, tooled_agent, registry):
    from tests.fakes.gemini_live import FakeGeminiLive
    from voice_platform.settings import reset_settings_cache

    agent, _admin = tooled_agent
    async with FakeGeminiLive(tmp_path, refuse=True) as server:
        for key, value in {**server.environment(), "GOOGLE_API_KEY": "bad-key"}.items():
            monkeypatch.setenv(key, value)
        reset_settings_cache()
        with pytest.raises(chat.ChatFailed) as failed:
            await chat.converse(_open_test_session(agent["id"]), "Hello?", registry=registry)
    reset_settings_cache()
    assert "API key not valid" in str(failed.value) and "bad-key" not in str(failed.value)
