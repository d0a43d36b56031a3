"""The do-not-call page in a real browser: add (the service's E.164 message first), search, remove;
an entry the agent added on a call links to that call; a member reads the list but cannot change it.

Data a user made earlier (the organization, the call where a callee asked not to be called) is
made through the services in the test process; the app shares the test database.
"""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PASSWORD, route, sign_in, wait_hydrated
from tests.e2e.test_calls_page import record_call
from tests.e2e.tools_support import add_member, admin_with_agent

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("patient_expect")]


def _listed(org_id: uuid.UUID) -> list[str]:
    from sqlmodel import select

    from voice_platform.db import session_scope
    from voice_platform.models import DoNotCallNumber

    with session_scope() as session:
        return sorted(session.exec(select(DoNotCallNumber.number)
                                   .where(DoNotCallNumber.organization_id == org_id)).all())


def _asked_on_a_call(org_id: uuid.UUID, agent_number: str) -> tuple[uuid.UUID, str]:
    """A caller asked the agent not to be called again: the call-control tool's path."""
    from voice_platform.db import session_scope
    from voice_platform.services import do_not_call

    call_id = record_call(agent_number)  # from +15550003333
    with session_scope() as session:
        number = do_not_call.add_from_call(session, call_id)
    assert number == "+15550003333"
    return call_id, number


def _agent_with_number(org_name: str) -> tuple[str, uuid.UUID, str]:
    """(admin e-mail, organization id, the agent's number) of a fresh organization."""
    from voice_platform.db import session_scope
    from voice_platform.services import agents, auth

    email = f"dnc-{uuid.uuid4().hex[:10]}@example.com"
    number = "+1415" + str(uuid.uuid4().int)[:7]
    with session_scope() as session:
        signed, org = auth.signup(session, email=email, password=PASSWORD, organization_name=org_name)
        agents.create_agent(session, signed.user, org.id, {"name": "Front desk", "phone_number": number})
    return email, org.id, number


def _open_page(page: Page) -> None:
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Do not call").click()
    page.wait_for_url(route("/do-not-call"))
    wait_hydrated(page)
    expect(page.get_by_role("heading", name="Do not call", exact=True)).to_be_visible()


def test_add_search_and_remove_numbers(page: Page):
    email, org_id, _agent = admin_with_agent("DNC Co")
    sign_in(page, email)
    _open_page(page)
    expect(page.get_by_text("The list is empty")).to_be_visible()

    form = page.get_by_role("form", name="Add a number")
    form.get_by_label("Phone number to block").fill("555 0100")
    form.get_by_role("button", name="Add to list").click()
    expect(page.get_by_test_id("dnc-error")).to_contain_text("E.164")
    expect(form.get_by_label("Phone number to block")).to_have_attribute("aria-invalid", "true")
    assert _listed(org_id) == []

    form.get_by_label("Phone number to block").fill("+1 (415) 555-0100")  # normalised by the service
    form.get_by_role("button", name="Add to list").click()
    rows = page.get_by_test_id("dnc-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("+14155550100")
    expect(rows.first).to_contain_text(email)
    expect(page.get_by_test_id("dnc-error")).to_have_count(0)
    expect(form.get_by_label("Phone number to block")).to_have_value("")  # the form emptied for the next one
    form.get_by_label("Phone number to block").fill("+442071838750")
    form.get_by_role("button", name="Add to list").click()
    expect(rows).to_have_count(2)
    assert _listed(org_id) == ["+14155550100", "+442071838750"]

    page.get_by_label("Search numbers").fill("4420")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("+442071838750")
    page.get_by_label("Search numbers").fill("999999")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_text("No number matches")).to_be_visible()
    page.get_by_role("button", name="Clear search").click()
    expect(rows).to_have_count(2)

    page.get_by_role("button", name="Remove +14155550100").click()
    page.get_by_role("button", name="Confirm remove").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("+442071838750")
    assert _listed(org_id) == ["+442071838750"]


def test_an_entry_the_agent_added_links_to_its_call_and_a_member_only_reads(page: Page):
    email, org_id, agent_number = _agent_with_number("DNC Members Co")
    call_id, number = _asked_on_a_call(org_id, agent_number)
    member = add_member(email, org_id)
    sign_in(page, member)
    switcher = page.get_by_label("Organization")
    if switcher.inner_text().strip() != "DNC Members Co":  # the member also has an organization of their own
        switcher.click()
        page.get_by_role("option", name="DNC Members Co").click()
        expect(page.get_by_text("Switched to DNC Members Co")).to_be_visible()
    _open_page(page)

    row = page.get_by_test_id("dnc-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(number)
    expect(row).to_contain_text("asked on a call")
    expect(page.get_by_test_id("dnc-read-only")).to_be_visible()
    expect(page.get_by_role("form", name="Add a number")).to_have_count(0)
    expect(page.get_by_role("button", name=f"Remove {number}")).to_have_count(0)

    row.get_by_role("link", name=f"Call where {number} asked").click()
    page.wait_for_url(route(f"/calls/{call_id}"))
    wait_hydrated(page)
    expect(page.get_by_test_id("turn").first).to_be_visible()
    assert _listed(org_id) == [number]
