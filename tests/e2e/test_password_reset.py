"""E-mail in a real browser: "Forgot password?" through a real SMTP server, and invitations that arrive by mail.

The live app's SMTP settings point at the run's fake SMTP server (``fake_smtp`` in conftest).
"""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, route, sign_in, wait_hydrated

pytestmark = pytest.mark.e2e

NEW = "a brand new password 42"


def _account(prefix: str, org: str = "Mail Co") -> str:
    from voice_platform.db import session_scope
    from voice_platform.services import auth

    email = f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"
    with session_scope() as session:
        auth.signup(session, email=email, password=PASSWORD, organization_name=org)
    return email


def test_forgot_password_by_mail_then_signed_in(page, browser, live_app, fake_smtp):
    email = _account("forgetful")
    other = browser.new_context(base_url=live_app.base_url).new_page()  # a session that must end
    sign_in(other, email)

    page.goto("/signin")
    wait_hydrated(page)
    page.get_by_role("link", name="Forgot password?").click()
    page.wait_for_url(route("/forgot-password"))
    wait_hydrated(page)
    page.get_by_label("E-mail").fill(email.upper())
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_test_id("reset-sent")).to_contain_text("If an account uses that address")

    [received] = fake_smtp.wait_for(email)
    link = received.link("/reset-password/")
    assert link.startswith(live_app.base_url + "/reset-password/")
    page.goto(link.replace(live_app.base_url, ""))
    wait_hydrated(page)
    expect(page.get_by_text(email)).to_be_visible()
    page.get_by_label("New password", exact=True).fill(NEW)
    page.get_by_label("New password again").fill(NEW + "typo")
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_text("The two passwords differ")).to_be_visible()
    page.get_by_label("New password again").fill(NEW)
    page.get_by_role("button", name="Set new password").click()
    page.wait_for_url(route("/overview"))
    wait_hydrated(page)
    expect(page.get_by_text("Your password was changed")).to_be_visible()

    other.goto("/agents")  # the other browser's session was signed out
    other.wait_for_url(lambda u: "/signin" in u)
    other.context.close()

    page.goto(link.replace(live_app.base_url, ""))  # the link worked once
    wait_hydrated(page)
    expect(page.get_by_test_id("reset-link-invalid")).to_be_visible()

    fresh = browser.new_context(base_url=live_app.base_url).new_page()
    sign_in(fresh, email, NEW)  # the new password signs in
    fresh.context.close()


def test_an_invitation_arrives_by_mail(page, live_app, fake_smtp):
    guest = f"mailed-guest-{uuid.uuid4().hex[:10]}@example.com"
    sign_in(page, _account("mail-inviter", org="Mailed Invite Co"), start="/signin?next=/members", lands_on="/members")
    page.get_by_label("Address to invite").fill(guest)
    page.get_by_role("button", name="Create invitation link").click()
    expect(page.get_by_test_id("invite-mailed")).to_contain_text(guest)
    [received] = fake_smtp.wait_for(guest)
    link = received.link("/invite/")
    assert link == page.get_by_test_id("invite-link").input_value()
    page.goto(link.replace(live_app.base_url, ""))
    wait_hydrated(page)
    expect(page.get_by_text("Mailed Invite Co")).to_be_visible()
