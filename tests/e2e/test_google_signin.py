"""Sign in with Google in a real browser against the real app and the loopback fake Google.

The shared app (``tests/e2e/conftest.py``) points its Google settings at the session's fake
(``fake_google``), whose consent page approves at once: /signin → "Sign in with Google" →
fake consent → our callback → /signin/google swaps the one-time code → the dashboard.
Each test says who consents (``use_identity``) and puts the Calendar tests' identity back.
"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, route, sign_in, wait_hydrated

pytestmark = pytest.mark.e2e
EXISTS = "An account with this e-mail exists. Sign in with your password and link Google from your account page."


@pytest.fixture()
def google(fake_google):
    st = fake_google.state
    saved = (st.account_email, st.subject, st.email_verified, st.name)
    yield st
    st.use_identity(saved[0], saved[1], verified=saved[2], name=saved[3])


def _password_account(prefix: str) -> str:
    from voice_platform.db import session_scope
    from voice_platform.services import auth

    email = f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"
    with session_scope() as session:
        auth.signup(session, email=email, password=PASSWORD, organization_name="Google Co")
    return email


def _signin_with_error(reason: str) -> re.Pattern[str]:
    """/signin (or /signin/, as Reflex's prod build serves it) with the callback's reason code."""
    return re.compile(r"^https?://[^/]+/signin/?\?google_error=" + re.escape(reason) + "$")


def _google_button(page):
    return page.get_by_role("button", name="Sign in with Google")


def test_new_user_signs_in_with_google_and_lands_on_the_dashboard(page, google):
    email = f"g-{uuid.uuid4().hex[:10]}@gmail.example"
    google.use_identity(email, f"sub-{uuid.uuid4().hex}", name="Katherine Johnson")
    page.goto("/signin")
    wait_hydrated(page)
    _google_button(page).click()
    page.wait_for_url(route("/agents"))  # a new account starts where it creates its first agent
    wait_hydrated(page)
    expect(page.get_by_text("Welcome! Your organization is ready.")).to_be_visible()
    expect(page.get_by_text("Katherine Johnson's organization").first).to_be_visible()
    assert "code=" not in page.url

    page.reload()  # the session is this browser's, like a password sign-in
    wait_hydrated(page)
    page.wait_for_url(route("/agents"))
    token = page.evaluate("window.localStorage.getItem('vp_token')")
    assert token and token.count(".") == 2


def _google_sign_in_then_account(page, *, lands_on: str) -> None:
    page.goto("/signin")
    wait_hydrated(page)
    _google_button(page).click()
    page.wait_for_url(route(lands_on))
    wait_hydrated(page)
    page.goto("/account")
    wait_hydrated(page)


def test_link_on_account_page_then_sign_in_with_google(page, google):
    email = _password_account("linker")
    google_email = f"personal-{uuid.uuid4().hex[:8]}@gmail.example"
    google.use_identity(google_email, f"sub-{uuid.uuid4().hex}")
    sign_in(page, email)
    page.goto("/account")
    wait_hydrated(page)
    page.get_by_role("button", name="Link Google").click()
    page.wait_for_url(route("/account"))
    expect(page.get_by_test_id("google-linked")).to_have_text(f"Linked as {google_email}")
    expect(page.get_by_role("button", name="Unlink Google")).to_be_visible()

    page.evaluate("window.localStorage.removeItem('vp_token')")  # a fresh visit, signed out
    _google_sign_in_then_account(page, lands_on="/overview")
    expect(page.get_by_test_id("account-email")).to_have_text(email)

    page.get_by_role("button", name="Unlink Google").click()
    expect(page.get_by_text("Google unlinked.")).to_be_visible()
    expect(page.get_by_role("button", name="Link Google")).to_be_visible()


def test_google_made_account_sets_a_password_on_the_account_page(page, google):
    """No password at first: the Password card sets one (no current one asked), then e-mail sign-in works."""
    email = f"setpw-{uuid.uuid4().hex[:10]}@gmail.example"
    new_password = "my first own password"
    google.use_identity(email, f"sub-{uuid.uuid4().hex}")
    _google_sign_in_then_account(page, lands_on="/agents")  # a new account starts on its agents
    expect(page.get_by_text("You sign in with Google. Set a password to sign in with your e-mail too.")).to_be_visible()
    expect(page.get_by_label("Current password")).to_have_count(0)
    expect(page.get_by_role("button", name="Unlink Google")).to_have_count(0)  # Google is the only way in yet

    page.get_by_label("New password", exact=True).fill(new_password)
    page.get_by_label("Confirm new password").fill("not the same one")
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_test_id("error-confirm_password")).to_have_text("The two new passwords are not the same")
    page.get_by_label("New password", exact=True).fill("short")
    page.get_by_label("Confirm new password").fill("short")
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_test_id("error-new_password")).to_contain_text("at least 8 characters")

    page.get_by_label("New password", exact=True).fill(new_password)
    page.get_by_label("Confirm new password").fill(new_password)
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_text("Password set: you can sign in with your e-mail too.")).to_be_visible()
    # Without a reload: the card is the usual change form, and Google may be unlinked now.
    expect(page.get_by_role("button", name="Change password")).to_be_visible()
    expect(page.get_by_label("Current password")).to_be_visible()
    expect(page.get_by_role("button", name="Unlink Google")).to_be_visible()

    page.reload()  # this browser got the fresh token and stays signed in
    wait_hydrated(page)
    expect(page.get_by_test_id("account-email")).to_have_text(email)
    page.get_by_role("button", name="User menu").click()
    page.get_by_role("menuitem", name="Sign out").click()
    page.wait_for_url(route("/signin"))
    sign_in(page, email, new_password)
    page.goto("/account")
    wait_hydrated(page)
    expect(page.get_by_role("button", name="Change password")).to_be_visible()


def test_unlinked_account_with_that_email_is_refused_with_a_message(page, google):
    email = _password_account("owner")
    google.use_identity(email, f"sub-{uuid.uuid4().hex}")
    page.goto("/signup")
    wait_hydrated(page)
    _google_button(page).click()
    page.wait_for_url(_signin_with_error("email_exists"))
    wait_hydrated(page)
    expect(page.get_by_test_id("google-error")).to_have_text(EXISTS)
    assert page.evaluate("window.localStorage.getItem('vp_token')") in (None, "")


def test_a_handoff_link_opened_in_another_browser_signs_nobody_in(page, browser, live_app, google):
    """The one-time code is bound to the browser that started: a forwarded link is refused."""
    google.use_identity(f"fwd-{uuid.uuid4().hex[:8]}@gmail.example", f"sub-{uuid.uuid4().hex}")
    handoff: list[str] = []

    def consent_then_hold(intercepted):
        """Google's consent and our callback happen; the browser stops before opening the handoff link."""
        consent = intercepted.fetch(max_redirects=0)
        back = page.context.request.get(consent.headers["location"], max_redirects=0)
        handoff.append(back.headers["location"])
        intercepted.fulfill(status=200, body="held", content_type="text/plain")

    page.route(re.compile(r"/o/oauth2/auth\?"), consent_then_hold)
    page.goto("/signin")
    wait_hydrated(page)
    _google_button(page).click()
    expect(page.get_by_text("held")).to_be_visible()
    assert handoff and "/signin/google?code=" in handoff[0], handoff
    other = browser.new_context(base_url=live_app.base_url).new_page()
    other.goto(handoff[0])
    other.wait_for_url(_signin_with_error("handoff"))
    wait_hydrated(other)
    expect(other.get_by_test_id("google-error")).to_contain_text("could not be finished in this browser")
    other.context.close()
