"""The agent form's call settings (transfer number, recording) persist through the service."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, route, sign_in, wait_hydrated

pytestmark = pytest.mark.e2e


def test_transfer_number_and_recording_are_saved_and_validated(page):
    from sqlmodel import select

    from voice_platform.db import session_scope
    from voice_platform.models import VoiceAgent
    from voice_platform.services import agents, auth

    email = f"callset-{uuid.uuid4().hex[:10]}@example.com"
    with session_scope() as session:
        signed, org = auth.signup(session, email=email, password=PASSWORD, organization_name="Call Settings Co")
        agent_id = agents.create_agent(session, signed.user, org.id, {"name": "Desk"}).id
    sign_in(page, email)
    page.goto(f"/agents/{agent_id}")
    wait_hydrated(page)
    page.get_by_label("Transfer number").fill("not a number")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#transfer_number-error")).to_contain_text("E.164")

    page.get_by_label("Transfer number").fill("+1 415 555 0123")
    page.get_by_label("Record calls").click()
    page.get_by_label("Recording notice").fill("This call is recorded.")
    page.get_by_role("button", name="Save changes").click()
    # the first save's error toast may still be up; under a loaded CI machine the save takes seconds
    expect(page.get_by_text("Changes saved")).to_be_visible(timeout=20_000)
    with session_scope() as session:
        saved = session.exec(select(VoiceAgent).where(VoiceAgent.id == agent_id)).one()
        assert (saved.transfer_number, saved.record_calls, saved.recording_notice) == (
            "+14155550123", True, "This call is recorded.")
    page.reload()
    wait_hydrated(page)
    expect(page.get_by_label("Transfer number")).to_have_value("+14155550123")
    expect(page.get_by_label("Record calls")).to_be_checked()
    page.wait_for_url(route(f"/agents/{agent_id}"))
