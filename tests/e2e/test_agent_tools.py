"""The agent tools page (issue 8) in a real browser against the real app on PostgreSQL.

The shared app (``tests/e2e/conftest.py``) runs with its Google settings pointing at
the loopback fake Google server (``tests/fakes/google_server.py``, fixture
``fake_google``), so Connect performs the real OAuth round trip:
browser → fake consent (approves at once) → our callback → back to the page.
"""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import route, sign_in, wait_hydrated
from tests.e2e.tools_support import (
    add_member, admin_with_agent, agent_tool_row, attach, function_names, sync_catalogue,
)

pytestmark = pytest.mark.e2e
FUNCTION = "check_availability"


@pytest.fixture()
def admin(test_database):
    sync_catalogue()
    return admin_with_agent()


def switch(page: Page, name: str):
    return page.get_by_role("switch", name=f"Enable function {name}")


def calendar_card(page: Page):
    """The Google Calendar tool's card (the page lists every catalogue tool, call control included)."""
    return page.locator('[data-tool="Google_calendar"]')


def card(page: Page, name: str):
    return page.locator(f'[data-function="{name}"]')


def open_tools(page: Page, agent_id: uuid.UUID) -> None:
    page.goto(f"/agents/{agent_id}/tools")
    wait_hydrated(page)
    expect(page.get_by_role("heading", name="Tools", exact=True)).to_be_visible()


def test_attach_then_switch_a_function_off_and_on_persists(page: Page, admin):
    email, _org, agent_id = admin
    names = function_names()
    sign_in(page, email)

    page.goto(f"/agents/{agent_id}")  # reached from the agent's page
    wait_hydrated(page)
    page.get_by_role("link", name="Tools", exact=True).or_(page.get_by_role("button", name="Tools", exact=True)).first.click()
    page.wait_for_url(route(f"/agents/{agent_id}/tools"))
    expect(calendar_card(page).get_by_test_id("functions-heading")).to_have_text(f"Available functions ({len(names)} total, {len(names)} enabled)")
    expect(switch(page, FUNCTION)).to_be_disabled()  # shown, but not switchable before attaching

    page.get_by_role("button", name="Attach Google Calendar").click()
    expect(page.get_by_text("Google Calendar attached")).to_be_visible()
    assert agent_tool_row(agent_id) == ([], True, None, {})

    expect(switch(page, FUNCTION)).to_be_enabled()
    expect(switch(page, FUNCTION)).to_have_attribute("aria-checked", "true")
    switch(page, FUNCTION).click()
    expect(switch(page, FUNCTION)).to_have_attribute("aria-checked", "false")
    expect(card(page, FUNCTION)).to_have_attribute("data-saving", "false")
    expect(calendar_card(page).get_by_test_id("functions-heading")).to_have_text(
        f"Available functions ({len(names)} total, {len(names) - 1} enabled)")

    page.reload()
    wait_hydrated(page)
    expect(switch(page, FUNCTION)).to_have_attribute("aria-checked", "false")
    for other in names:
        if other != FUNCTION:
            expect(switch(page, other)).to_have_attribute("aria-checked", "true")
    assert agent_tool_row(agent_id)[0] == [FUNCTION]

    switch(page, FUNCTION).click()
    expect(switch(page, FUNCTION)).to_have_attribute("aria-checked", "true")
    expect(card(page, FUNCTION)).to_have_attribute("data-saving", "false")
    assert agent_tool_row(agent_id)[0] == []

    page.go_back()  # the browser's back button returns to the agent
    page.wait_for_url(route(f"/agents/{agent_id}"))


def test_config_form_shows_the_service_error_next_to_the_field(page: Page, admin):
    email, _org, agent_id = admin
    attach(email, agent_id)
    sign_in(page, email)
    open_tools(page, agent_id)

    form = page.get_by_role("form", name="Google Calendar settings")
    expect(form.get_by_label("Business hours start")).to_have_value("09:00")  # defaults filled
    length = form.get_by_label("Default appointment length (minutes)")
    expect(length).to_have_value("30")
    length.fill("2")
    form.get_by_role("button", name="Save Google Calendar settings").click()

    error = page.get_by_test_id("field-error-default_duration_minutes")
    expect(error).to_contain_text("default_duration_minutes")
    expect(error).to_contain_text("minimum")
    expect(length).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("field-error-calendar_id")).to_have_count(0)
    assert agent_tool_row(agent_id)[3] == {}

    length.fill("45")
    form.get_by_role("button", name="Save Google Calendar settings").click()
    expect(page.get_by_text("Google Calendar settings saved")).to_be_visible()
    expect(error).to_have_count(0)
    assert agent_tool_row(agent_id)[3]["default_duration_minutes"] == 45


