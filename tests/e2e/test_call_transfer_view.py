"""The call page in a real browser: a warm transfer's stages in order, with times and the outcome,
and an outbound call's answering-machine verdict.

The transfer is played through ``services.warm_transfer`` in the test process, as Twilio's
webhooks and the worker would move it (the app shares the test database): a first attempt the
person declines (the caller goes back to the agent, which resumes), then a second the person
takes by pressing 1.
"""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PASSWORD, route, sign_in, wait_hydrated

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("patient_expect")]

PERSON = "+15557654321"
CALLER = "+15550002222"
CALLEE = "+15550004444"
BRIEFING = "Ada Lovelace wants to move Tuesday's appointment to Friday; Friday at 10 is free."


def _organization() -> tuple[str, uuid.UUID, str]:
    from voice_platform.db import session_scope
    from voice_platform.services import agents, auth

    email = f"transfer-{uuid.uuid4().hex[:10]}@example.com"
    number = "+1415" + str(uuid.uuid4().int)[:7]
    with session_scope() as session:
        signed, org = auth.signup(session, email=email, password=PASSWORD, organization_name="Transfer Co")
        agents.create_agent(session, signed.user, org.id, {"name": "Front desk", "phone_number": number,
                                                           "transfer_number": PERSON, "transfer_mode": "warm"})
    return email, org.id, number


def _transferred_call(agent_number: str) -> uuid.UUID:
    """A caller's call: declined once (back to the agent, resumed), then taken on the second try."""
    from voice_platform.db import session_scope
    from voice_platform.services import calls, warm_transfer as wt

    with session_scope() as session:
        routed = calls.open_phone_session(session, call_sid="CA" + uuid.uuid4().hex, from_number=CALLER,
                                          to_number=agent_number)
    call_id = routed.session_id
    with session_scope() as session:
        calls.claim_session(session, call_id, room_name="call-transfer-e2e")
        calls.record_turn(session, call_id, "user", "Can I talk to someone about my appointment?")
    for attempt, digits in ((1, "2"), (2, "1")):
        with session_scope() as session:
            assert wt.begin(session, call_id, BRIEFING).attempt == attempt
        with session_scope() as session:
            assert wt.waiting(session, call_id, attempt)[0] == "call_person"
        with session_scope() as session:
            assert wt.briefing_for(session, call_id, attempt) == BRIEFING
        with session_scope() as session:
            wt.person_answered(session, call_id, attempt, digits)
        if digits != "1":
            with session_scope() as session:
                assert wt.returning_leg(session, call_id, attempt) is not None
            with session_scope() as session:
                wt.resume(session, call_id, wt.resume_token(call_id, attempt), room_name="call-transfer-back")
    return call_id


def _voicemail_call(org_id: uuid.UUID, agent_number: str) -> uuid.UUID:
    """An outbound call a machine answered (Twilio's AnsweredBy), closed as voicemail."""
    from sqlmodel import select

    from voice_platform.db import session_scope
    from voice_platform.models import CallSession, VoiceAgent
    from voice_platform.models.base import utcnow

    with session_scope() as session:
        agent = session.exec(select(VoiceAgent).where(VoiceAgent.organization_id == org_id)).one()
        call = CallSession(organization_id=org_id, agent_id=agent.id, direction="outbound", status="completed",
                           from_number=agent_number, to_number=CALLEE, answered_by="machine_end_beep",
                           started_at=utcnow(), ended_at=utcnow(), duration_seconds=12, end_reason="voicemail",
                           provider_call_id="CA" + uuid.uuid4().hex)
        session.add(call)
        session.flush()
        return call.id


def _open_call(page: Page, party: str, call_id: uuid.UUID) -> None:
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Calls", exact=True).click()
    page.wait_for_url(route("/calls"))
    wait_hydrated(page)
    page.get_by_test_id("call-row").filter(has_text=party).get_by_role("link").click()
    page.wait_for_url(route(f"/calls/{call_id}"))
    wait_hydrated(page)


def test_the_call_page_shows_the_transfer_stages_and_the_answering_machine(page: Page):
    email, org_id, agent_number = _organization()
    transferred = _transferred_call(agent_number)
    voicemail = _voicemail_call(org_id, agent_number)
    sign_in(page, email)

    _open_call(page, CALLER, transferred)
    card = page.get_by_test_id("transfer-card")
    expect(card).to_be_visible()
    expect(card.get_by_test_id("transfer-outcome")).to_have_text("Transferred: the person took the call")
    expect(card.get_by_test_id("transfer-person")).to_contain_text(PERSON)
    expect(card.get_by_test_id("transfer-briefing")).to_have_text(BRIEFING)
    expect(card.get_by_test_id("transfer-stage-label")).to_have_text([
        "Caller put on hold", "Calling the person", "Briefing the person", "Person declined",
        "Caller sent back to the agent", "Agent resumed the conversation",
        "Caller put on hold", "Calling the person", "Briefing the person", "Person took the call",
    ])
    stages = card.get_by_test_id("transfer-stage")
    expect(stages.nth(3).get_by_test_id("transfer-stage-detail")).to_have_text("pressed 2")
    expect(stages.nth(0)).to_contain_text("attempt 1")
    expect(stages.nth(9)).to_contain_text("attempt 2")
    times = card.get_by_test_id("transfer-stage-at").all_inner_texts()
    assert len(times) == 10 and all(len(t) == 8 and t.count(":") == 2 for t in times), times
    assert times == sorted(times)  # in the order they happened
    expect(page.get_by_text("Answered by")).to_have_count(0)  # an inbound call has no such verdict

    _open_call(page, CALLEE, voicemail)
    expect(page.get_by_text("Answered by")).to_be_visible()
    expect(page.get_by_text("Answering machine (after the beep)")).to_be_visible()
    expect(page.get_by_test_id("transfer-card")).to_have_count(0)
