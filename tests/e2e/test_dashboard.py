"""The dashboard shell in a real browser against the real app and database."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, route, sign_in, wait_hydrated

pytestmark = pytest.mark.e2e


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def _phone() -> str:
    return "+1415" + str(uuid.uuid4().int)[:7]


def _account(org_name: str):
    """An account made through the service, as if it had signed up earlier."""
    from voice_platform.db import session_scope
    from voice_platform.services import auth

    email = _email("e2e")
    with session_scope() as session:
        signed, org = auth.signup(session, email=email, password=PASSWORD, organization_name=org_name)
        return email, signed.user, org.id


def test_sign_up_create_agent_and_see_it_listed(page):
    page.goto("/signup")
    wait_hydrated(page)
    page.get_by_label("Full name").fill("Grace Hopper")
    page.get_by_label("E-mail").fill(_email("signup"))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Organization").fill("Hopper Dental")
    page.get_by_role("button", name="Create account").click()

    page.wait_for_url(route("/agents"))
    expect(page.get_by_text("No agents yet")).to_be_visible()
    expect(page.get_by_label("Organization")).to_contain_text("Hopper Dental")

    page.get_by_role("button", name="New agent").first.click()
    page.wait_for_url(route("/agents/new"))
    phone = _phone()
    page.get_by_label("Name", exact=True).fill("Reception")
    page.get_by_label("Phone number").fill(phone)
    page.get_by_label("Greeting").fill("Hello, Hopper Dental, how can I help?")
    page.get_by_label("Voice", exact=True).click()
    page.get_by_role("option", name="Kore").click()
    page.get_by_role("button", name="Create agent").click()

    page.wait_for_url(route("/agents"))
    row = page.get_by_test_id("agent-row").filter(has_text="Reception")
    expect(row).to_contain_text(phone)
    expect(row).to_contain_text("Kore")
    expect(row).to_contain_text("Active")

    page.reload()  # it is stored, not just in the page's state
    expect(page.get_by_test_id("agent-row").filter(has_text="Reception")).to_contain_text(phone)


def test_signed_out_visitor_is_sent_to_sign_in(page):
    page.goto("/agents")
    page.wait_for_url(route("/signin?next=/agents"))
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()


def test_invalid_phone_number_shows_the_service_message_next_to_the_field(page):
    from voice_platform.errors import ValidationFailed
    from voice_platform.services import validation

    with pytest.raises(ValidationFailed) as expected:
        validation.phone_e164("12345")

    email, _user, _org = _account("Validation Org")
    sign_in(page, email)
    page.goto("/agents/new")
    wait_hydrated(page)
    page.get_by_label("Name", exact=True).fill("Night line")
    page.get_by_label("Phone number").fill("12345")
    page.get_by_role("button", name="Create agent").click()

    error = page.get_by_test_id("error-phone_number")
    expect(error).to_have_text(expected.value.message)
    expect(page.get_by_label("Phone number")).to_have_attribute("aria-invalid", "true")
    expect(page).to_have_url(route("/agents/new"))


def test_another_organizations_agent_is_not_found(page):
    from voice_platform.db import session_scope
    from voice_platform.services import agents

    _other_email, other_user, other_org = _account("Other Org")
    with session_scope() as session:
        foreign = agents.create_agent(session, other_user, other_org, {"name": "Secret agent", "phone_number": _phone()})
        foreign_id = foreign.id

    email, _user, _org = _account("Own Org")
    sign_in(page, email)
    page.goto(f"/agents/{foreign_id}")
    expect(page.get_by_test_id("not-found")).to_be_visible()
    expect(page.get_by_text("Secret agent")).to_have_count(0)


def test_organization_switcher_shows_that_organizations_agents_and_is_remembered(page):
    from voice_platform.db import session_scope
    from voice_platform.services import agents, organizations

    email, user, _alpha = _account("Alpha Clinic")
    with session_scope() as session:
        beta = organizations.create_organization(session, user, name="Beta Bakery")
        agents.create_agent(session, user, beta.id, {"name": "Order line", "phone_number": _phone()})

    sign_in(page, email, start="/signin?next=/agents", lands_on="/agents")
    switcher = page.get_by_role("combobox", name="Organization")
    expect(switcher).to_contain_text("Alpha Clinic")
    expect(page.get_by_text("No agents yet")).to_be_visible()

    switcher.click()
    page.get_by_role("option", name="Beta Bakery").click()
    expect(page.get_by_test_id("agent-row").filter(has_text="Order line")).to_be_visible()

    page.reload()
    wait_hydrated(page)
    expect(page.get_by_role("combobox", name="Organization")).to_contain_text("Beta Bakery")
    expect(page.get_by_test_id("agent-row")).to_have_count(1)


def test_sign_out_revokes_the_session(page):
    from voice_platform.db import session_scope
    from voice_platform.services import auth

    email, user, _org = _account("Sign-out Org")
    sign_in(page, email)
    token = page.evaluate("() => window.localStorage.getItem('vp_token')")
    assert token, "the session token lives in localStorage under vp_token"
    page.get_by_role("button", name="User menu").click()
    page.get_by_role("menuitem", name="Sign out").click()
    page.wait_for_url(route("/signin"))

    assert page.evaluate("() => window.localStorage.getItem('vp_token')") in (None, "")
    with session_scope() as session, pytest.raises(auth.NotAuthenticated):
        auth.user_from_token(session, token)  # the old token is dead everywhere, not just forgotten here

    page.goto("/agents")
    page.wait_for_url(route("/signin?next=/agents"))


def test_sign_in_returns_to_the_page_asked_for_but_never_off_site(page):
    email, _user, _org = _account("Redirect Org")
    sign_in(page, email, start="/signin?next=/agents/new", lands_on="/agents/new")

    # Sign out properly: wiping localStorage by hand would not do, since Reflex keeps
    # the tab's backend state (token included) keyed by its own per-tab client token.
    page.get_by_role("button", name="User menu").click()
    page.get_by_role("menuitem", name="Sign out").click()
    page.wait_for_url(route("/signin"))
    sign_in(page, email, start="/signin?next=//evil.example/phish", lands_on="/overview")


def test_switching_between_sign_in_and_sign_up_keeps_where_the_visitor_was_going(page):
    page.goto("/signin?next=/calls")
    wait_hydrated(page)
    page.get_by_role("link", name="Create an account").click()
    page.wait_for_url(route("/signup?next=/calls"))
    wait_hydrated(page)
    page.get_by_role("link", name="Sign in", exact=True).click()
    page.wait_for_url(route("/signin?next=/calls"))
    page.goto("/signin?next=//evil.example")  # an unsafe target is not carried over
    wait_hydrated(page)
    expect(page.get_by_role("link", name="Create an account")).to_have_attribute("href", "/signup")


def test_member_without_update_permission_sees_the_agent_read_only(page):
    from voice_platform.db import session_scope
    from voice_platform.services import agents, organizations

    _admin_email, admin, org = _account("Shared Org")
    member_email, _member, _own = _account("Member's own org")
    with session_scope() as session:
        organizations.add_member(session, admin, org, email=member_email, role="member")
        agent_id = agents.create_agent(session, admin, org, {"name": "Shared line", "phone_number": _phone()}).id

    sign_in(page, member_email)
    page.goto(f"/agents/{agent_id}")  # following the link switches to the agent's organization
    expect(page.get_by_test_id("read-only")).to_be_visible()
    expect(page.get_by_role("button", name="Save changes")).to_be_disabled()
    expect(page.get_by_role("button", name="Delete agent")).to_have_count(0)
    expect(page.get_by_role("combobox", name="Organization")).to_contain_text("Shared Org")
