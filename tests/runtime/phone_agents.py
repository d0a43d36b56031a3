"""The agent a phone-call test dials: a number, a greeting, a dental prompt and call control."""

from __future__ import annotations

from tests.runtime.conftest import attach
from tests.support.api import create_agent, signup, unique_phone

GREETING = "Bright Smile dental, hello!"


def phone_agent(client, prefix: str = "call") -> dict:
    admin = signup(client, prefix)
    agent = create_agent(client, admin, phone_number=unique_phone(), greeting=GREETING,
                         system_prompt="You book dental appointments.")
    attach(client, admin, agent["id"], "Call_control")
    return agent
