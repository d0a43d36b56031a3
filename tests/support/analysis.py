"""Calls ended through the real services, ready for the post-call analysis, and the fake Gemini text
API wired the standard way (``GOOGLE_GEMINI_BASE_URL`` and ``GOOGLE_API_KEY`` in the environment)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.fakes.gemini_text import FakeGeminiText

CALLER = "+15550001111"
PLAN = {
    "summary_prompt": None,
    "success_rubric": "The caller booked an appointment.",
    "fields": [
        {"name": "party_size", "type": "integer", "description": "How many people", "required": True},
        {"name": "budget", "type": "number", "description": "", "required": False},
        {"name": "returning", "type": "boolean", "description": "Called before", "required": False},
        {"name": "service", "type": "enum", "description": "", "required": False, "choices": ["cleaning", "filling"]},
        {"name": "caller_name", "type": "string", "description": "", "required": False},
    ],
}
TWO_TURNS = [("assistant", "Hello, Bright Smile dental."), ("user", "I'd like a cleaning for two on Friday.")]


@pytest.fixture()
def gemini_text(monkeypatch) -> Iterator[FakeGeminiText]:
    """A fake Gemini text API the app reaches through google-genai; fresh settings before and after."""
    from voice_platform.settings import reset_settings_cache

    with FakeGeminiText() as server:
        for name, value in server.environment().items():
            monkeypatch.setenv(name, value)
        reset_settings_cache()
        yield server
        for name in server.environment():
            monkeypatch.delenv(name, raising=False)
        reset_settings_cache()


@dataclass
class Org:
    user_id: uuid.UUID
    org_id: uuid.UUID
    agent_id: uuid.UUID
    number: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def org_with_agent(plan: dict | None = PLAN, prefix: str = "analysis") -> Org:
    """A committed account, its organization and a phone agent with ``plan``."""
    from voice_platform.db import session_scope
    from voice_platform.services import agents, auth

    number = "+1415" + str(uuid.uuid4().int)[:7]
    with session_scope() as session:
        signed, org = auth.signup(session, email=f"{prefix}-{uuid.uuid4().hex[:8]}@example.com",
                                  password="correct horse battery", organization_name=f"{prefix} org")
        agent = agents.create_agent(session, signed.user, org.id, {"name": "Front desk", "phone_number": number,
                                                                   "analysis_plan": plan})
        return Org(signed.user.id, org.id, agent.id, number, signed.access_token)


def ended_call(org: Org, turns=TWO_TURNS, *, phone: bool = False, duration: float | None = 95.0) -> uuid.UUID:
    """A test chat (or, with ``phone``, a phone call from ``CALLER``) with ``turns``, ended."""
    from voice_platform.db import session_scope
    from voice_platform.models import User
    from voice_platform.services import calls

    with session_scope() as session:
        if phone:
            routed = calls.open_phone_session(session, call_sid="CA" + uuid.uuid4().hex, from_number=CALLER,
                                              to_number=org.number)
            call_id = routed.session_id
        else:
            call_id = calls.open_test_session(session, session.get(User, org.user_id), org.agent_id).id
    with session_scope() as session:
        if phone:
            calls.claim_session(session, call_id, room_name="room-" + call_id.hex)
        for role, text in turns:
            calls.record_turn(session, call_id, role, text)
        calls.finish_session(session, call_id, reason="caller_hangup", duration_seconds=duration)
    return call_id


def call_row(call_id: uuid.UUID):
    from voice_platform.db import session_scope
    from voice_platform.models import CallSession

    with session_scope() as session:
        return session.get(CallSession, call_id)


def analysis_status(call_id: uuid.UUID) -> str | None:
    return call_row(call_id).analysis_status


def requests_for(gemini: FakeGeminiText, text: str) -> list[dict]:
    """The requests whose prompt contains ``text`` (a call's own words tell its requests apart)."""
    return [r for r in gemini.requests if text in r["body"]["contents"][0]["parts"][0]["text"]]
