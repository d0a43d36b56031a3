"""The campaign dialer against the fake Twilio (through TWILIO_API_BASE_URL, the real twilio Client),
calls played as Twilio plays them (signed callbacks into the app): the cap on calls in flight, the
do-not-call list, the window, retries, pause/resume/cancel, plan limits, one dialer at a time, and
what a restart finds."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from tests.fakes.twilio_rest import PUBLIC_URL, platform_on_fake
from tests.support.campaigns import (  # noqa: F401 - quiet_dialer: a fixture
    active_calls, calls_of, campaign, contacts, make_campaign, make_org, quiet_dialer, states,
)
from voice_platform.db import session_scope
from voice_platform.models import (
    AuditEvent, BackgroundLease, CallSession, CampaignContact, DoNotCallNumber, Subscription, VoiceAgent,
)
from voice_platform.models.base import aware, utcnow
from voice_platform.services import billing, campaigns, dialer

NUMBERS = ["+14155550101", "+14155550102", "+14155550103"]


@pytest.fixture()
def fake(monkeypatch, client):
    """Twilio and LiveKit SIP configured, Twilio's REST API a fresh fake; only the test's rounds dial."""
    with platform_on_fake(monkeypatch, PUBLIC_BASE_URL=PUBLIC_URL, LIVEKIT_SIP_DOMAIN="sip.example.com") as twilio:
        twilio.via = client
        yield twilio


def _sid_to(fake, number: str) -> list[str]:
    return [p["sid"] for p in fake.placed() if p["form"]["To"] == number]


def _in_flight(fake) -> int:
    return sum(1 for p in fake.placed() if fake.calls[p["sid"]]["status"] not in
               ("completed", "busy", "no-answer", "failed", "canceled"))


def _do_not_call(org, number: str) -> None:
    with session_scope() as session:
        session.add(DoNotCallNumber(organization_id=org.id, number=number, source="test"))


def test_three_contacts_one_at_a_time_the_listed_one_skipped(fake):
    org = make_org()
    _do_not_call(org, NUMBERS[1])
    campaign_id = make_campaign(org, NUMBERS, max_concurrent=1)
    first = dialer.run_once()
    assert (first.held, first.dialed, first.do_not_call) == (True, 1, 1)
    assert states(campaign_id) == ["calling", "do_not_call", "queued"]
    placed = fake.placed()[0]["form"]
    assert (placed["To"], placed["From"]) == (NUMBERS[0], org.agent_number)
    assert placed["MachineDetection"] == "DetectMessageEnd" and f"session={calls_of(campaign_id)[0].id}" in placed["Url"]
    call = calls_of(campaign_id)[0]
    assert (call.direction, call.variables, call.to_number) == ("outbound", {"name": "Person 0"}, NUMBERS[0])
    assert contacts(campaign_id)[0].last_call_id == call.id and contacts(campaign_id)[0].attempts == 1
    assert dialer.run_once().dialed == 0 and _in_flight(fake) == 1  # the one line is taken
    fake.play(_sid_to(fake, NUMBERS[0])[0], fake.via)
    assert states(campaign_id) == ["completed", "do_not_call", "queued"]
    assert dialer.run_once().dialed == 1 and _in_flight(fake) == 1
    fake.play(_sid_to(fake, NUMBERS[2])[0], fake.via)
    assert dialer.run_once().completed == 1
    done = campaign(campaign_id)
    assert done.status == "completed" and done.finished_at is not None
    assert _sid_to(fake, NUMBERS[1]) == [] and len(fake.placed()) == 2
    with session_scope() as session:
        shown = campaigns.view(session, org.user(session), org.id, campaign_id)
    assert {k: v for k, v in shown.counts.items() if v} == {"completed": 2, "do_not_call": 1}
    assert active_calls(org) == 0


def test_outside_its_window_nothing_is_dialed(fake):
    org = make_org(timezone="Europe/Berlin")
    campaign_id = make_campaign(org, NUMBERS, window={"days": ["mon"], "start": "09:00", "end": "17:00"})
    monday_7_utc = datetime(2030, 1, 7, 7, 30, tzinfo=timezone.utc)  # 08:30 in Berlin
    assert dialer.run_once(now=monday_7_utc).dialed == 0
    assert dialer.run_once(now=datetime(2030, 1, 8, 10, tzinfo=timezone.utc)).dialed == 0  # Tuesday
    assert fake.requests_to("POST", "/Calls.json") == [] and states(campaign_id) == ["queued"] * 3
    assert dialer.run_once(now=monday_7_utc + timedelta(hours=1)).dialed == 1  # 09:30 in Berlin


@pytest.mark.parametrize("outcome, state", [("no-answer", "no_answer"), ("busy", "busy")])
def test_no_answer_and_busy_are_called_again_after_the_delay(fake, outcome, state):
    org = make_org()
    campaign_id = make_campaign(org, NUMBERS[:1], retry={"attempts": 1, "delay_minutes": 10})
    dialer.run_once()
    fake.play(fake.placed()[0]["sid"], fake.via, outcome=outcome)
    again = contacts(campaign_id)[0]
    assert again.state == "queued" and again.attempts == 1
    assert aware(again.next_attempt_at) > utcnow() + timedelta(minutes=9)
    assert dialer.run_once().dialed == 0  # not due yet
    assert dialer.run_once(now=utcnow() + timedelta(minutes=11)).dialed == 1
    fake.play(fake.placed()[1]["sid"], fake.via, outcome=outcome)
    assert contacts(campaign_id)[0].state == state and contacts(campaign_id)[0].attempts == 2
    assert dialer.run_once(now=utcnow() + timedelta(hours=1)).completed == 1
    assert [c.end_reason for c in calls_of(campaign_id)] == [state, state]


def test_a_voicemail_is_not_retried(fake):
    org = make_org()
    campaign_id = make_campaign(org, NUMBERS[:1], retry={"attempts": 3, "delay_minutes": 1})
    dialer.run_once()
    fake.play(fake.placed()[0]["sid"], fake.via, answered_by="machine_end_beep")
    assert states(campaign_id) == ["voicemail"]
    assert dialer.run_once(now=utcnow() + timedelta(hours=1)).dialed == 0 and campaign(campaign_id).status == "completed"


def test_pause_resume_cancel(fake):
    org = make_org()
    campaign_id = make_campaign(org, NUMBERS, max_concurrent=1)
    dialer.run_once()

    def change(action):
        with session_scope() as session:
            campaigns.change(session, org.user(session), org.id, campaign_id, action)

    change("pause")
    fake.play(fake.placed()[0]["sid"], fake.via)  # a call in flight finishes
    assert dialer.run_once().dialed == 0 and states(campaign_id) == ["completed", "queued", "queued"]
    change("resume")
    assert dialer.run_once().dialed == 1
    change("cancel")
    assert states(campaign_id) == ["completed", "calling", "cancelled"]
    fake.play(fake.placed()[1]["sid"], fake.via)
    assert dialer.run_once().dialed == 0 and len(fake.placed()) == 2
    assert states(campaign_id) == ["completed", "completed", "cancelled"] and campaign(campaign_id).status == "cancelled"


def test_a_retry_owed_by_a_cancelled_campaign_is_cancelled(fake):
    org = make_org()
    campaign_id = make_campaign(org, NUMBERS[:1], retry={"attempts": 2, "delay_minutes": 5})
    dialer.run_once()
    with session_scope() as session:
        campaigns.change(session, org.user(session), org.id, campaign_id, "cancel")
    fake.play(fake.placed()[0]["sid"], fake.via, outcome="no-answer")
    assert states(campaign_id) == ["cancelled"]


def test_the_plan_caps_calls_at_dial_time(fake):
    org = make_org()
    campaign_id = make_campaign(org, NUMBERS, max_concurrent=5)
    with session_scope() as session:
        billing.change_plan(session, org.user(session), org.id, "free")  # 2 lines: 1 for the campaign
    assert dialer.run_once().dialed == 1
    with session_scope() as session:
        billing.change_plan(session, org.user(session), org.id, "pro")
        session.execute(update(Subscription).where(Subscription.organization_id == org.id)
                        .values(active_calls=Subscription.active_calls + 17))  # inbound calls: 18 of 20 lines
    assert dialer.run_once().dialed == 1  # 19 taken now, the last one is kept free for inbound calls
    assert dialer.run_once().dialed == 0
    assert states(campaign_id) == ["calling", "calling", "queued"]


def test_a_refused_line_puts_the_contact_back_for_30_seconds(fake):
    org = make_org()
    campaign_id = make_campaign(org, NUMBERS[:2])
    with session_scope() as session:
        billing.change_plan(session, org.user(session), org.id, "free")
        session.execute(update(Subscription).where(Subscription.organization_id == org.id).values(minutes_used=60))
    assert dialer.run_once().dialed == 0
    back = contacts(campaign_id)[0]
    assert (back.state, back.attempts) == ("queued", 0) and "minutes" in back.last_error
    assert aware(back.next_attempt_at) > utcnow() + timedelta(seconds=25)
    assert contacts(campaign_id)[1].next_attempt_at is None  # the round stopped at the full plan
    assert fake.requests_to("POST", "/Calls.json") == []


def test_twilio_down_fails_the_contact_and_frees_the_line(fake):
    org = make_org()
    campaign_id = make_campaign(org, NUMBERS[:1])
    fake.fail_with = 500
    assert dialer.run_once().dialed == 0
    failed = contacts(campaign_id)[0]
    assert failed.state == "failed" and "Twilio" in failed.last_error and failed.attempts == 1
    assert calls_of(campaign_id)[0].end_reason == "dial_failed" and active_calls(org) == 0
    assert dialer.run_once().completed == 1  # nothing left to dial: the campaign is done


def test_an_agent_that_cannot_call_pauses_the_campaign(fake):
    org = make_org()
    campaign_id = make_campaign(org, NUMBERS)
    with session_scope() as session:
        session.get(VoiceAgent, org.agent_id).is_active = False
    assert dialer.run_once().dialed == 0
    assert campaign(campaign_id).status == "paused" and states(campaign_id) == ["queued"] * 3
    assert contacts(campaign_id)[0].attempts == 0 and "switched off" in contacts(campaign_id)[0].last_error
    with session_scope() as session:
        paused = session.query(AuditEvent).filter(AuditEvent.action == "campaign.paused").one()
    assert "switched off" in paused.summary and paused.actor_label == "system"


def test_one_dialer_holds_the_lease(fake):
    first, second = dialer.Dialer(), dialer.Dialer()
    assert first.hold() and not second.hold() and first.hold()
    first.release()
    assert second.hold() and not first.hold()
    with session_scope() as session:  # the holder stalls past its lease: another takes over
        session.execute(update(BackgroundLease).values(lease_until=utcnow() - timedelta(seconds=1)))
    assert first.hold() and not second.run_once().held


def test_two_dialers_racing_never_dial_a_contact_twice(fake):
    org = make_org()
    numbers = [f"+1415555{i:04d}" for i in range(12)]
    campaign_id = make_campaign(org, numbers, max_concurrent=4)
    dialers, held = [dialer.Dialer() for _ in range(2)], []

    def rounds(one):
        for _ in range(6):
            start.wait()
            held.append(one.run_once().held)
            for sid in [p["sid"] for p in fake.placed() if fake.calls[p["sid"]]["status"] == "queued"]:
                with fake.lock:
                    if fake.calls[sid]["status"] != "queued":
                        continue
                    fake.calls[sid]["status"] = "playing"
                fake.play(sid, fake.via)

    start = threading.Barrier(2)
    threads = [threading.Thread(target=rounds, args=(d,)) for d in dialers]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    dialed = [p["form"]["To"] for p in fake.placed()]
    assert sorted(dialed) == sorted(set(dialed)) and len(dialed) == 12
    assert states(campaign_id) == ["completed"] * 12 and held.count(True) >= 3
    assert all(c.attempts == 1 for c in contacts(campaign_id))


def test_after_a_crash_a_stranded_claim_is_queued_again_and_a_lost_call_settled(fake):
    org = make_org()
    campaign_id = make_campaign(org, NUMBERS[:2], max_concurrent=2)
    stranded, lost = contacts(campaign_id)
    lost_call = uuid.uuid4()
    with session_scope() as session:  # a dialer died after claiming, before the call opened
        session.execute(update(CampaignContact).where(CampaignContact.id == stranded.id)
                        .values(state="calling", attempts=1, updated_at=utcnow() - timedelta(minutes=3)))
        # a call whose end was lost: billing closed its session in bulk, without the contact
        session.add(CallSession(id=lost_call, organization_id=org.id, agent_id=org.agent_id, direction="outbound",
                                status="failed", end_reason="lost", campaign_contact_id=lost.id,
                                started_at=utcnow() - timedelta(hours=5), ended_at=utcnow()))
        session.flush()
        session.execute(update(CampaignContact).where(CampaignContact.id == lost.id)
                        .values(state="calling", attempts=1, last_call_id=lost_call))
    recent = make_campaign(org, ["+14155550109"])
    with session_scope() as session:  # a claim made a moment ago is not touched
        session.execute(update(CampaignContact).where(CampaignContact.campaign_id == recent)
                        .values(state="calling", attempts=1))
    result = dialer.Dialer().run_once()  # a restarted process: its first round looks for what a crash left
    assert result.requeued == 1 and result.dialed == 1
    again, settled = contacts(campaign_id)
    assert (again.state, again.attempts) == ("calling", 1) and again.last_call_id is not None
    assert settled.state == "failed"
    assert states(recent) == ["calling"]


def test_two_dialers_planning_at_once_never_exceed_the_cap(fake, monkeypatch):
    """Should two processes both believe they hold the lease (a holder stalled past it), the
    campaign's row lock makes the second count the first's claims: never more than the cap. The
    second is held between its count and its claim until the first commits (the race a lock-free
    count would lose: 3 claimed by each)."""
    org = make_org()
    campaign_id = make_campaign(org, [f"+1415555{i:04d}" for i in range(10)], max_concurrent=3)
    first_committed, second = threading.Event(), []
    claim = dialer.queue.claim

    def claim_after_the_first(session, *args):
        if threading.current_thread().name == "second":
            first_committed.wait(5)
        return claim(session, *args)

    monkeypatch.setattr(dialer.queue, "claim", claim_after_the_first)
    with session_scope() as session:
        first = dialer.Dialer._claim(session, dialer.Round(), campaign_id, org.id, 3, 20, utcnow())
        racer = threading.Thread(target=lambda: second.append(_claim_alone(campaign_id, org.id)), name="second")
        racer.start()
        racer.join(0.5)
    first_committed.set()
    racer.join(10)
    assert len(first) == 3 and second == [[]]
    assert states(campaign_id).count("calling") == 3


def _claim_alone(campaign_id, org_id):
    with session_scope() as session:
        return dialer.Dialer._claim(session, dialer.Round(), campaign_id, org_id, 3, 20, utcnow())


def test_a_claim_given_back_after_its_campaign_was_cancelled_ends_cancelled(client):
    """The dialer claimed a contact, the campaign was cancelled, then the dial could not start: the
    contact must not go back to a queue nobody will ever read."""
    from sqlalchemy import update

    from voice_platform.db import session_scope
    from voice_platform.models import Campaign, CampaignContact
    from voice_platform.services import campaign_queue

    org = make_org("cancel-race")
    campaign_id = make_campaign(org, ["+14155550161", "+14155550162"])
    first, second = contacts(campaign_id)
    with session_scope() as session:
        session.execute(update(CampaignContact).where(CampaignContact.id.in_([first.id, second.id]))
                        .values(state="calling", attempts=1))
    with session_scope() as session:  # the running campaign's claim goes back to the queue
        assert campaign_queue.put_back(session, first.id, error="no line") == 1
    with session_scope() as session:
        session.execute(update(Campaign).where(Campaign.id == campaign_id).values(status="cancelled"))
    with session_scope() as session:
        assert campaign_queue.put_back(session, second.id, error="no line") == 1
    after = {c.id: (c.state, c.attempts) for c in contacts(campaign_id)}
    assert after == {first.id: ("queued", 0), second.id: ("cancelled", 0)}
