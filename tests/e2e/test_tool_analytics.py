"""The tools page shows each function's recorded calls, error rate and p95 latency."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, sign_in, wait_hydrated

pytestmark = pytest.mark.e2e


def test_function_cards_show_usage(page):
    from voice_platform.db import session_scope
    from voice_platform.services import agents, auth, calls
    from voice_platform.services import tools as tool_service
    from voice_platform.tools.registry import sync_with_db

    email = f"usage-{uuid.uuid4().hex[:10]}@example.com"
    with session_scope() as session:
        sync_with_db(session)
        signed, org = auth.signup(session, email=email, password=PASSWORD, organization_name="Usage Co")
        agent = agents.create_agent(session, signed.user, org.id, {"name": "Booker"})
        tool_service.attach_tool(session, signed.user, agent.id, tool_name="Google_calendar")
        chat = calls.open_test_session(session, signed.user, agent.id)
        for ms, error in ((120.0, None), (480.0, "Calendar unavailable")):
            calls.record_tool_invocation(session, chat.id, tool_name="Google_calendar", function_name="check_availability",
                                         arguments={}, error=error, duration_ms=ms)
    sign_in(page, email)
    page.goto(f"/agents/{agent.id}/tools")
    wait_hydrated(page)
    card = page.locator('[data-function="check_availability"]')
    expect(card.get_by_test_id("function-usage")).to_contain_text("Last 7 days: 2 calls · 50% errors · p95 480 ms")
    expect(page.locator('[data-function="book_appointment"]').get_by_test_id("function-usage")).to_contain_text("no calls")
