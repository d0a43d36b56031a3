"""A phone call's prompt and greeting reach the model with their placeholders filled."""

from __future__ import annotations

import uuid

from tests.support.api import create_agent, signup
from voice_platform.db import session_scope
from voice_platform.models import CallSession
from voice_platform.models.base import utcnow
from voice_platform.runtime.agent import build_conversation
from voice_platform.runtime.instructions import greeting_request


def test_the_greeting_and_prompt_are_filled_from_the_call(client, monkeypatch):
    from voice_platform.settings import reset_settings_cache

    monkeypatch.setenv("GOOGLE_API_KEY", "test-key-not-real")
    reset_settings_cache()
    admin = signup(client, "vars")
    agent = create_agent(client, admin, greeting="Hello {{ caller_number }}{{ name }}, thanks for calling!",
                         system_prompt="You answer {{agent_number}}. It is {{now}}. {{unknown}}Be kind.")
    with session_scope() as session:
        call = CallSession(organization_id=uuid.UUID(admin.org_id), agent_id=uuid.UUID(agent["id"]), kind="phone",
                           status="active", from_number="+15550001111", to_number="+14155550100",
                           started_at=utcnow(), answered_at=utcnow())
        session.add(call)
        session.flush()
        call_id = call.id
    conversation = build_conversation(call_id)
    assert conversation.brief.greeting == "Hello +15550001111, thanks for calling!"
    assert '"Hello +15550001111, thanks for calling!"' in greeting_request(conversation.brief)
    instructions = conversation.agent.instructions
    assert "You answer +14155550100. It is " in instructions and " Be kind." in instructions
    assert "{{" not in instructions and "}}" not in instructions
    reset_settings_cache()


def test_an_outbound_call_fills_its_variables_and_the_callee_is_the_caller_number(client, monkeypatch):
    from voice_platform.settings import reset_settings_cache

    monkeypatch.setenv("GOOGLE_API_KEY", "test-key-not-real")
    reset_settings_cache()
    admin = signup(client, "vars-out")
    agent = create_agent(client, admin, greeting="Hi {{name}}, this is a reminder for {{ caller_number }}.",
                         system_prompt="Appointment: {{appointment}}. Line {{agent_number}}.")
    with session_scope() as session:
        call = CallSession(organization_id=uuid.UUID(admin.org_id), agent_id=uuid.UUID(agent["id"]), kind="phone",
                           direction="outbound", status="active", from_number="+14155550100",
                           to_number="+15557000123", variables={"name": "Ada", "appointment": "Friday 3 pm"},
                           started_at=utcnow(), answered_at=utcnow())
        session.add(call)
        session.flush()
        call_id = call.id
    conversation = build_conversation(call_id)
    assert conversation.brief.greeting == "Hi Ada, this is a reminder for +15557000123."
    assert "Appointment: Friday 3 pm. Line +14155550100." in conversation.agent.instructions
    reset_settings_cache()