def test_member_sees_read_only_page_and_a_forced_switch_is_refused(page: Page, admin):
    email, org_id, agent_id = admin
    attach(email, agent_id)
    member = add_member(email, org_id)
    sign_in(page, member)
    open_tools(page, agent_id)
    # The member's own org was chosen at sign-in; the agent's link switched to its org.
    expect(page.get_by_test_id("read-only-notice")).to_be_visible()

    switches = page.get_by_role("switch")
    expect(switches.first).to_be_visible()
    for i in range(switches.count()):
        expect(switches.nth(i)).to_be_disabled()
    for name in ("Detach Google Calendar", "Connect Google Calendar", "Save Google Calendar settings"):
        expect(page.get_by_role("button", name=name)).to_be_disabled()

    # A tampered browser: call the disabled switch's own click handler, bypassing the DOM.
    forced = switch(page, FUNCTION).evaluate("""el => {
        const key = Object.keys(el).find(k => k.startsWith('__reactProps'));
        el[key].onClick({defaultPrevented: false, isPropagationStopped: () => false, stopPropagation() {},
                         preventDefault() {}, currentTarget: el, target: el});
        return true;
    }""")
    assert forced
    expect(page.get_by_text(f"Could not switch {FUNCTION}")).to_be_visible()
    expect(switch(page, FUNCTION)).to_have_attribute("aria-checked", "true")
    assert agent_tool_row(agent_id)[0] == []


def test_connect_google_calendar_through_the_oauth_round_trip(page: Page, admin, fake_google):
    email, _org, agent_id = admin
    attach(email, agent_id)
    sign_in(page, email)
    open_tools(page, agent_id)
    expect(page.get_by_text("No account connected")).to_be_visible()

    with page.expect_event("framenavigated", lambda f: "oauth=" in f.url) as back:
        page.get_by_role("button", name="Connect Google Calendar").click()
    # the provider sent the browser back through our callback; the page finishes as the signed-in user
    assert "oauth=connect" in back.value.url, back.value.url
    wait_hydrated(page)
    expect(page.get_by_text("Google Calendar connected as frontdesk@example.com")).to_be_visible()
    expect(page.get_by_test_id("connected-account")).to_have_text("frontdesk@example.com")
    assert ("GET", "/o/oauth2/auth") in fake_google.state.requests
    assert agent_tool_row(agent_id)[2] == "frontdesk@example.com"

    page.get_by_role("button", name="Disconnect Google Calendar").click()
    expect(page.get_by_text("No account connected")).to_be_visible()
    assert agent_tool_row(agent_id)[2] is None


def test_detach_asks_first_and_another_orgs_agent_is_not_found(page: Page, admin):
    email, _org, agent_id = admin
    attach(email, agent_id)
    _other_email, _other_org, other_agent = admin_with_agent("Someone else")
    sign_in(page, email)
    open_tools(page, agent_id)

    page.get_by_role("button", name="Detach Google Calendar").click()
    page.get_by_role("button", name="Cancel").click()
    assert agent_tool_row(agent_id) is not None
    page.get_by_role("button", name="Detach Google Calendar").click()
    page.get_by_role("button", name="Confirm detach").click()
    expect(page.get_by_role("button", name="Attach Google Calendar")).to_be_visible()
    assert agent_tool_row(agent_id) is None
    expect(switch(page, FUNCTION)).to_be_disabled()

    page.goto(f"/agents/{other_agent}/tools")
    expect(page.get_by_test_id("not-found")).to_be_visible()


def test_tool_switch_and_stale_function_names(page: Page, admin):
    """Tool off disables its function switches; names the tool no longer has are never shown and are dropped on write."""
    from sqlmodel import select

    from voice_platform.db import session_scope
    from voice_platform.models import AgentTool

    email, _org, agent_id = admin
    agent_tool_id = attach(email, agent_id)
    with session_scope() as session:  # as if a function had been removed from the code since
        row = session.exec(select(AgentTool).where(AgentTool.id == agent_tool_id)).one()
        row.unselected_functions = ["retired_function", FUNCTION]
        session.add(row)
    names = function_names()
    sign_in(page, email)
    open_tools(page, agent_id)
    expect(calendar_card(page).get_by_test_id("functions-heading")).to_have_text(
        f"Available functions ({len(names)} total, {len(names) - 1} enabled)")
    expect(page.get_by_text("retired_function")).to_have_count(0)

    page.get_by_role("switch", name="Enable tool Google Calendar").click()
    expect(page.get_by_text("Google Calendar switched off")).to_be_visible()
    expect(switch(page, "book_appointment")).to_be_disabled()
    assert agent_tool_row(agent_id)[1] is False
    page.get_by_role("switch", name="Enable tool Google Calendar").click()
    expect(switch(page, "book_appointment")).to_be_enabled()
    assert agent_tool_row(agent_id)[1] is True

    switch(page, "book_appointment").click()
    expect(card(page, "book_appointment")).to_have_attribute("data-enabled", "false")
    expect(card(page, "book_appointment")).to_have_attribute("data-saving", "false")
    assert sorted(agent_tool_row(agent_id)[0]) == sorted([FUNCTION, "book_appointment"])


def test_provider_error_comes_back_as_an_error_toast_once(page: Page, admin):
    email, _org, agent_id = admin
    attach(email, agent_id)
    sign_in(page, email)
    # The page words the reason itself: a crafted message in the link is never shown.
    page.goto(f"/agents/{agent_id}/tools?oauth=error&reason=declined&message=Call+1-900-SCAM")
    expect(page.get_by_text("Google Calendar was not connected: access was declined.")).to_be_visible()
    expect(page.get_by_text("1-900-SCAM")).to_have_count(0)
    page.wait_for_url(route(f"/agents/{agent_id}/tools"))  # the query is dropped: a reload does not repeat it
    assert "oauth=" not in page.url
    expect(page.get_by_text("No account connected")).to_be_visible()
