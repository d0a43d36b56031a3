"""The platform admin page in a real browser: only platform admins see it; they open any organization."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, route, sign_in, wait_hydrated

pytestmark = pytest.mark.e2e


def _account(org: str, *, platform_admin: bool = False) -> str:
    from voice_platform.db import session_scope
    from voice_platform.services import agents, auth
    from voice_platform.tools.registry import sync_with_db

    email = f"admin-{uuid.uuid4().hex[:10]}@example.com"
    with session_scope() as session:
        sync_with_db(session)
        signed, org_row = auth.signup(session, email=email, password=PASSWORD, organization_name=org)
        agents.create_agent(session, signed.user, org_row.id, {"name": "Desk"})
        signed.user.is_platform_admin = platform_admin
        session.add(signed.user)
    return email


def test_a_platform_admin_sees_the_catalogue_and_opens_any_organization(page):
    other_org = f"Faraway Clinic {uuid.uuid4().hex[:6]}"
    _account(other_org)
    email = _account("Root Org", platform_admin=True)
    sign_in(page, email)
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Platform admin").click()
    page.wait_for_url(route("/admin"))
    call_control = page.get_by_test_id("catalogue-row").filter(has_text="Call_control")
    expect(call_control.get_by_test_id("tool-functions").locator("code")).to_have_text(["do_not_call", "end_call", "transfer_call"])
    expect(call_control.get_by_role("cell").nth(1)).to_have_text("active")
    page.get_by_label("Search organizations").fill(other_org)
    page.get_by_role("button", name="Search").click()
    row = page.get_by_test_id("org-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(other_org)
    expect(row.get_by_role("cell").nth(1)).to_have_text("1")  # members
    expect(row.get_by_role("cell").nth(2)).to_have_text("1")  # agents
    row.get_by_role("button", name=f"Open {other_org}").click()
    page.wait_for_url(route("/overview"))
    expect(page.get_by_text(f"Switched to {other_org}")).to_be_visible()
    wait_hydrated(page)
    expect(page.get_by_role("combobox", name="Organization")).to_contain_text(other_org)


def test_anyone_else_sees_no_link_and_is_refused(page):
    sign_in(page, _account("Plain Org"))
    nav = page.get_by_role("navigation", name="Main navigation")
    expect(nav.get_by_role("link", name="Agents")).to_be_visible()
    expect(nav.get_by_role("link", name="Platform admin")).to_have_count(0)
    page.goto("/admin")
    expect(page.get_by_test_id("admin-refused")).to_have_text("Only platform administrators can see this page.")
    expect(page.get_by_test_id("catalogue-row")).to_have_count(0)
