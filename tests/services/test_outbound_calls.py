"""Placing one outbound call (services/outbound_calls.py) with the real twilio Client against the
fake Twilio REST server, reached through TWILIO_API_BASE_URL (no monkeypatch of the adapter)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import update
from sqlmodel import select

from tests.conftest import unique_email
from tests.fakes.twilio_rest import PUBLIC_URL, no_twilio, twilio  # noqa: F401 - fixtures
from voice_platform.db import session_scope
from voice_platform.errors import NotFound, PermissionDenied, ValidationFailed
from voice_platform.models import Campaign, CampaignContact, CallSession, Subscription, VoiceAgent
from voice_platform.models.base import utcnow
from voice_platform.services import agents, auth, do_not_call, outbound_calls, organizations
from voice_platform.telephony.twilio_rest import TwilioNotConfigured, TwilioUnavailable

SIP_DOMAIN = "vp-test.sip.livekit.cloud"
CALLEE = "+14155550199"


@pytest.fixture()
def outbound(twilio, monkeypatch):  # noqa: F811 - the fixture above
    """Twilio (the fake) and LiveKit SIP configured."""
    from voice_platform.settings import reset_settings_cache

    monkeypatch.setenv("LIVEKIT_SIP_DOMAIN", SIP_DOMAIN)
    reset_settings_cache()
    yield twilio


def _org(number: str | None = "+14155550123", **agent_fields):
    with session_scope() as session:
        signed, org = auth.signup(session, email=unique_email("out"), password="outbound password 1",
                                  organization_name="Outbound")
        fields = {"name": "Caller", **({"phone_number": number} if number else {}), **agent_fields}
        agent = agents.create_agent(session, signed.user, org.id, fields)
    return signed.user, org.id, agent.id


def _call(call_id) -> CallSession:
    with session_scope() as session:
        return session.get(CallSession, call_id)


def _active_calls(org_id) -> int:
    with session_scope() as session:
        return session.exec(select(Subscription.active_calls).where(Subscription.organization_id == org_id)).one()


def test_placing_reaches_twilio_with_the_agent_number_our_signed_url_and_machine_detection(outbound):
    user, org_id, agent_id = _org()
    placed = outbound_calls.place_call(user, agent_id, CALLEE, {"name": "Ada", "visits": 3})

    [request] = outbound.requests_to("POST", "/Calls.json")
    form, lists = request["form"], request["form_lists"]
    assert (form["To"], form["From"], form["Method"]) == (CALLEE, "+14155550123", "POST")
    assert form["Url"] == f"{PUBLIC_URL}/api/v1/voice/twilio/outbound?session={placed.call_id}"
    assert form["StatusCallback"] == f"{PUBLIC_URL}/api/v1/voice/twilio/outbound-status?session={placed.call_id}"
    assert lists["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert (form["MachineDetection"], form["AsyncAmd"], form["AsyncAmdStatusCallbackMethod"]) == (
        "DetectMessageEnd", "true", "POST")
    assert parse_qs(urlsplit(form["AsyncAmdStatusCallback"]).query) == {"session": [str(placed.call_id)]}
    assert form["Timeout"] == "25"

    call = _call(placed.call_id)
    assert (call.status, call.kind, call.direction, call.from_number, call.to_number) == (
        "pending", "phone", "outbound", "+14155550123", CALLEE)
    assert call.provider_call_id == placed.provider_call_id == outbound.placed()[0]["sid"]
    assert call.variables == {"name": "Ada", "visits": 3} and call.started_at is not None
    assert _active_calls(org_id) == 1  # the same slot an inbound call takes


def test_a_campaign_contact_gets_the_call_id_in_the_transaction_that_opens_it(outbound):
    user, org_id, agent_id = _org()
    with session_scope() as session:
        campaign = Campaign(organization_id=org_id, agent_id=agent_id, name="Reminders", status="running")
        session.add(campaign)
        session.flush()
        contact = CampaignContact(campaign_id=campaign.id, position=0, to_number=CALLEE, state="calling", attempts=1)
        session.add(contact)
        session.flush()
        contact_id = contact.id
    placed = outbound_calls.open_and_dial(org_id, agent_id, CALLEE, {"name": "Ada"}, campaign_contact_id=contact_id)
    with session_scope() as session:
        assert session.get(CampaignContact, contact_id).last_call_id == placed.call_id
    assert _call(placed.call_id).campaign_contact_id == contact_id


def test_twilio_down_fails_the_session_and_gives_its_slot_back(outbound):
    user, org_id, agent_id = _org()
    outbound.fail_with = 500
    with pytest.raises(TwilioUnavailable) as raised:
        outbound_calls.place_call(user, agent_id, CALLEE)
    assert raised.value.status_code == 502
    with session_scope() as session:
        [call] = session.exec(select(CallSession).where(CallSession.organization_id == org_id)).all()
    assert (call.status, call.end_reason, call.provider_call_id) == ("failed", "dial_failed", None)
    assert "Twilio could not place the call" in call.error
    assert _active_calls(org_id) == 0


def test_do_not_call_and_a_full_plan_open_nothing_and_never_ask_twilio(outbound):
    user, org_id, agent_id = _org()
    with session_scope() as session:
        do_not_call.add(session, user, org_id, CALLEE)
    with pytest.raises(outbound_calls.OnDoNotCallList) as listed:
        outbound_calls.place_call(user, agent_id, "+1 (415) 555-0199")
    assert listed.value.status_code == 409 and "do-not-call" in listed.value.message

    with session_scope() as session:  # every line of the plan in use
        session.execute(update(Subscription).where(Subscription.organization_id == org_id).values(active_calls=20))
    with pytest.raises(outbound_calls.SlotRefused) as full:
        outbound_calls.place_call(user, agent_id, "+14155550188")
    assert (full.value.status_code, full.value.reason) == (429, "over_concurrency")
    assert outbound.requests_to("POST", "/Calls.json") == []
    with session_scope() as session:
        assert session.exec(select(CallSession).where(CallSession.organization_id == org_id)).all() == []


def test_the_agent_must_be_callable_and_of_the_organization(outbound):
    user, org_id, agent_id = _org(number=None)
    with pytest.raises(ValidationFailed, match="needs a phone number to call from"):
        outbound_calls.place_call(user, agent_id, CALLEE)
    _user2, org2, agent2 = _org(number="+14155550124", is_active=False)
    with pytest.raises(outbound_calls.AgentSwitchedOff):
        outbound_calls.open_and_dial(org2, agent2, CALLEE)
    with pytest.raises(NotFound):  # another organization's agent: not found, whoever asks
        outbound_calls.open_and_dial(org_id, agent2, CALLEE)
    with pytest.raises(NotFound):
        outbound_calls.place_call(user, agent2, CALLEE)
    with pytest.raises(NotFound):
        outbound_calls.place_call(user, uuid.uuid4(), CALLEE)
    with pytest.raises(ValidationFailed, match="E.164"):
        outbound_calls.place_call(user, agent_id, "0415 555 0199")
    assert outbound.requests_to("POST", "/Calls.json") == []


def test_a_member_may_not_place_calls(outbound):
    admin, org_id, agent_id = _org()
    with session_scope() as session:
        member, _ = auth.signup(session, email=unique_email("member"), password="member password 12")
        organizations.add_member(session, admin, org_id, email=member.user.email, role="member")
    with pytest.raises(PermissionDenied):
        outbound_calls.place_call(member.user, agent_id, CALLEE)


def test_without_twilio_nothing_is_opened(no_twilio, monkeypatch):  # noqa: F811
    monkeypatch.setenv("LIVEKIT_SIP_DOMAIN", SIP_DOMAIN)
    user, org_id, agent_id = _org()
    with pytest.raises(TwilioNotConfigured):
        outbound_calls.place_call(user, agent_id, CALLEE)
    assert _active_calls(org_id) == 0


@pytest.mark.parametrize("variables, ok", [
    ({}, True), (None, True), ({"name": "Ada", "n": 1, "x": 1.5, "vip": True, "note": None}, True),
    ({f"v{i}": i for i in range(50)}, True), ({f"v{i}": i for i in range(51)}, False),
    ({"1st": "x"}, False), ({"first name": "x"}, False), ({"a" * 65: "x"}, False),
    ({"name": {"nested": 1}}, False), ({"name": [1]}, False), ({"name": "x" * 501}, False),
    ({"name": "a\x00b"}, False), ({"name": "\ud800"}, False), ({"name": float("nan")}, False), (["a"], False),
])
def test_variables_are_a_flat_object_of_scalars(variables, ok):
    if ok:
        assert outbound_calls.validate_variables(variables) == (variables or {})
    else:
        with pytest.raises(ValidationFailed):
            outbound_calls.validate_variables(variables)


def test_a_session_never_dialed_is_failed_after_two_minutes_and_frees_its_slot(outbound):
    user, org_id, agent_id = _org()
    placed = outbound_calls.place_call(user, agent_id, CALLEE)
    with session_scope() as session:
        agent = session.get(VoiceAgent, agent_id)
        now = utcnow()
        stale, fresh = (CallSession(organization_id=org_id, agent_id=agent.id, direction="outbound", status="pending",
                                    from_number=agent.phone_number, to_number=CALLEE, started_at=now - age)
                        for age in (timedelta(minutes=3), timedelta(minutes=1)))
        session.add_all([stale, fresh])
        session.execute(update(Subscription).where(Subscription.organization_id == org_id)
                        .values(active_calls=Subscription.active_calls + 2))
    assert outbound_calls.sweep_undialed() == 1
    assert (_call(stale.id).status, _call(stale.id).end_reason) == ("failed", "never_dialed")
    assert _call(fresh.id).status == "pending" and _call(placed.call_id).status == "pending"  # dialed: Twilio's
    assert _active_calls(org_id) == 2
    assert outbound_calls.sweep_undialed() == 0


def test_an_outbound_call_is_traced_from_its_placing_and_the_session_keeps_the_trace(outbound):
    """As an inbound call's trace starts at its webhook, an outbound call's starts where it is placed;
    the session's traceparent is what the worker continues (``telemetry.continue_trace``)."""
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from tests.telemetry.support import reset_telemetry
    from voice_platform import telemetry

    spans = InMemorySpanExporter()
    reset_telemetry()
    telemetry.setup("web", span_exporter=spans)
    try:
        user, _org_id, agent_id = _org()
        placed = outbound_calls.place_call(user, agent_id, CALLEE)
        with telemetry.continue_trace(_call(placed.call_id).trace_context, "call.worker_job"):
            pass
        placing, worker = spans.get_finished_spans()
        assert placing.name == "call.outbound.place" and worker.name == "call.worker_job"
        assert placing.attributes["call.session_id"] == str(placed.call_id)
        assert worker.context.trace_id == placing.context.trace_id and worker.parent.span_id == placing.context.span_id
        assert CALLEE not in str(dict(placing.attributes))  # numbers never go on a span
    finally:
        reset_telemetry()


def test_the_never_dialed_sweep_reads_its_partial_index_not_the_call_table(test_database):
    """The dialer's holder sweeps every few seconds: on a table of millions of calls that must not
    be a scan. Without sequential scans allowed, PostgreSQL's plan for the sweep's query is the
    partial index's (whose conditions are the query's own)."""
    if not test_database.is_postgres:
        pytest.skip("the plan of a PostgreSQL query")
    from sqlalchemy import text

    from voice_platform.db import get_engine

    query = outbound_calls.undialed_query(utcnow()).compile(get_engine(), compile_kwargs={"literal_binds": True})
    with get_engine().connect() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(conn.execute(text(f"EXPLAIN {query}")).scalars())
        conn.rollback()
    assert "ix_call_sessions_undialed" in plan, plan
