"""API keys and the audit log in a real browser: a key's secret is seen once, works against the
API, and stops working when revoked; the audit page shows who changed what."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, route, sign_in, wait_hydrated

pytestmark = pytest.mark.e2e


def _admin(org: str) -> tuple[str, uuid.UUID]:
    from voice_platform.db import session_scope
    from voice_platform.services import auth

    email = f"keys-{uuid.uuid4().hex[:10]}@example.com"
    with session_scope() as session:
        _signed, made = auth.signup(session, email=email, password=PASSWORD, organization_name=org)
        return email, made.id


def _status(base_url: str, path: str, secret: str) -> int:
    request = urllib.request.Request(base_url + path, headers={"Authorization": f"Bearer {secret}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_create_a_key_see_it_once_use_it_and_revoke_it(page, live_app):
    email, org_id = _admin(f"Key Dental {uuid.uuid4().hex[:6]}")
    sign_in(page, email)
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Settings").click()
    page.wait_for_url(route("/settings"))
    wait_hydrated(page)
    page.get_by_test_id("settings-api-keys").click()
    page.wait_for_url(route("/organization/api-keys"))
    wait_hydrated(page)
    expect(page.get_by_text("No API keys yet")).to_be_visible()

    page.get_by_label("Key name").fill("CRM sync")
    page.get_by_role("combobox", name="Key access").click()
    page.get_by_role("option", name="Read-only (member)").click()
    page.get_by_role("button", name="Create key").click()
    shown = page.get_by_test_id("new-api-key")
    expect(shown).to_be_visible()
    expect(page.get_by_text("Copy this key now: it will not be shown again.")).to_be_visible()
    expect(page.get_by_role("button", name="Copy API key")).to_be_visible()
    secret = shown.input_value()
    assert secret.startswith("vp_") and len(secret) >= 43
    row = page.get_by_test_id("api-key-row").filter(has_text="CRM sync")
    expect(row).to_contain_text(secret[:11])
    expect(row).to_contain_text("never")
    agents_path = f"/api/v1/agents/organization/{org_id}"
    assert _status(live_app.base_url, agents_path, secret) == 200

    page.reload()  # seen once: after a reload only the prefix remains
    wait_hydrated(page)
    expect(page.get_by_test_id("api-key-row").filter(has_text="CRM sync")).to_be_visible()
    expect(page.get_by_test_id("new-api-key")).to_have_count(0)
    assert secret not in page.content()

    page.get_by_role("button", name="Revoke CRM sync").click()
    expect(page.get_by_role("alertdialog")).to_contain_text("Revoke CRM sync?")
    page.get_by_role("button", name="Confirm revoke").click()
    expect(page.get_by_test_id("api-key-row").filter(has_text="CRM sync")).to_contain_text("revoked")
    expect(page.get_by_role("button", name="Revoke CRM sync")).to_have_count(0)
    assert _status(live_app.base_url, agents_path, secret) == 401


def test_the_audit_page_shows_who_changed_what(page):
    from voice_platform.db import session_scope
    from voice_platform.services import agents, api_keys, auth

    email, org_id = _admin(f"Audit Dental {uuid.uuid4().hex[:6]}")
    with session_scope() as session:
        user = auth.find_user_by_email(session, email)
        agent = agents.create_agent(session, user, org_id, {"name": "Front desk"})
        agents.update_agent(session, user, agent.id, {"greeting": "Welcome to the dental office"})
        made = api_keys.create_key(session, user, org_id, name="Robot", role="org_admin")
    with session_scope() as session:
        robot = api_keys.authenticate(session, made.secret)
        agents.create_agent(session, robot, org_id, {"name": "Night line"})

    sign_in(page, email)
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Audit log").click()
    page.wait_for_url(route("/organization/audit-log"))
    wait_hydrated(page)
    rows = page.get_by_test_id("audit-row")
    expect(rows).to_have_count(4)
    expect(rows.first).to_contain_text("API key Robot")
    expect(rows.first).to_contain_text("Created agent 'Night line'")
    updated = rows.filter(has_text="agent.updated")
    expect(updated).to_contain_text(email)
    updated.get_by_text("Changes").click()
    expect(updated).to_contain_text("Welcome to the dental office")
    expect(page.get_by_text("1–4 of 4")).to_be_visible()
    assert made.secret not in page.content()

    page.get_by_label("Actor filter", exact=True).fill("robot")
    page.get_by_role("button", name="Apply actor filter").click()
    expect(rows).to_have_count(1)
    page.get_by_label("Actor filter", exact=True).fill("")
    page.get_by_role("button", name="Apply actor filter").click()
    expect(rows).to_have_count(4)
    page.get_by_role("combobox", name="Action filter").click()
    page.get_by_role("option", name="api_key.created").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Created API key 'Robot'")


def test_a_member_has_neither_page(page):
    from voice_platform.db import session_scope
    from voice_platform.services import auth, organizations

    owner, org_id = _admin(f"Closed Dental {uuid.uuid4().hex[:6]}")
    member = f"keys-member-{uuid.uuid4().hex[:10]}@example.com"
    with session_scope() as session:
        auth.signup(session, email=member, password=PASSWORD, organization_name=f"Own {uuid.uuid4().hex[:6]}")
        organizations.add_member(session, auth.find_user_by_email(session, owner), org_id, email=member, role="member")
    sign_in(page, member)
    org_name = "Closed Dental"
    combobox = page.get_by_role("combobox", name="Organization")
    if org_name not in (combobox.text_content() or ""):
        combobox.click()
        page.get_by_role("option").filter(has_text=org_name).click()
    expect(combobox).to_contain_text(org_name)
    nav = page.get_by_role("navigation", name="Main navigation")
    expect(nav.get_by_role("link", name="Audit log")).to_have_count(0)
    page.goto("/organization/audit-log")
    wait_hydrated(page)
    expect(page.get_by_test_id("audit-admins-only")).to_be_visible()
    page.goto("/organization/api-keys")
    wait_hydrated(page)
    expect(page.get_by_test_id("api-keys-admins-only")).to_be_visible()
    expect(page.get_by_role("button", name="Create key")).to_have_count(0)
