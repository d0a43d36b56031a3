"""The billing page: usage metered through the call services, switching plan (with a
confirmation), a refused downgrade, and a member's read-only view."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, route, sign_in, wait_hydrated

pytestmark = pytest.mark.e2e


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def _owner_and_org(email: str):
    from voice_platform.services import auth, organizations

    def find(session):
        user = auth.find_user_by_email(session, email)
        return user, organizations.list_organizations(session, user)[0].organization.id

    return find


def _meter_call(number: str, seconds: float) -> uuid.UUID:
    """A phone call to ``number`` answered by the worker and ended after ``seconds``: the
    webhook's, the worker's and the status callback's services, in that order."""
    from voice_platform.db import session_scope
    from voice_platform.services import calls

    with session_scope() as session:
        routed = calls.open_phone_session(session, call_sid="CA" + uuid.uuid4().hex, from_number="+15550004444",
                                          to_number=number)
    assert routed.session_id is not None, routed.refusal
    with session_scope() as session:
        calls.claim_session(session, routed.session_id, room_name="call-billing-e2e")
    with session_scope() as session:
        calls.finish_session(session, routed.session_id, reason="caller_hangup", duration_seconds=seconds)
    return routed.session_id


def _open_billing(page) -> None:
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Billing").click()
    page.wait_for_url(route("/billing"))
    wait_hydrated(page)


def test_admin_sees_usage_and_switches_plan(page):
    from voice_platform.db import session_scope
    from voice_platform.services import agents

    email = _email("billing-admin")
    page.goto("/signup")
    wait_hydrated(page)
    page.get_by_label("Full name").fill("Ada Billing")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Organization").fill("Billing Dental")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(route("/agents"))
    wait_hydrated(page)

    number = "+1415" + str(uuid.uuid4().int)[:7]
    with session_scope() as session:
        user, org_id = _owner_and_org(email)(session)
        agents.create_agent(session, user, org_id, {"name": "Front desk", "phone_number": number})
    call_id = _meter_call(number, 125)  # 2 min 5 s -> 3 billed minutes

    _open_billing(page)
    expect(page.get_by_test_id("current-plan-name")).to_have_text("Pro")  # tests start organizations on Pro
    expect(page.get_by_test_id("current-plan")).to_contain_text("$199.00 / month")
    expect(page.get_by_test_id("minutes-used")).to_have_text("3 of 5,000 minutes")
    bar = page.get_by_role("progressbar", name="Minutes used of included minutes")
    expect(bar).to_be_visible()
    expect(bar).to_have_attribute("aria-valuenow", "1")
    expect(page.get_by_test_id("billing-agents")).to_contain_text("1 of 50")
    expect(page.get_by_test_id("billing-active-calls")).to_contain_text("0 of 20")
    expect(page.get_by_test_id("billing-overage-so-far")).to_contain_text("$0.00")
    expect(page.get_by_test_id("usage-chart").locator(".recharts-bar-rectangle")).not_to_have_count(0)
    metered = page.get_by_test_id("billing-event").filter(has_text="Call minutes")
    expect(metered).to_contain_text("3 minutes")
    expect(metered.get_by_role("link", name="Open call")).to_have_attribute("href", f"/calls/{call_id}")

    cards = page.get_by_test_id("plan-card")
    expect(cards).to_have_count(3)
    expect(cards.filter(has_text="Current plan")).to_contain_text("Pro")
    page.get_by_role("button", name="Switch to Starter").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Switch to the Starter plan?")
    dialog.get_by_role("button", name="Confirm switch to Starter").click()
    expect(page.get_by_text("Switched to the Starter plan")).to_be_visible()
    expect(page.get_by_test_id("current-plan-name")).to_have_text("Starter")
    expect(page.get_by_test_id("minutes-used")).to_have_text("3 of 1,000 minutes")  # the period's minutes stay
    expect(page.get_by_test_id("billing-event").filter(has_text="Plan changed")).to_contain_text("Pro → Starter")
    expect(page.get_by_role("button", name="Switch to Pro")).to_be_visible()
    expect(page.get_by_role("button", name="Switch to Starter")).to_have_count(0)

    page.get_by_role("link", name="Open call").first.click()  # the metered call's page
    page.wait_for_url(route(f"/calls/{call_id}"))


def test_a_refused_downgrade_says_why(page):
    from voice_platform.db import session_scope
    from voice_platform.services import agents, auth

    email = _email("billing-many-agents")
    with session_scope() as session:
        signed, org = auth.signup(session, email=email, password=PASSWORD, organization_name="Many Agents Co")
        for n in range(4):  # the Free plan allows 3
            agents.create_agent(session, signed.user, org.id, {"name": f"Agent {n + 1}"})
    sign_in(page, email)
    _open_billing(page)
    expect(page.get_by_test_id("current-plan-name")).to_have_text("Pro")
    page.get_by_role("button", name="Switch to Free").click()
    page.get_by_role("button", name="Confirm switch to Free").click()
    expect(page.get_by_test_id("plan-error")).to_contain_text("delete agents first")
    expect(page.get_by_test_id("plan-error")).to_contain_text("The Free plan allows 3 agents")
    expect(page.locator('[data-sonner-toast][data-type="error"]')).to_contain_text("delete agents first")
    expect(page.get_by_test_id("current-plan-name")).to_have_text("Pro")
    expect(page.get_by_test_id("billing-event").filter(has_text="Plan changed")).to_have_count(0)


def test_a_member_sees_billing_read_only(page):
    from voice_platform.db import session_scope
    from voice_platform.services import auth, organizations

    admin, member = _email("billing-owner"), _email("billing-member")
    with session_scope() as session:
        signed, org = auth.signup(session, email=admin, password=PASSWORD, organization_name="Read Only Co")
        auth.signup(session, email=member, password=PASSWORD, organization_name="Member's own org")
        organizations.add_member(session, signed.user, org.id, email=member, role="member")
    sign_in(page, member)
    page.get_by_role("combobox", name="Organization").click()
    page.get_by_role("option", name="Read Only Co").click()
    expect(page.get_by_label("Organization")).to_contain_text("Read Only Co")
    wait_hydrated(page)
    _open_billing(page)
    expect(page.get_by_test_id("current-plan-name")).to_have_text("Pro")
    expect(page.get_by_test_id("minutes-used")).to_have_text("0 of 5,000 minutes")
    expect(page.get_by_test_id("plan-card")).to_have_count(3)
    expect(page.get_by_text("Only org admins change the plan.")).to_be_visible()
    expect(page.get_by_role("button", name="Switch to Starter")).to_have_count(0)
    expect(page.get_by_role("button", name="Switch to Free")).to_have_count(0)
