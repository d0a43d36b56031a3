"""Campaigns in a real browser: a campaign made from an uploaded CSV file, started, followed live,
paused, resumed and cancelled, and its contacts linking to their calls.

The shared app runs without Twilio (see tests/e2e/test_outbound_call_form.py), and its own
dialer loop (``services.dialer``, started with the app) holds the lease. So once started, the
do-not-call contact is skipped (``do_not_call``) and the first claimed contact is put back
``queued`` with the service's reason ("Outbound calls need Twilio ..."): the campaign stays
running and waits. The page shows that without a reload (it follows a running campaign). The
Twilio path itself is proven by tests/services/test_dialer.py against the fake Twilio.
"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PASSWORD, route, sign_in, wait_hydrated

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("patient_expect")]

OPTED_OUT = "+14155550199"
CSV = (
    "to,name,day\n"
    "+14155550101,Ada,Tuesday\n"
    "+1 415 555 0102,Grace,Wednesday\n"
    "555 0100,Bad,Thursday\n"
    f"{OPTED_OUT},Opted,Friday\n"
)


def _organization() -> tuple[str, uuid.UUID, str]:
    """An org admin whose agent has a number, and a number the organization must never call."""
    from voice_platform.db import session_scope
    from voice_platform.services import agents, auth, do_not_call

    email = f"campaign-{uuid.uuid4().hex[:10]}@example.com"
    number = "+1415" + str(uuid.uuid4().int)[:7]
    with session_scope() as session:
        signed, org = auth.signup(session, email=email, password=PASSWORD, organization_name="Reminders Co")
        agents.create_agent(session, signed.user, org.id, {"name": "Reminders", "phone_number": number})
        do_not_call.add(session, signed.user, org.id, OPTED_OUT)
    return email, org.id, number


def _stored(org_id: uuid.UUID):
    from sqlmodel import select

    from voice_platform.db import session_scope
    from voice_platform.models import Campaign, CampaignContact

    with session_scope() as session:
        campaign = session.exec(select(Campaign).where(Campaign.organization_id == org_id)).one()
        contacts = session.exec(select(CampaignContact).where(CampaignContact.campaign_id == campaign.id)
                                .order_by(CampaignContact.position)).all()
        session.expunge_all()
        return campaign, list(contacts)


def _a_call_for(contact_id: uuid.UUID, org_id: uuid.UUID, agent_number: str, to: str) -> uuid.UUID:
    """A call the dialer placed for this contact and Twilio reported unanswered (as if Twilio were there)."""
    from sqlmodel import select

    from voice_platform.db import session_scope
    from voice_platform.models import CallSession, VoiceAgent
    from voice_platform.models.base import utcnow

    with session_scope() as session:
        agent = session.exec(select(VoiceAgent).where(VoiceAgent.organization_id == org_id)).one()
        call = CallSession(organization_id=org_id, agent_id=agent.id, direction="outbound", status="completed",
                           from_number=agent_number, to_number=to, campaign_contact_id=contact_id,
                           variables={"name": "Ada"}, started_at=utcnow(), ended_at=utcnow(), duration_seconds=0,
                           end_reason="no_answer", provider_call_id="CA" + uuid.uuid4().hex)
        session.add(call)
        session.flush()
        return call.id


def _draft(email: str, org_id: uuid.UUID) -> None:
    """A draft campaign "Follow-ups" of the organization's agent, with one contact, made by its admin."""
    from sqlmodel import select

    from voice_platform.db import session_scope
    from voice_platform.models import User, VoiceAgent
    from voice_platform.services import campaigns

    with session_scope() as session:
        admin = session.exec(select(User).where(User.email == email)).one()
        agent = session.exec(select(VoiceAgent).where(VoiceAgent.organization_id == org_id)).one()
        campaigns.create(session, admin, org_id, {"name": "Follow-ups", "agent_id": str(agent.id),
                                                  "contacts": [{"to": "+14155550111", "variables": {"name": "Ada"}}]})


def _open_follow_ups(page: Page) -> None:
    """From anywhere signed in: the Campaigns page, then the "Follow-ups" campaign's page."""
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Campaigns").click()
    page.wait_for_url(route("/campaigns"))
    wait_hydrated(page)
    page.get_by_role("link", name="Open Follow-ups").click()
    page.wait_for_url(re.compile(r".*/campaigns/[0-9a-f-]{36}/?$"))
    wait_hydrated(page)


def _count(page: Page, state: str):
    return page.locator(f'[data-testid="campaign-count"][data-state="{state}"]')


def _fill_settings(page: Page, form) -> None:
    form.get_by_label("Campaign name", exact=True).fill("November reminders")
    for day in ("Sat", "Sun"):  # Mon-Fri are on by default: every day
        form.get_by_role("checkbox", name=day).click()
    form.get_by_label("From", exact=True).fill("00:00")
    form.get_by_label("Until", exact=True).fill("24:00")
    form.get_by_label("Retry attempts", exact=True).fill("1")
    form.get_by_label("Retry after (minutes)", exact=True).fill("5")


