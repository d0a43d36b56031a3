"""The overview page shows the organization's calls, counted by the service."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, route, sign_in, wait_hydrated

pytestmark = pytest.mark.e2e


def test_overview_counts_calls_and_draws_the_chart(page):
    from tests.e2e.test_calls_page import record_call
    from voice_platform.db import session_scope
    from voice_platform.services import agents, auth

    email = f"overview-{uuid.uuid4().hex[:10]}@example.com"
    number = "+1415" + str(uuid.uuid4().int)[:7]
    with session_scope() as session:
        signed, org = auth.signup(session, email=email, password=PASSWORD, organization_name="Overview Co")
        agents.create_agent(session, signed.user, org.id, {"name": "Front line", "phone_number": number})
    record_call(number)
    record_call(number)
    sign_in(page, email)
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Overview").click()
    page.wait_for_url(route("/overview"))
    wait_hydrated(page)
    expect(page.get_by_test_id("stat-calls-this-week")).to_contain_text("2")
    expect(page.get_by_test_id("stat-tool-error-rate")).to_contain_text("100%")  # record_call's one tool call failed
    expect(page.get_by_test_id("busy-agent")).to_contain_text("Front line")
    expect(page.get_by_test_id("calls-chart").locator(".recharts-bar-rectangle")).not_to_have_count(0)
