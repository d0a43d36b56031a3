"""The agent page's "Call a number" card in a real browser: the service's refusals, in its words.

The shared app runs without Twilio (tests/e2e/test_phone_numbers.py needs it unconfigured, and a
second app would need a build of its own), so this test drives the card up to the service's
checks: a number that is not E.164, a variable name a placeholder cannot have, and then a valid
call refused because this installation has no Twilio. Nothing is opened for any of them. The
Twilio path itself (FakeTwilio through TWILIO_API_BASE_URL) is proven by
tests/api/test_outbound_calls_api.py and tests/services/test_outbound_calls.py, which call the same
``services.outbound_calls.place_call`` this card calls.
"""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PASSWORD, sign_in, wait_hydrated

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("patient_expect")]


def _calls_of(org_id: uuid.UUID) -> int:
    from sqlalchemy import func
    from sqlmodel import select

    from voice_platform.db import session_scope
    from voice_platform.models import CallSession

    with session_scope() as session:
        return session.exec(select(func.count()).select_from(CallSession)
                            .where(CallSession.organization_id == org_id)).one()


def test_call_a_number_shows_the_services_refusals(page: Page):
    from voice_platform.db import session_scope
    from voice_platform.services import agents, auth

    email = f"outbound-{uuid.uuid4().hex[:10]}@example.com"
    number = "+1415" + str(uuid.uuid4().int)[:7]
    with session_scope() as session:
        signed, org = auth.signup(session, email=email, password=PASSWORD, organization_name="Outbound Co")
        agent_id = agents.create_agent(session, signed.user, org.id, {"name": "Reminders", "phone_number": number}).id
    sign_in(page, email)
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Agents").click()
    page.get_by_role("link", name="Edit Reminders").click()
    page.wait_for_url(f"**/agents/{agent_id}**")
    wait_hydrated(page)

    card = page.get_by_role("form", name="Call a number")
    error = card.get_by_test_id("call-error")
    card.get_by_label("Number to call").fill("555 0100")
    card.get_by_role("button", name="Call now").click()
    expect(error).to_contain_text("E.164")
    expect(card.get_by_label("Number to call")).to_have_attribute("aria-invalid", "true")

    card.get_by_label("Number to call").fill("+14155550100")
    card.get_by_label("Variable name").fill("1st name")
    card.get_by_label("Variable value").fill("Ada")
    card.get_by_role("button", name="Call now").click()
    expect(error).to_contain_text("A variable's name")

    card.get_by_label("Variable name").fill("name")
    card.get_by_role("button", name="Add variable").click()
    expect(card.get_by_label("Variable name")).to_have_count(2)
    card.get_by_role("button", name="Remove variable").nth(1).click()
    expect(card.get_by_label("Variable name")).to_have_count(1)
    expect(card.get_by_label("Variable name")).to_have_value("name")
    card.get_by_role("button", name="Call now").click()
    expect(error).to_contain_text("Outbound calls need Twilio")
    expect(card.get_by_test_id("placed-call-link")).to_have_count(0)
    assert _calls_of(org.id) == 0