def test_a_campaign_from_a_csv_file_started_paused_resumed_and_cancelled(page: Page):
    email, org_id, agent_number = _organization()
    sign_in(page, email)
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Campaigns").click()
    page.wait_for_url(route("/campaigns"))
    wait_hydrated(page)
    expect(page.get_by_text("No campaigns yet")).to_be_visible()

    page.get_by_role("button", name="New campaign").click()
    form = page.get_by_role("form", name="New campaign")
    expect(form.get_by_role("button", name="Create campaign")).to_be_disabled()  # no contacts yet
    _fill_settings(page, form)
    form.get_by_test_id("csv-dropzone").locator("input[type=file]").set_input_files(
        files=[{"name": "contacts.csv", "mimeType": "text/csv", "buffer": CSV.encode()}])
    expect(form.get_by_test_id("accepted-count")).to_have_text("3")
    rejected = form.get_by_test_id("rejected-row")
    expect(rejected).to_have_count(1)
    expect(rejected).to_contain_text("4")  # the spreadsheet's row (the header is row 1)
    expect(rejected).to_contain_text("E.164")
    expect(form.get_by_test_id("preview-row")).to_have_count(3)
    expect(form.get_by_test_id("preview-row").nth(1)).to_contain_text("+14155550102")
    expect(form).to_contain_text("variables: day, name")

    form.get_by_label("Calls at once", exact=True).fill("99")  # more than the plan allows
    form.get_by_role("button", name="Create campaign").click()
    expect(form.get_by_test_id("error-max_concurrent")).to_contain_text("kept free for inbound calls")
    form.get_by_label("Calls at once", exact=True).fill("2")
    form.get_by_role("button", name="Create campaign").click()
    page.wait_for_url(re.compile(r".*/campaigns/[0-9a-f-]{36}/?$"))
    wait_hydrated(page)

    campaign, contacts = _stored(org_id)
    assert (campaign.status, campaign.max_concurrent, campaign.retry_attempts, campaign.retry_delay_minutes) == (
        "draft", 2, 1, 5)
    assert campaign.window == {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00",
                               "end": "24:00"}
    assert [(c.to_number, c.variables) for c in contacts] == [
        ("+14155550101", {"name": "Ada", "day": "Tuesday"}), ("+14155550102", {"name": "Grace", "day": "Wednesday"}),
        (OPTED_OUT, {"name": "Opted", "day": "Friday"})]
    expect(page.get_by_role("heading", name="November reminders")).to_be_visible()
    expect(page.get_by_test_id("campaign-status")).to_have_text("draft")
    expect(page.get_by_test_id("campaign-window")).to_contain_text("Every day 00:00–24:00")
    expect(_count(page, "queued")).to_have_attribute("data-count", "3")
    rows = page.get_by_test_id("contact-row")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("day=Tuesday, name=Ada")

    # Started: the app's dialer skips the listed number and, without Twilio, puts the first one back.
    page.get_by_role("button", name="Start campaign").click()
    expect(page.get_by_test_id("campaign-status")).to_have_text("running")
    expect(page.get_by_test_id("campaign-live")).to_be_visible()
    expect(_count(page, "do_not_call")).to_have_attribute("data-count", "1", timeout=30_000)
    expect(rows.first.get_by_test_id("contact-error")).to_contain_text("Outbound calls need Twilio", timeout=30_000)
    expect(rows.first.get_by_test_id("contact-state")).to_have_text("Queued")
    expect(rows.first.get_by_test_id("contact-attempts")).to_have_text("0")  # never placed: the attempt given back
    expect(rows.nth(2).get_by_test_id("contact-state")).to_have_text("Do not call")
    expect(_count(page, "queued")).to_have_attribute("data-count", "2")
    expect(page.get_by_test_id("campaign-progress-text")).to_contain_text("1 of 3 settled")
    assert _stored(org_id)[0].status == "running"  # it waits for Twilio rather than failing every contact

    # A call of the first contact shows up in its row while the page is open.
    call_id = _a_call_for(contacts[0].id, org_id, agent_number, contacts[0].to_number)
    expect(rows.first.get_by_test_id("contact-call")).to_contain_text("Call 1", timeout=10_000)
    expect(rows.first.get_by_test_id("contact-call")).to_contain_text("no answer")

    page.get_by_role("button", name="Pause campaign").click()
    expect(page.get_by_test_id("campaign-status")).to_have_text("paused")
    expect(page.get_by_role("button", name="Pause campaign")).to_have_count(0)
    assert _stored(org_id)[0].status == "paused"
    page.get_by_role("button", name="Resume campaign").click()
    expect(page.get_by_test_id("campaign-status")).to_have_text("running")

    page.get_by_role("button", name="Cancel campaign").click()
    page.get_by_role("button", name="Confirm cancel").click()
    expect(page.get_by_test_id("campaign-status")).to_have_text("cancelled")
    expect(_count(page, "cancelled")).to_have_attribute("data-count", "2")
    expect(_count(page, "do_not_call")).to_have_attribute("data-count", "1")
    expect(_count(page, "queued")).to_have_attribute("data-count", "0")
    expect(page.get_by_test_id("campaign-progress-text")).to_contain_text("3 of 3 settled (100%)")
    expect(page.get_by_test_id("campaign-live")).to_have_count(0)
    expect(page.get_by_role("button", name="Resume campaign")).to_have_count(0)
    campaign, contacts = _stored(org_id)
    assert campaign.status == "cancelled" and campaign.finished_at is not None
    assert [c.state for c in contacts] == ["cancelled", "cancelled", "do_not_call"]

    page.get_by_label("Contact state filter").click()
    page.get_by_role("option", name="Do not call", exact=True).click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(OPTED_OUT)
    page.get_by_label("Contact state filter").click()
    page.get_by_role("option", name="Every state", exact=True).click()
    expect(rows).to_have_count(3)

    rows.first.get_by_test_id("contact-call").click()
    page.wait_for_url(route(f"/calls/{call_id}"))
    wait_hydrated(page)
    expect(page.get_by_role("heading", name="Call with +14155550101")).to_be_visible()

    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Campaigns").click()
    page.wait_for_url(route("/campaigns"))
    row = page.get_by_test_id("campaign-row")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("campaign-status")).to_have_text("cancelled")
    expect(row).to_contain_text("Reminders")
    expect(row.get_by_test_id("campaign-progress-text")).to_contain_text("3 of 3 settled")
    expect(row.locator('[data-testid="campaign-count"][data-state="cancelled"]')).to_have_attribute("data-count", "2")


