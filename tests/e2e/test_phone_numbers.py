"""The phone numbers page in a real browser, on the embedded default: no Twilio credentials.

The shared app runs without Twilio settings (the fixtures give it only the fake Google), so
this proves what that setup offers: the page names the two settings that enable buying and
importing, lists the numbers typed into agents as manual numbers with the webhook URLs to
paste into Twilio's console, assigns and unassigns them, releases them, and the agent form
offers the free numbers. Buying and importing are proven against the fake Twilio in
tests/telephony/test_twilio_numbers.py and tests/api/test_phone_numbers_api.py.
"""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, route, sign_in, wait_hydrated

pytestmark = pytest.mark.e2e


def _phone() -> str:
    return "+1415" + str(uuid.uuid4().int)[:7]


def _org_with_agents(phone: str):
    """An org admin whose "Reception" agent was given ``phone`` by typing it (a manual number)."""
    from voice_platform.db import session_scope
    from voice_platform.services import agents, auth

    email = f"numbers-{uuid.uuid4().hex[:10]}@example.com"
    with session_scope() as session:
        signed, org = auth.signup(session, email=email, password=PASSWORD, organization_name="Numbers Dental")
        reception = agents.create_agent(session, signed.user, org.id, {"name": "Reception", "phone_number": phone})
        night = agents.create_agent(session, signed.user, org.id, {"name": "Night line"})
        return email, org.id, reception.id, night.id


def _phone_of(agent_id) -> str | None:
    from voice_platform.db import session_scope
    from voice_platform.models import VoiceAgent

    with session_scope() as session:
        return session.get(VoiceAgent, agent_id).phone_number


def _open_numbers_page(page) -> None:
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Phone numbers").click()
    page.wait_for_url(route("/phone-numbers"))
    wait_hydrated(page)


def test_manual_number_webhooks_assignment_and_release(page, live_app):
    phone = _phone()
    email, _org, reception, night = _org_with_agents(phone)
    sign_in(page, email)
    _open_numbers_page(page)

    notice = page.get_by_test_id("twilio-not-configured")
    expect(notice).to_contain_text("TWILIO_ACCOUNT_SID")
    expect(notice).to_contain_text("TWILIO_AUTH_TOKEN")
    expect(page.get_by_role("heading", name="Buy a number")).to_have_count(0)

    row = page.get_by_test_id("number-row").filter(has_text=phone)
    expect(row).to_contain_text("Manual")
    expect(page.get_by_test_id("voice-url")).to_have_text(live_app.url("/api/v1/voice/twilio/incoming"))
    expect(page.get_by_test_id("status-callback-url")).to_have_text(live_app.url("/api/v1/voice/twilio/status"))

    picker = page.get_by_label("Agent for " + phone)
    expect(picker).to_contain_text("Reception")
    picker.click()
    page.get_by_role("option", name="Night line").click()
    expect(page.get_by_text("Number assigned")).to_be_visible()
    expect(picker).to_contain_text("Night line")
    assert (_phone_of(reception), _phone_of(night)) == (None, phone)  # one number, one agent

    picker.click()
    page.get_by_role("option", name="Not assigned").click()
    expect(page.get_by_text("Number unassigned")).to_be_visible()
    assert _phone_of(night) is None

    # the agent form offers the organization's free number, and still takes typing
    page.goto(f"/agents/{reception}")
    wait_hydrated(page)
    expect(page.locator(f'#phone-number-options option[value="{phone}"]')).to_have_count(1)
    expect(page.get_by_label("Phone number")).to_have_attribute("list", "phone-number-options")

    _open_numbers_page(page)
    page.get_by_label("Release " + phone).click()
    page.get_by_role("button", name="Confirm release").click()
    expect(page.get_by_text("Number released")).to_be_visible()
    expect(page.get_by_test_id("number-row")).to_have_count(0)
    expect(page.get_by_text("No numbers yet")).to_be_visible()


def test_a_member_sees_the_numbers_read_only(page):
    from sqlmodel import select

    from voice_platform.db import session_scope
    from voice_platform.models import User
    from voice_platform.services import auth, organizations

    phone = _phone()
    admin_email, org, _reception, _night = _org_with_agents(phone)
    member_email = f"numbers-member-{uuid.uuid4().hex[:8]}@example.com"
    with session_scope() as session:
        auth.create_user(session, email=member_email, password=PASSWORD)
        admin = session.exec(select(User).where(User.email == admin_email)).one()
        organizations.add_member(session, admin, org, email=member_email, role="member")

    sign_in(page, member_email)
    _open_numbers_page(page)
    row = page.get_by_test_id("number-row").filter(has_text=phone)
    expect(row).to_contain_text("Reception")
    expect(page.get_by_label("Agent for " + phone)).to_have_count(0)
    expect(page.get_by_label("Release " + phone)).to_have_count(0)
    expect(page.get_by_test_id("twilio-not-configured")).to_be_visible()


def test_the_voice_url_shown_for_pasting_reaches_the_webhook_through_the_dashboard_app(live_app):
    """The incoming-call webhook is answered ahead of FastAPI's layers (api.app): through the
    app ``make run`` serves (Reflex in front), the URL the page shows is the webhook, which,
    with no TWILIO_AUTH_TOKEN in this setup, refuses every request rather than being open."""
    import httpx

    url = live_app.url("/api/v1/voice/twilio/incoming")
    answer = httpx.post(url, data={"CallSid": "CA" + "1" * 32, "To": _phone()}, headers={"X-Twilio-Signature": "x"},
                        timeout=10)
    assert answer.status_code == 403, answer.text
    assert "signature" in answer.json()["detail"].lower()
    assert httpx.get(url, timeout=10).status_code == 405
