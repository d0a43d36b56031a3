"""A phone call end to end in the worker's job function with the runtime's real conversation:
greeting, a forced Gemini reconnect (goAway, then a dropped socket) resumed with the last handle,
end_call, and everything recorded (transcript, invocations, end reason, setup times)."""

from __future__ import annotations

import asyncio
import json
import uuid

from livekit.agents.testing import fake_job_context

from tests.runtime.phone_agents import phone_agent
from tests.support.waiting import until
from tests.worker.conftest import load_call, open_webhook_session
from voice_platform.db import session_scope
from voice_platform.services import calls
from worker import entrypoint as entry



async def test_a_call_survives_gemini_reconnects_and_is_recorded(client, registry, gemini):
    agent = phone_agent(client)
    session_id = open_webhook_session(agent["phone_number"])
    gemini.replies = [
        # the server's connection limit mid-call: goAway, then the socket closes
        [{"say": "Bright Smile dental, hello!"}, {"go_away": True}],
        # and a socket that just dies
        [{"say": "Tuesday at ten is free."}, {"drop": True}],
        [{"say": "Booked. Anything else?"}],
        [{"call": "end_call"}],
        [{"say": "Goodbye!"}],
    ]
    metadata = json.dumps({"session_id": str(session_id), "agent_id": agent["id"]})
    with fake_job_context(room=None, job_metadata=metadata) as ctx:
        job = asyncio.create_task(entry.answer(ctx))
        await until(lambda: load_call(session_id).setup_ours_ms is not None)
        session = ctx.primary_session
        first = await session.run(user_input="Do you have time on Tuesday?")
        second = await session.run(user_input="Ten is great, book it.")
        await session.run(user_input="No, that's all. Bye!")
        await asyncio.wait_for(job, 20)

    said = lambda result: [e.item.text_content for e in result.events if e.type == "message"]  # noqa: E731
    assert said(first) == ["Tuesday at ten is free."] and said(second) == ["Booked. Anything else?"]
    handles = gemini.resumption_handles()
    assert handles[0] is None and len(handles) == 3 and all(handles[1:])  # each reconnect resumed
    assert handles[1] in gemini.handles_given and handles[2] in gemini.handles_given
    assert gemini.declared_functions() == ["end_call"]  # no transfer number: transfer_call not offered

    call = load_call(session_id)
    assert (call.status, call.end_reason) == ("completed", "agent_ended")
    assert call.setup_ours_ms < 5000 and call.setup_model_ms is not None
    with session_scope() as db:
        turns = [(t.role, t.text) for t in calls.turns(db, session_id)]
        [invocation] = calls.tool_invocations(db, session_id)
    assert turns == [
        ("assistant", "Bright Smile dental, hello!"), ("user", "Do you have time on Tuesday?"),
        ("assistant", "Tuesday at ten is free."), ("user", "Ten is great, book it."),
        ("assistant", "Booked. Anything else?"), ("user", "No, that's all. Bye!"), ("assistant", "Goodbye!"),
    ]
    assert (invocation.tool_name, invocation.function_name, invocation.error) == ("Call_control", "end_call", None)


async def test_a_model_that_refuses_fails_the_call_with_the_reason(client, registry, tmp_path, monkeypatch):
    from tests.fakes.gemini_live import FakeGeminiLive
    from voice_platform.settings import reset_settings_cache

    agent = phone_agent(client)
    session_id = open_webhook_session(agent["phone_number"])
    async with FakeGeminiLive(tmp_path, refuse=True) as server:
        for key, value in {**server.environment(), "GOOGLE_API_KEY": "bad-key-123"}.items():
            monkeypatch.setenv(key, value)
        reset_settings_cache()
        metadata = json.dumps({"session_id": str(session_id), "agent_id": agent["id"]})
        with fake_job_context(room=None, job_metadata=metadata) as ctx:
            await asyncio.wait_for(entry.answer(ctx), 15)
    reset_settings_cache()
    call = load_call(session_id)
    assert (call.status, call.end_reason) == ("failed", "model_unavailable") and "bad-key-123" not in call.error


async def test_without_a_gemini_key_the_call_fails_at_once_saying_which_setting(client, registry, monkeypatch):
    from voice_platform.settings import reset_settings_cache

    agent = phone_agent(client)
    session_id = open_webhook_session(agent["phone_number"])
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    reset_settings_cache()
    metadata = json.dumps({"session_id": str(session_id), "agent_id": str(uuid.UUID(agent["id"]))})
    with fake_job_context(room=None, job_metadata=metadata) as ctx:
        await asyncio.wait_for(entry.answer(ctx), 10)
    call = load_call(session_id)
    assert call.status == "failed" and "GOOGLE_API_KEY" in call.error
