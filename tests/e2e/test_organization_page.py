"""The organization page edits what every agent is told: business details and time zone."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, route, sign_in, wait_hydrated

pytestmark = pytest.mark.e2e


def test_business_details_and_time_zone_are_saved_and_validated(page):
    from voice_platform.db import session_scope
    from voice_platform.models import Organization
    from voice_platform.services import auth

    email = f"org-{uuid.uuid4().hex[:10]}@example.com"
    with session_scope() as session:
        _signed, org = auth.signup(session, email=email, password=PASSWORD, organization_name="Harbor Dental")
        org_id = org.id
    sign_in(page, email)
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Settings").click()
    page.wait_for_url(route("/settings"))
    wait_hydrated(page)
    expect(page.get_by_label("Time zone")).to_have_value("UTC")
    page.get_by_label("Time zone").fill("Mars/Olympus")
    page.get_by_role("button", name="Save organization").click()
    expect(page.locator("#timezone-error")).to_contain_text("IANA")
    page.get_by_label("Time zone").fill("America/Chicago")
    page.get_by_label("Business details").fill("12 Pier St. Open Mon-Fri 8-17. Cleaning $90.")
    page.get_by_role("button", name="Save organization").click()
    expect(page.get_by_text("Organization saved")).to_be_visible()
    with session_scope() as session:
        saved = session.get(Organization, org_id)
        assert (saved.timezone, saved.business_details) == ("America/Chicago", "12 Pier St. Open Mon-Fri 8-17. Cleaning $90.")


def test_a_member_sees_the_settings_read_only_and_a_forced_save_is_refused(page):
    from voice_platform.db import session_scope
    from voice_platform.models import Organization
    from voice_platform.services import auth, organizations

    owner_email = f"org-owner-{uuid.uuid4().hex[:10]}@example.com"
    member_email = f"org-member-{uuid.uuid4().hex[:10]}@example.com"
    with session_scope() as session:
        owner, org = auth.signup(session, email=owner_email, password=PASSWORD, organization_name="Locked Dental")
        auth.signup(session, email=member_email, password=PASSWORD, organization_name="Member's own")
        organizations.add_member(session, owner.user, org.id, email=member_email, role="member")
        org_id = org.id
    sign_in(page, member_email)
    page.get_by_role("combobox", name="Organization").click()
    page.get_by_role("option", name="Locked Dental").click()
    page.goto("/settings")
    wait_hydrated(page)
    expect(page.get_by_text("Your role can view these settings but not change them.")).to_be_visible()
    save = page.get_by_role("button", name="Save organization")
    expect(save).to_be_disabled()

    # A tampered browser: submit the form through React's own handler, bypassing the disabled button.
    page.get_by_label("Organization name").fill("Hijacked")
    forced = page.locator("form").filter(has=save).evaluate("""form => {
        const key = Object.keys(form).find(k => k.startsWith('__reactProps'));
        form[key].onSubmit({preventDefault() {}, stopPropagation() {}, currentTarget: form, target: form,
                            nativeEvent: {submitter: null}});
        return true;
    }""")
    assert forced
    expect(page.get_by_role("alert").filter(has_text="does not allow")).to_be_visible()  # the page says why
    with session_scope() as session:
        assert session.get(Organization, org_id).name == "Locked Dental"
