"""Invitations in a real browser: an admin makes a link, the invited person signs up through it and joins."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, route, sign_in, wait_hydrated

pytestmark = pytest.mark.e2e


def _admin(org: str) -> str:
    from voice_platform.db import session_scope
    from voice_platform.services import auth

    email = f"inviter-{uuid.uuid4().hex[:10]}@example.com"
    with session_scope() as session:
        auth.signup(session, email=email, password=PASSWORD, organization_name=org)
    return email


def test_invite_sign_up_through_the_link_and_join(page, browser, live_app):
    org = f"Invite Dental {uuid.uuid4().hex[:6]}"
    guest = f"guest-{uuid.uuid4().hex[:10]}@example.com"
    sign_in(page, _admin(org), start="/signin?next=/members", lands_on="/members")
    page.get_by_label("Address to invite").fill(guest)
    page.get_by_role("button", name="Create invitation link").click()
    link = page.get_by_test_id("invite-link")
    expect(link).to_be_visible()
    url = link.input_value()
    assert "/invite/" in url
    expect(page.get_by_test_id("pending-invite")).to_contain_text(guest)
    page.goto(url.replace(live_app.base_url, ""))  # the admin's own account is the wrong one for it
    wait_hydrated(page)
    expect(page.get_by_test_id("invite-wrong-account")).to_contain_text(guest)
    expect(page.get_by_role("button", name="Join organization")).to_have_count(0)

    visitor = browser.new_context(base_url=live_app.base_url).new_page()
    visitor.goto(url.replace(live_app.base_url, ""))
    wait_hydrated(visitor)
    expect(visitor.get_by_text(org)).to_be_visible()
    visitor.get_by_role("link", name="Create an account").click()
    visitor.wait_for_url(route("/signup"))
    wait_hydrated(visitor)
    visitor.get_by_label("E-mail").fill(guest)
    visitor.get_by_label("Password").fill(PASSWORD)
    visitor.get_by_role("button", name="Create account").click()
    visitor.wait_for_url(lambda u: "/invite/" in u)  # back to the invitation
    visitor.get_by_role("button", name="Join organization").click()
    visitor.wait_for_url(route("/overview"))
    wait_hydrated(visitor)
    expect(visitor.get_by_role("combobox", name="Organization")).to_contain_text(org)

    visitor.goto(url.replace(live_app.base_url, ""))  # the link worked once
    expect(visitor.get_by_test_id("invite-used")).to_be_visible()
    visitor.context.close()
    page.goto("/members")
    wait_hydrated(page)
    expect(page.get_by_test_id("member-row").filter(has_text=guest)).to_have_count(1)  # a member now
    expect(page.get_by_test_id("pending-invite")).to_have_count(0)


def test_an_existing_account_signs_in_through_the_link_and_joins(page):
    from voice_platform.db import session_scope
    from voice_platform.services import auth, invitations
    from voice_platform.services.organizations import list_organizations

    org = f"Sign-in Dental {uuid.uuid4().hex[:6]}"
    guest = _admin(f"Own Co {uuid.uuid4().hex[:6]}")  # someone with an account (and an organization) already
    with session_scope() as session:
        inviter = auth.find_user_by_email(session, _admin(org))
        org_id = list_organizations(session, inviter)[0].organization.id
        path = "/invite/" + invitations.create_invitation(session, inviter, org_id, email=guest,
                                                           role="org_admin").link.rsplit("/invite/", 1)[1]
    page.goto(path)
    wait_hydrated(page)
    expect(page.get_by_text("org admin", exact=True)).to_be_visible()
    page.get_by_role("link", name="Sign in to accept").click()
    page.wait_for_url(lambda u: "/signin?next=" in u)
    wait_hydrated(page)
    page.get_by_label("E-mail").fill(guest)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(route(path))  # back to the invitation
    wait_hydrated(page)
    page.get_by_role("button", name="Join organization").click()
    page.wait_for_url(route("/overview"))
    expect(page.get_by_text("Welcome to " + org)).to_be_visible()
    wait_hydrated(page)
    expect(page.get_by_role("combobox", name="Organization")).to_contain_text(org)


def test_an_expired_link_says_so(page):
    from sqlmodel import update

    from voice_platform.db import session_scope
    from voice_platform.models import Invitation
    from voice_platform.models.base import utcnow
    from voice_platform.services import auth, invitations
    from voice_platform.services.organizations import list_organizations

    email = _admin("Expiry Co")
    with session_scope() as session:
        user = auth.find_user_by_email(session, email)
        org_id = list_organizations(session, user)[0].organization.id
        made = invitations.create_invitation(session, user, org_id, email="late@example.com", role="member")
        session.execute(update(Invitation).where(Invitation.id == made.invitation.id)
                        .values(expires_at=utcnow() - timedelta(hours=1)))
    page.goto("/invite/" + made.link.rsplit("/invite/", 1)[1])
    wait_hydrated(page)
    expect(page.get_by_test_id("invite-expired")).to_be_visible()
