"""Members: add by e-mail, change a role, remove (asks first), and leave — never the last admin."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, route, sign_in, wait_hydrated

pytestmark = pytest.mark.e2e


def _signup(prefix: str, org: str):
    from voice_platform.db import session_scope
    from voice_platform.services import auth

    email = f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"
    with session_scope() as session:
        auth.signup(session, email=email, password=PASSWORD, organization_name=org)
    return email


def test_admin_manages_members(page):
    admin = _signup("members-admin", "Members Co")
    colleague = _signup("colleague", "Colleague's own org")
    sign_in(page, admin)
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Members").click()
    page.wait_for_url(route("/members"))
    wait_hydrated(page)
    expect(page.get_by_test_id("member-row")).to_have_count(1)

    page.get_by_label("E-mail").fill("nobody-" + colleague)
    page.get_by_role("button", name="Add member").click()
    expect(page.locator("#email-error")).to_contain_text("No account uses this e-mail")
    page.get_by_label("E-mail").fill(colleague)
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_test_id("member-row")).to_have_count(2)

    page.get_by_label("Role of " + colleague).click()
    page.get_by_role("option", name="Org admin").click()
    expect(page.get_by_text("Role changed")).to_be_visible()

    page.get_by_label("Remove " + colleague).click()
    page.get_by_role("button", name="Confirm remove").click()
    expect(page.get_by_test_id("member-row")).to_have_count(1)

    page.get_by_role("button", name="Leave organization").click()  # the last admin may not
    expect(page.get_by_text("at least one org admin")).to_be_visible()


def test_a_member_sees_the_list_without_admin_controls(page):
    from voice_platform.db import session_scope
    from voice_platform.services import auth, organizations

    admin = _signup("members-owner", "Owner Co")
    member = _signup("members-plain", "Plain own org")
    with session_scope() as session:
        owner = auth.find_user_by_email(session, admin)
        org_id = organizations.list_organizations(session, owner)[0].organization.id
        organizations.add_member(session, owner, org_id, email=member, role="member")
    sign_in(page, member)
    page.get_by_role("combobox", name="Organization").click()
    page.get_by_role("option", name="Owner Co").click()
    page.goto("/members")
    wait_hydrated(page)
    expect(page.get_by_text(admin)).to_be_visible()
    for control in ("Add member", "Create invitation link"):
        expect(page.get_by_role("button", name=control)).to_have_count(0)
    expect(page.get_by_role("button", name="Leave")).to_be_visible()  # what a member may do
