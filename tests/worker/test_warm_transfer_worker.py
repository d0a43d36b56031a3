"""The worker's side of a warm transfer: the leg that put the caller on hold leaves the session
open, and the leg that brings the caller back resumes the same conversation (stored turns, no
greeting, the model told why) instead of claiming a fresh session."""

from __future__ import annotations

import asyncio
import json

import pytest
from livekit.agents.testing import fake_job_context
from sqlalchemy import update

from tests.fakes.twilio_rest import twilio  # noqa: F401 - fixture
from tests.services.test_warm_transfer import _declined
from tests.support.waiting import until
from tests.support.warm_transfer import sip_headers, sip_settings, caller_updates, stages, warm_call  # noqa: F401
from tests.worker.conftest import load_call, sip_participant
from tests.worker.test_entrypoint_flow import ScriptedConversation
from tests.worker.scripted_llm import ScriptedLLM
from voice_platform.db import session_scope
from voice_platform.models import CallSession
from voice_platform.services import calls, warm_transfer_legs
from voice_platform.tools.implementations.call_control import WARM_TRANSFER
from worker import entrypoint as entry
from worker.identify import CallRefused, identify_call


async def test_the_leg_put_on_hold_ends_without_ending_the_call(client, sip_settings):
    call = warm_call(client, sip_settings)
    with session_scope() as session:  # the webhook's session, not yet answered by this worker
        session.execute(update(CallSession).where(CallSession.id == call.session_id)
                        .values(status="pending", answered_at=None))
    conversation = ScriptedConversation(call.session_id, ScriptedLLM([("say", "Hello, front desk.")]))
    metadata = json.dumps({"session_id": str(call.session_id), "agent_id": call.agent["id"]})
    with fake_job_context(room=None, job_metadata=metadata) as ctx:
        job = asyncio.create_task(entry.answer(ctx, build=lambda _sid: conversation))
        await until(lambda: load_call(call.session_id).setup_ours_ms is not None)
        assert conversation.userdata.call_control.transfer_mode == "warm"  # the agent's, handed to the tool
        conversation.userdata.call_control.ended = WARM_TRANSFER  # what transfer_call does before the hold
        await ctx.primary_session.aclose()  # the caller's SIP leg left for the conference
        await asyncio.wait_for(job, 10)
    stored = load_call(call.session_id)
    assert (stored.status, stored.end_reason, stored.ended_at) == ("active", None, None)


async def test_the_caller_coming_back_resumes_the_same_conversation(client, sip_settings, monkeypatch):
    from voice_platform.runtime.agent import build_conversation
    from voice_platform.settings import reset_settings_cache

    monkeypatch.setenv("GOOGLE_API_KEY", "test-key-not-real")
    reset_settings_cache()
    call = warm_call(client, sip_settings)
    with session_scope() as session:
        calls.record_turn(session, call.session_id, "assistant", "Hello, front desk.")
        calls.record_turn(session, call.session_id, "user", "I need to speak to Dr. Lee about my bill.")
    _declined(call)
    assert warm_transfer_legs.bring_back(call.session_id, 1)
    headers = sip_headers(caller_updates(sip_settings, call.call_sid)[-1])
    caller = sip_participant({"vp.session": headers["X-Vp-Session"], "vp.resume": headers["X-Vp-Resume"]})

    identity = await identify_call(job_metadata=None, participant=caller, room_name="call-back")
    assert identity.resumed and identity.session_id == call.session_id
    assert stages(call.session_id)[-2:] == ["returned", "resumed"]
    with pytest.raises(CallRefused) as again:  # the token is single-use: a replayed INVITE is refused
        await identify_call(job_metadata=None, participant=caller, room_name="call-back-2")
    assert again.value.reason == "already_answered"

    conversation = build_conversation(call.session_id)
    said = [(m.role, m.text_content) for m in conversation.agent.chat_ctx.items if hasattr(m, "text_content")]
    assert said == [("assistant", "Hello, front desk."), ("user", "I need to speak to Dr. Lee about my bill.")]
    assert "offer to take a message" in conversation.resume_note
    assert load_call(call.session_id).status == "active"
    reset_settings_cache()
