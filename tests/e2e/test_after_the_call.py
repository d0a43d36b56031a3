"""Issue 26 in a real browser: the agent's "After the call" form, and a call's analysis.

The form test edits the analysis plan (prompts, fields added, one removed, a bad name refused
under its row), the voicemail settings and the transfer mode, saves through the service and
reads it all back after a reload. The calls test seeds analysed calls through the services (the
app shares the test database), then follows a person: the list's success badges, summary lines,
success filter and CSV export, the call page's analysis, and "Re-run analysis". The shared app's
Gemini endpoint is the fake Gemini *Live* server, which cannot answer a text request, so the
re-run ends as a failed analysis with its error shown: the page follows the analysis from
pending to its end without a reload.
"""

from __future__ import annotations

import csv
import io
import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PASSWORD, route, sign_in, wait_hydrated

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("patient_expect")]


CALLER = "+15550002222"


def _account(org_name: str, plan: dict | None = None) -> tuple[str, uuid.UUID, uuid.UUID, str]:
    """(e-mail, organization id, agent id, agent number) of a fresh org admin with one agent."""
    from voice_platform.db import session_scope
    from voice_platform.services import agents, auth

    email = f"after-{uuid.uuid4().hex[:10]}@example.com"
    number = "+1415" + str(uuid.uuid4().int)[:7]
    with session_scope() as session:
        signed, org = auth.signup(session, email=email, password=PASSWORD, organization_name=org_name)
        agent = agents.create_agent(session, signed.user, org.id, {"name": "Front desk", "phone_number": number,
                                                                   "analysis_plan": plan})
        return email, org.id, agent.id, number


def _stored_agent(agent_id: uuid.UUID):
    from voice_platform.db import session_scope
    from voice_platform.models import VoiceAgent

    with session_scope() as session:
        return session.get(VoiceAgent, agent_id)


def _open_agent(page: Page, name: str = "Front desk") -> None:
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Agents").click()
    page.wait_for_url(route("/agents"))
    wait_hydrated(page)
    page.get_by_role("link", name=f"Edit {name}").click()
    page.wait_for_url(re.compile(r".*/agents/[0-9a-f-]{36}/?$"))
    wait_hydrated(page)
    expect(page.get_by_label("Summary instructions")).to_be_visible()


