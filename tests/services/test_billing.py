"""Billing: metering exactly once, the concurrency and minute limits where calls start, plan limits.

The races run on PostgreSQL (each caller on its own connection, as several web processes and
the worker would be); on SQLite, which has one writer, they still must give the same counts.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select

from tests.support.api import create_agent, set_plan, signup, unique_phone
from tests.telephony.voice_support import call_params, post, spoken, twiml, voice_settings  # noqa: F401 - fixture
from voice_platform.db import get_engine, session_scope
from voice_platform.errors import PermissionDenied, QuotaExceeded
from voice_platform.models import BillingEvent, CallSession, Subscription, User
from voice_platform.models.base import utcnow
from voice_platform.services import billing, calls
from voice_platform.telephony import twiml as texts

INCOMING = "/api/v1/voice/twilio/incoming"
STATUS = "/api/v1/voice/twilio/status"


@pytest.fixture()
def line(client):
    """An organization on the Free plan (2 concurrent calls, 60 minutes, capped) with one agent."""
    admin = signup(client, "billing")
    set_plan(client, admin, "free")
    agent = create_agent(client, admin, phone_number=unique_phone())
    return admin, agent


def _route(call_sid: str, to: str) -> calls.RoutedCall:
    from tests.support.calls import open_session_alone

    return open_session_alone(call_sid, "+15550001111", to)


def _sub(org_id: str) -> Subscription:
    with session_scope() as s:
        sub = s.exec(select(Subscription).where(Subscription.organization_id == uuid.UUID(org_id))).one()
        s.expunge(sub)
        return sub


def _answer_and_end(session_id, seconds: float, *, via: str = "worker") -> None:
    with session_scope() as s:
        calls.claim_session(s, session_id)
    with session_scope() as s:
        call = s.get(CallSession, session_id)
        ended = call.answered_at + timedelta(seconds=seconds)
        calls.finish_session(s, session_id, reason="caller_hangup", ended_at=ended, duration_seconds=seconds)


def _events(org_id: str, kind: str = "call_minutes") -> list[BillingEvent]:
    with session_scope() as s:
        rows = s.exec(select(BillingEvent).where(BillingEvent.organization_id == uuid.UUID(org_id),
                                                 BillingEvent.event_type == kind)).all()
        for r in rows:
            s.expunge(r)
        return list(rows)


@pytest.mark.parametrize(("seconds", "minutes"), [(0, 0), (0.4, 1), (1, 1), (59.9, 1), (60, 1), (60.5, 2), (600, 10)])
def test_minutes_are_rounded_up_per_started_minute(seconds, minutes):
    assert billable_minutes(seconds) == minutes


billable_minutes = billing.billable_minutes


def test_a_call_is_metered_once_when_twilio_retries_and_races_the_worker(client, line, test_database, voice_settings):
    admin, agent = line
    params = call_params(agent["phone_number"])
    routed = _route(params["CallSid"], agent["phone_number"])
    with session_scope() as s:
        calls.claim_session(s, routed.session_id)
    barrier, errors = threading.Barrier(6), []

    def worker_ends() -> None:
        barrier.wait()
        try:
            with session_scope() as s:
                calls.finish_session(s, routed.session_id, reason="caller_hangup", duration_seconds=125)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    def twilio_says(n: int) -> None:
        barrier.wait()
        try:
            r = post(client, STATUS, {**params, "CallStatus": "completed", "CallDuration": "125"})
            assert r.status_code == 200
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker_ends), threading.Thread(target=worker_ends)]
    threads += [threading.Thread(target=twilio_says, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    metered = _events(admin.org_id)
    assert [(e.quantity, e.external_id, e.call_session_id) for e in metered] == [
        (3, f"call:{routed.session_id}", routed.session_id)]
    sub = _sub(admin.org_id)
    assert (sub.minutes_used, sub.active_calls) == (3, 0)
    # a status callback retried later changes nothing
    post(client, STATUS, {**params, "CallStatus": "completed", "CallDuration": "125"})
    assert len(_events(admin.org_id)) == 1 and _sub(admin.org_id).minutes_used == 3


def test_n_plus_5_simultaneous_calls_against_a_limit_of_n_dial_exactly_n(client, line, test_database, voice_settings):
    admin, agent = line
    set_plan(client, admin, "starter")  # 10 concurrent calls
    limit = 10
    barrier, results, errors = threading.Barrier(limit + 5), [], []

    def ring() -> None:
        barrier.wait()
        try:
            results.append(_route("CA" + uuid.uuid4().hex, agent["phone_number"]))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=ring) for _ in range(limit + 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    dialed = [r for r in results if r.session_id is not None]
    refused = [r.refusal for r in results if r.session_id is None]
    assert len(dialed) == limit and refused == ["over_concurrency"] * 5
    assert _sub(admin.org_id).active_calls == limit
    # one call ends: exactly one more caller gets through
    _answer_and_end(dialed[0].session_id, 30)
    assert _route("CA" + uuid.uuid4().hex, agent["phone_number"]).session_id is not None
    assert _route("CA" + uuid.uuid4().hex, agent["phone_number"]).refusal == "over_concurrency"


def test_the_caller_hears_that_the_lines_are_busy(client, line, voice_settings):
    _admin, agent = line
    for _ in range(2):  # Free: 2 concurrent calls
        assert twiml(post(client, INCOMING, call_params(agent["phone_number"]))).find("Dial") is not None
    root = twiml(post(client, INCOMING, call_params(agent["phone_number"])))
    assert spoken(root) == texts.ALL_LINES_BUSY


def test_a_retried_call_sid_takes_no_second_slot(client, line, voice_settings):
    admin, agent = line
    params = call_params(agent["phone_number"])
    first = _route(params["CallSid"], agent["phone_number"])
    again = _route(params["CallSid"], agent["phone_number"])
    assert first.session_id == again.session_id and _sub(admin.org_id).active_calls == 1


def test_a_session_whose_end_was_lost_gives_its_slot_back(client, line, voice_settings):
    admin, agent = line
    held = [_route("CA" + uuid.uuid4().hex, agent["phone_number"]).session_id for _ in range(2)]
    assert _route("CA" + uuid.uuid4().hex, agent["phone_number"]).refusal == "over_concurrency"
    with session_scope() as s:  # Twilio's callbacks for the first call never came
        s.get(CallSession, held[0]).started_at = utcnow() - billing.PENDING_STALE - timedelta(minutes=1)
    routed = _route("CA" + uuid.uuid4().hex, agent["phone_number"])
    assert routed.session_id is not None
    with session_scope() as s:
        lost = s.get(CallSession, held[0])
        assert (lost.status, lost.end_reason) == ("failed", "lost")
    assert _sub(admin.org_id).active_calls == 2 and _events(admin.org_id) == []


def test_the_minute_cap_refuses_calls_until_the_period_rolls_over(client, line, voice_settings):
    admin, agent = line
    with session_scope() as s:
        sub = s.exec(select(Subscription).where(Subscription.organization_id == uuid.UUID(admin.org_id))).one()
        sub.minutes_used = 60  # Free: capped at 60
    root = twiml(post(client, INCOMING, call_params(agent["phone_number"])))
    assert spoken(root) == texts.UNAVAILABLE
    assert _route("CA" + uuid.uuid4().hex, agent["phone_number"]).refusal == "minutes_exhausted"
    with session_scope() as s:  # the period ends
        sub = s.exec(select(Subscription).where(Subscription.organization_id == uuid.UUID(admin.org_id))).one()
        sub.current_period_start -= timedelta(days=40)
        sub.current_period_end = utcnow() - timedelta(minutes=1)
    routed = _route("CA" + uuid.uuid4().hex, agent["phone_number"])
    assert routed.session_id is not None
    _answer_and_end(routed.session_id, 61)
    sub = _sub(admin.org_id)
    assert sub.minutes_used == 2 and sub.current_period_end.replace(tzinfo=timezone.utc) > utcnow()
    assert len(_events(admin.org_id, "period_started")) == 1


def test_overage_is_priced_on_the_minutes_past_the_included_ones(client, line, voice_settings):
    admin, agent = line
    set_plan(client, admin, "starter")  # 1000 included, 9 cents a minute after
    with session_scope() as s:
        sub = s.exec(select(Subscription).where(Subscription.organization_id == uuid.UUID(admin.org_id))).one()
        sub.minutes_used = 998
    routed = _route("CA" + uuid.uuid4().hex, agent["phone_number"])
    _answer_and_end(routed.session_id, 5 * 60)
    [event] = _events(admin.org_id)
    assert (event.quantity, event.amount_cents, event.payload["overage_minutes"]) == (5, 3 * 9, 3)
    body = client.get(f"/api/v1/organizations/{admin.org_id}/billing", headers=admin.headers).json()
    assert (body["minutes_used"], body["overage_minutes"], body["overage_cents"]) == (1003, 3, 27)
    assert body["projected_minutes"] >= 1003 and body["usage_per_day"][-1]["minutes"] == 5


def test_a_call_the_worker_never_answered_is_not_metered(client, line, voice_settings):
    admin, agent = line
    params = call_params(agent["phone_number"])
    _route(params["CallSid"], agent["phone_number"])
    post(client, STATUS, {**params, "CallStatus": "no-answer", "CallDuration": "0"})
    assert _events(admin.org_id) == [] and _sub(admin.org_id).active_calls == 0


def test_test_chats_take_no_slot_and_are_not_metered(client, line):
    admin, agent = line
    with session_scope() as s:
        user = s.get(User, uuid.UUID(admin.user_id))
        chat = calls.open_test_session(s, user, uuid.UUID(agent["id"]))
        chat_id = chat.id
    with session_scope() as s:
        calls.finish_session(s, chat_id, reason="agent_ended", duration_seconds=300)
    assert _events(admin.org_id) == [] and _sub(admin.org_id).active_calls == 0


def test_agents_beyond_the_plan_are_refused_with_a_clear_message(client, line):
    admin, _agent = line
    create_agent(client, admin)
    create_agent(client, admin)
    r = client.post("/api/v1/agents", json={"organization_id": admin.org_id, "name": "Fourth"}, headers=admin.headers)
    assert r.status_code == 402 and "Free plan allows 3 agents" in r.json()["detail"]
    r = client.put(f"/api/v1/organizations/{admin.org_id}/billing/plan", json={"plan": "starter"}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["plan"]["id"] == "starter"
    create_agent(client, admin, name="Fourth")
    r = client.put(f"/api/v1/organizations/{admin.org_id}/billing/plan", json={"plan": "free"}, headers=admin.headers)
    assert r.status_code == 402 and "delete agents first" in r.json()["detail"]


def test_changing_plan_is_an_org_admin_action_recorded_as_a_billing_event(client, line):
    from tests.support.api import add_member

    admin, _agent = line
    member = add_member(client, admin)
    r = client.put(f"/api/v1/organizations/{admin.org_id}/billing/plan", json={"plan": "pro"}, headers=member.headers)
    assert r.status_code == 403
    r = client.put(f"/api/v1/organizations/{admin.org_id}/billing/plan", json={"plan": "gold"}, headers=admin.headers)
    assert r.status_code == 422 and "Unknown plan" in r.text
    set_plan(client, admin, "pro")
    first, second = sorted(_events(admin.org_id, "plan_changed"), key=lambda e: e.created_at)
    assert [(e.payload["from"], e.payload["to"]) for e in (first, second)] == [("pro", "free"), ("free", "pro")]
    page = client.get(f"/api/v1/organizations/{admin.org_id}/billing/events", headers=member.headers).json()
    assert page["total"] == 2 and page["items"][0]["event_type"] == "plan_changed"
    log = client.get(f"/api/v1/organizations/{admin.org_id}/audit-log?action=plan.changed", headers=admin.headers).json()
    assert [(e["changes"]["before"], e["changes"]["after"]) for e in log["items"]] == [
        ({"plan": "free"}, {"plan": "pro"}), ({"plan": "pro"}, {"plan": "free"})]  # once each, newest first
    stranger = signup(client, "stranger")
    r = client.get(f"/api/v1/organizations/{admin.org_id}/billing", headers=stranger.headers)
    assert r.status_code == 404


def test_simultaneous_agent_creations_cannot_exceed_the_plan(client, line, test_database):
    admin, _agent = line
    barrier, codes = threading.Barrier(6), []

    def make(i: int) -> None:
        barrier.wait()
        r = client.post("/api/v1/agents", json={"organization_id": admin.org_id, "name": f"A{i}"}, headers=admin.headers)
        codes.append(r.status_code)

    threads = [threading.Thread(target=make, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(codes) == [201, 201] + [402] * 4


def test_periods_roll_by_calendar_month_and_clamp_to_the_month_end():
    start = datetime(2026, 1, 31, 12, tzinfo=timezone.utc)
    assert billing.add_months(start, 1) == datetime(2026, 2, 28, 12, tzinfo=timezone.utc)
    assert billing._period_containing(start, datetime(2026, 4, 15, tzinfo=timezone.utc)) == (
        datetime(2026, 3, 31, 12, tzinfo=timezone.utc), datetime(2026, 4, 30, 12, tzinfo=timezone.utc))


def test_calls_written_together_get_what_each_would_get_alone(client, line, voice_settings):
    """The session writer's batch (one transaction; on PostgreSQL one pipelined round trip), in
    order: both slots held by lost sessions, so every call of the batch is first refused; the first
    call makes room (both lost sessions closed) and the next new call takes the other freed slot,
    as it would have alone; a retry inside the batch, the limit reached again, an unknown and a
    garbage number, a switched-off agent."""
    admin, agent = line  # Free: 2 concurrent calls
    other_admin = signup(client, "billing-off")
    off = create_agent(client, other_admin, phone_number=unique_phone(), is_active=False)
    lost = [_route("CA" + uuid.uuid4().hex, agent["phone_number"]).session_id for _ in range(2)]
    with session_scope() as s:  # their callbacks never came
        for session_id in lost:
            s.get(CallSession, session_id).started_at = utcnow() - billing.PENDING_STALE - timedelta(minutes=1)
    first = "CA" + uuid.uuid4().hex
    waiting = [(first, "+15550001111", agent["phone_number"], None),
               (first, "+15550001111", agent["phone_number"], None),  # Twilio's retry, in the same batch
               ("CA" + uuid.uuid4().hex, "+15550001111", "+19995550123", None),
               ("CA" + uuid.uuid4().hex, "+15550001111", "garbage", None),
               ("CA" + uuid.uuid4().hex, "+15550001111", off["phone_number"], None),
               ("CA" + uuid.uuid4().hex, "+15550001111", agent["phone_number"], None),  # the second freed slot
               ("CA" + uuid.uuid4().hex, "+15550001111", agent["phone_number"], None)]  # over the limit
    with get_engine().connect() as conn, conn.begin():
        routed = calls.open_phone_sessions(conn, waiting)
    assert routed[0].session_id is not None and routed[1].session_id == routed[0].session_id
    assert [r.refusal for r in routed[2:5]] == ["unknown_number", "invalid_number", "inactive_agent"]
    assert routed[5].session_id is not None and routed[6].refusal == "over_concurrency"
    assert _sub(admin.org_id).active_calls == 2
    with session_scope() as s:
        assert [s.get(CallSession, session_id).end_reason for session_id in lost] == ["lost", "lost"]
        sids = [w[0] for w in waiting]
        rows = s.exec(select(CallSession).where(CallSession.provider_call_id.in_(sids))).all()
        assert sorted(str(r.id) for r in rows) == sorted({str(r.session_id) for r in routed if r.session_id})


def test_the_declared_plan_ids_are_the_plans_the_migrations_made(session):
    """The API's schema offers ``billing.PLAN_IDS``: exactly the plans a database has."""
    from sqlmodel import select

    from voice_platform.models import Plan

    assert sorted(session.exec(select(Plan.id)).all()) == sorted(billing.PLAN_IDS)