def test_a_member_follows_campaigns_but_cannot_steer_them(page: Page):
    from tests.e2e.tools_support import add_member

    email, org_id, _number = _organization()
    _draft(email, org_id)
    member = add_member(email, org_id)
    sign_in(page, member)
    switcher = page.get_by_label("Organization")
    if switcher.inner_text().strip() != "Reminders Co":  # the member also has an organization of their own
        switcher.click()
        page.get_by_role("option", name="Reminders Co").click()
        expect(page.get_by_text("Switched to Reminders Co")).to_be_visible()
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Campaigns").click()
    page.wait_for_url(route("/campaigns"))
    wait_hydrated(page)
    expect(page.get_by_test_id("campaign-row")).to_have_count(1)
    expect(page.get_by_role("button", name="New campaign")).to_have_count(0)

    page.get_by_role("link", name="Open Follow-ups").click()
    page.wait_for_url(re.compile(r".*/campaigns/[0-9a-f-]{36}/?$"))
    wait_hydrated(page)
    expect(page.get_by_test_id("campaign-status")).to_have_text("draft")
    expect(_count(page, "queued")).to_have_attribute("data-count", "1")
    expect(page.get_by_test_id("contact-row")).to_contain_text("name=Ada")
    expect(page.get_by_role("button", name="Start campaign")).to_have_count(0)
    expect(page.get_by_role("button", name="Cancel campaign")).to_have_count(0)


def test_a_draft_is_edited_in_a_dialog_and_a_started_one_is_not(page: Page):
    email, org_id, _number = _organization()
    _draft(email, org_id)
    sign_in(page, email)
    _open_follow_ups(page)

    page.get_by_role("button", name="Edit campaign").click()
    form = page.get_by_role("form", name="Edit campaign")
    expect(form.get_by_label("Campaign name", exact=True)).to_have_value("Follow-ups")  # the draft as stored
    expect(form.get_by_label("From", exact=True)).to_have_value("09:00")
    expect(form.get_by_role("checkbox", name="Sat")).not_to_be_checked()
    form.get_by_label("Campaign name", exact=True).fill("Weekend follow-ups")
    form.get_by_role("checkbox", name="Sat").click()
    form.get_by_label("From", exact=True).fill("10:00")
    form.get_by_label("Calls at once", exact=True).fill("99")  # more than the plan allows
    form.get_by_role("button", name="Save campaign").click()
    expect(form.get_by_test_id("error-max_concurrent")).to_contain_text("kept free for inbound calls")
    form.get_by_label("Calls at once", exact=True).fill("2")
    form.get_by_role("button", name="Save campaign").click()
    expect(page.get_by_text("Campaign saved")).to_be_visible()
    expect(form).to_have_count(0)  # the dialog closed
    expect(page.get_by_role("heading", name="Weekend follow-ups")).to_be_visible()

    campaign, contacts = _stored(org_id)
    assert (campaign.name, campaign.max_concurrent, campaign.status) == ("Weekend follow-ups", 2, "draft")
    assert campaign.window == {"days": ["mon", "tue", "wed", "thu", "fri", "sat"], "start": "10:00", "end": "17:00"}
    assert [c.to_number for c in contacts] == ["+14155550111"]  # the contacts stay

    page.get_by_role("button", name="Start campaign").click()
    expect(page.get_by_test_id("campaign-status")).to_have_text("running")
    expect(page.get_by_role("button", name="Edit campaign")).to_have_count(0)