def _pick(page: Page, label: str, option: str) -> None:
    page.get_by_label(label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()


def _save(page: Page) -> None:
    page.get_by_role("button", name="Save changes").click()


def test_the_after_the_call_form_is_saved_and_read_back(page: Page):
    email, _org, agent_id, _number = _account("After Form Co")
    sign_in(page, email)
    _open_agent(page)

    page.get_by_label("Summary instructions").fill("Say who called and what they booked.")
    page.get_by_label("Success rubric").fill("An appointment was booked.")
    for _ in range(3):
        page.get_by_role("button", name="Add field").click()
    expect(page.get_by_test_id("plan-field")).to_have_count(3)
    page.get_by_label("Name of field 1").fill("party size")  # not an identifier: refused below
    _pick(page, "Type of field 1", "integer")
    page.get_by_label("Field 1 is required").click()
    page.get_by_label("Description of field 1").fill("How many people are coming")
    page.get_by_label("Name of field 2").fill("to_be_removed")
    page.get_by_label("Name of field 3").fill("service")
    _pick(page, "Type of field 3", "enum")
    page.get_by_label("Choices of field 3").fill("cleaning, filling")
    # Removing the middle row keeps what was typed into the others.
    page.get_by_role("button", name="Remove field 2").click()
    expect(page.get_by_test_id("plan-field")).to_have_count(2)
    expect(page.get_by_label("Name of field 2")).to_have_value("service")
    expect(page.get_by_label("Choices of field 2")).to_have_value("cleaning, filling")

    _pick(page, "When a machine answers", "Leave a message")
    page.get_by_label("Voicemail message").fill("Hi {{name}}, Bright Smiles here: see you tomorrow.")
    expect(page.get_by_label("Hold music", exact=True)).to_be_hidden()  # a cold transfer has no hold
    _pick(page, "Transfer mode", "Warm: brief the person first, they press 1 to take the call")
    page.get_by_label("Hold music", exact=True).fill("https://cdn.example.com/bright-smiles/hold.mp3")

    _save(page)
    error = page.get_by_test_id("plan-field-error")
    expect(error).to_contain_text("lower-case letters")
    expect(page.get_by_label("Name of field 1")).to_have_attribute("aria-invalid", "true")
    assert _stored_agent(agent_id).analysis_plan is None  # nothing was saved

    page.get_by_label("Name of field 1").fill("party_size")
    _save(page)
    expect(page.get_by_text("Changes saved")).to_be_visible(timeout=20_000)
    expect(error).to_have_count(0)
    stored = _stored_agent(agent_id)
    assert stored.analysis_plan == {
        "summary_prompt": "Say who called and what they booked.",
        "success_rubric": "An appointment was booked.",
        "fields": [
            {"name": "party_size", "type": "integer", "description": "How many people are coming", "required": True},
            {"name": "service", "type": "enum", "description": "", "required": False,
             "choices": ["cleaning", "filling"]},
        ],
    }
    assert (stored.voicemail_action, stored.voicemail_message, stored.transfer_mode, stored.hold_music_url) == (
        "leave_message", "Hi {{name}}, Bright Smiles here: see you tomorrow.", "warm",
        "https://cdn.example.com/bright-smiles/hold.mp3")

    page.reload()
    wait_hydrated(page)
    expect(page.get_by_label("Summary instructions")).to_have_value("Say who called and what they booked.")
    expect(page.get_by_label("Success rubric")).to_have_value("An appointment was booked.")
    expect(page.get_by_test_id("plan-field")).to_have_count(2)
    expect(page.get_by_label("Name of field 1")).to_have_value("party_size")
    expect(page.get_by_label("Type of field 1")).to_have_text("integer")
    expect(page.get_by_label("Field 1 is required")).to_be_checked()
    expect(page.get_by_label("Name of field 2")).to_have_value("service")
    expect(page.get_by_label("Choices of field 2")).to_have_value("cleaning, filling")
    expect(page.get_by_label("When a machine answers", exact=True)).to_have_text("Leave a message")
    expect(page.get_by_label("Voicemail message")).to_have_value("Hi {{name}}, Bright Smiles here: see you tomorrow.")
    expect(page.get_by_label("Transfer mode", exact=True)).to_contain_text("Warm")
    expect(page.get_by_label("Hold music", exact=True)).to_have_value("https://cdn.example.com/bright-smiles/hold.mp3")

    # Every field removed and the prompts emptied: back to the default plan (null).
    page.get_by_role("button", name="Remove field 2").click()
    page.get_by_role("button", name="Remove field 1").click()
    page.get_by_label("Summary instructions").fill("")
    page.get_by_label("Success rubric").fill("")
    _save(page)
    expect(page.get_by_text("Changes saved").first).to_be_visible(timeout=20_000)
    assert _stored_agent(agent_id).analysis_plan is None


# --- calls with an analysis --------------------------------------------------------------------

def _analysed_call(number: str, words: str, analysis: dict) -> uuid.UUID:
    """A finished phone call whose analysis is already done: stored in the transaction that ends
    the call, so the app's analysis loop never sees it pending."""
    from sqlalchemy import update

    from voice_platform.db import session_scope
    from voice_platform.models import CallSession
    from voice_platform.services import calls

    with session_scope() as session:
        routed = calls.open_phone_session(session, call_sid="CA" + uuid.uuid4().hex, from_number=CALLER,
                                          to_number=number)
    with session_scope() as session:
        calls.claim_session(session, routed.session_id, room_name="call-" + routed.session_id.hex)
        calls.record_turn(session, routed.session_id, "assistant", "Bright Smiles, how can I help?")
        calls.record_turn(session, routed.session_id, "user", words)
        calls.finish_session(session, routed.session_id, reason="caller_hangup", duration_seconds=64.0)
        session.execute(update(CallSession).where(CallSession.id == routed.session_id).values(
            analysis_status="done", analysis=analysis, analysis_success=analysis["success"]))
    return routed.session_id


BOOKED = {"summary": "Ada booked a cleaning for two on Friday.\nShe asked about parking too.",
          "data": {"party_size": 2, "service": "cleaning"}, "success": True,
          "success_reason": "An appointment was booked.", "sentiment": "positive", "model": "gemini-2.5-flash",
          "error": None}
NOT_BOOKED = {"summary": "A caller asked for prices and hung up.", "data": {"party_size": None, "service": None},
              "success": False, "success_reason": "No appointment was booked.", "sentiment": "neutral",
              "model": "gemini-2.5-flash", "error": None}
PLAN = {"summary_prompt": None, "success_rubric": "An appointment was booked.", "fields": [
    {"name": "party_size", "type": "integer", "description": "", "required": False},
    {"name": "service", "type": "enum", "description": "", "required": False, "choices": ["cleaning", "filling"]},
]}


def test_the_calls_list_and_a_call_page_show_the_analysis_and_re_run_it(page: Page):
    email, _org, _agent, number = _account("After Calls Co", PLAN)
    booked = _analysed_call(number, "Two of us for a cleaning on Friday, please.", BOOKED)
    _analysed_call(number, "How much is a filling?", NOT_BOOKED)

    sign_in(page, email)
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Calls").click()
    page.wait_for_url(route("/calls"))
    wait_hydrated(page)
    rows = page.get_by_test_id("call-row")
    expect(rows).to_have_count(2)
    expect(page.get_by_test_id("success-badge")).to_have_count(2)
    expect(rows.filter(has_text="Ada booked a cleaning for two on Friday.")).to_contain_text("Successful")
    expect(rows.filter(has_text="She asked about parking")).to_have_count(0)  # the first line only
    expect(rows.filter(has_text="A caller asked for prices")).to_contain_text("Unsuccessful")

    page.get_by_label("Success filter").click()
    page.get_by_role("option", name="Successful", exact=True).click()
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Ada booked a cleaning")

    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    exported = list(csv.DictReader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
    assert [(r["id"], r["success"], r["party_size"], r["service"], r["sentiment"]) for r in exported] == [
        (str(booked), "true", "2", "cleaning", "positive")]  # the filtered list, with its fields

    rows.get_by_role("link").click()
    page.wait_for_url(route(f"/calls/{booked}"))
    wait_hydrated(page)
    card = page.get_by_test_id("call-analysis")
    expect(card.get_by_test_id("analysis-status")).to_have_text("Analysed")
    expect(card.get_by_test_id("analysis-summary")).to_contain_text("She asked about parking too.")
    expect(card.get_by_test_id("success-badge")).to_have_text("Successful")
    expect(card.get_by_test_id("success-reason")).to_have_text("An appointment was booked.")
    expect(card.get_by_test_id("sentiment")).to_have_text("positive")
    expect(card.locator('[data-field="party_size"]')).to_contain_text("2")
    expect(card.locator('[data-field="service"]')).to_contain_text("cleaning")
    expect(card).to_contain_text("gemini-2.5-flash")

    card.get_by_role("button", name="Re-run analysis").click()
    expect(card.get_by_test_id("analysis-status")).to_contain_text("Analysing")
    expect(card.get_by_role("button", name="Re-run analysis")).to_have_count(0)
    # The app's Gemini endpoint cannot answer (see the module's docstring): after its three
    # attempts the analysis has failed, and the open page shows why without a reload.
    expect(card.get_by_test_id("analysis-status")).to_have_text("Analysis failed", timeout=45_000)
    expect(card.get_by_test_id("analysis-error")).to_contain_text("Gemini")
    expect(card.get_by_role("button", name="Re-run analysis")).to_be_visible()


# --- call summaries by e-mail (account page) ---------------------------------------------------

def _subscription(email: str, org_id: uuid.UUID):
    from sqlmodel import select

    from voice_platform.db import session_scope
    from voice_platform.models import CallSummarySubscription, User

    with session_scope() as session:
        user = session.exec(select(User).where(User.email == email)).one()
        return session.exec(select(CallSummarySubscription).where(
            CallSummarySubscription.user_id == user.id, CallSummarySubscription.organization_id == org_id)).first()


def test_subscribe_to_call_summaries_of_chosen_agents_and_unsubscribe(page: Page):
    """The shared app sends mail (the fake SMTP server), so the card offers the subscription."""
    email, org_id, agent_id, _number = _account("Summaries Co")
    sign_in(page, email)
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Account").click()
    page.wait_for_url(route("/account"))
    wait_hydrated(page)
    status = page.get_by_test_id("summaries-subscribed")
    expect(status).to_have_text("Not subscribed")

    page.get_by_label("Chosen agents").click()
    page.get_by_role("button", name="Subscribe to summaries").click()
    expect(page.get_by_text("Tick at least one agent")).to_be_visible()
    page.get_by_label("Summaries of Front desk").click()
    page.get_by_role("button", name="Subscribe to summaries").click()
    expect(status).to_have_text("Subscribed: 1 agent")
    assert _subscription(email, org_id).agent_ids == [str(agent_id)]

    page.reload()
    wait_hydrated(page)
    expect(status).to_have_text("Subscribed: 1 agent")
    expect(page.get_by_label("Summaries of Front desk")).to_be_checked()
    page.get_by_label("Every agent").click()
    expect(page.get_by_label("Summaries of Front desk")).to_have_count(0)
    page.get_by_role("button", name="Save summary choice").click()
    expect(status).to_have_text("Subscribed: every agent")
    assert _subscription(email, org_id).agent_ids is None
    page.get_by_role("button", name="Unsubscribe from summaries").click()
    expect(status).to_have_text("Not subscribed")
    assert _subscription(email, org_id) is None
