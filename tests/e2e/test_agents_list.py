"""The agents list: search by name or number, attached tools and the last call."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, route, sign_in, wait_hydrated

pytestmark = pytest.mark.e2e


def test_search_tools_and_last_call(page):
    from tests.e2e.test_calls_page import record_call
    from voice_platform.db import session_scope
    from voice_platform.services import agents, auth
    from voice_platform.services import tools as tool_service
    from voice_platform.tools.registry import sync_with_db

    email = f"list-{uuid.uuid4().hex[:10]}@example.com"
    number = "+1415" + str(uuid.uuid4().int)[:7]
    with session_scope() as session:
        sync_with_db(session)
        signed, org = auth.signup(session, email=email, password=PASSWORD, organization_name="List Co")
        desk = agents.create_agent(session, signed.user, org.id, {"name": "Desk", "phone_number": number})
        agents.create_agent(session, signed.user, org.id, {"name": "Night line"})
        tool_service.attach_tool(session, signed.user, desk.id, tool_name="Google_calendar")
    record_call(number)
    sign_in(page, email)  # lands on the overview
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Agents").click()
    page.wait_for_url(route("/agents"))
    rows = page.get_by_test_id("agent-row")
    expect(rows).to_have_count(2)
    desk_row = rows.filter(has_text="Desk")
    expect(desk_row).to_contain_text("Google_calendar")
    expect(desk_row.get_by_role("link", name="UTC")).to_be_visible()
    expect(rows.filter(has_text="Night line")).to_contain_text("Never")

    page.get_by_label("Search agents").fill(number[-6:])
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Desk")
    page.get_by_label("Search agents").fill("zzz")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("No agent matches")).to_be_visible()

    page.goto("/agents?q=night")
    wait_hydrated(page)
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Night line")
    desk_link = f"/calls?agent={desk.id}"
    page.goto(desk_link)
    page.wait_for_url(route("/calls"))
    expect(page.get_by_test_id("call-row")).to_have_count(1)
