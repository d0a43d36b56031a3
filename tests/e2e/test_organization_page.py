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
