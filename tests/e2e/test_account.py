"""The account page in a real browser: name, password (other sessions signed out), theme, sign out everywhere."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, route, sign_in, wait_hydrated

pytestmark = pytest.mark.e2e
NEW_PASSWORD = "a brand new secret"
DARK = re.compile(r"\bdark\b")


def _account() -> str:
    from voice_platform.db import session_scope
    from voice_platform.services import auth

    email = f"account-{uuid.uuid4().hex[:10]}@example.com"
    with session_scope() as session:
        auth.signup(session, email=email, password=PASSWORD, organization_name="Account Co")
    return email


def test_name_password_and_the_other_session(page, browser, live_app):
    email = _account()
    other = browser.new_context(base_url=live_app.base_url).new_page()  # signed in before the change
    sign_in(other, email)
    sign_in(page, email)
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Account").click()
    page.wait_for_url(route("/account"))
    expect(page.get_by_test_id("account-email")).to_have_text(email)

    page.get_by_label("Name").fill("Ada Lovelace")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Profile saved")).to_be_visible()
    page.reload()
    wait_hydrated(page)
    expect(page.get_by_label("Name")).to_have_value("Ada Lovelace")

    page.get_by_label("Current password").fill("not my password")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("The current password is not right")).to_be_visible()

    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Every other session has been signed out")).to_be_visible()

    page.reload()  # this browser got the new token and stays signed in
    wait_hydrated(page)
    expect(page.get_by_test_id("account-email")).to_have_text(email)
    other.reload()  # the session from before the change is out
    other.wait_for_url(route("/signin?next=/overview"))
    sign_in(other, email, NEW_PASSWORD)  # the new password works in any browser
    other.context.close()


def test_theme_is_remembered_and_sign_out_everywhere(page):
    email = _account()
    sign_in(page, email, start="/signin?next=/account", lands_on="/account")
    html = page.locator("html")
    page.get_by_role("button", name="Dark theme").click()
    expect(html).to_have_class(DARK)
    expect(html).to_have_css("color-scheme", "dark")  # what the browser paints with, not only a class
    page.reload()
    wait_hydrated(page)
    expect(html).to_have_class(DARK)
    expect(page.get_by_role("button", name="Dark theme")).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name="Light theme").click()
    expect(html).not_to_have_class(DARK)

    page.get_by_role("button", name="Sign out everywhere").click()
    page.get_by_role("button", name="Confirm sign out everywhere").click()
    page.wait_for_url(route("/signin"))
    sign_in(page, email)  # the account still works; only its sessions ended
