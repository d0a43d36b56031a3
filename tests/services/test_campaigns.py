"""Campaigns in the services: what a campaign's input must be (contacts, CSV, window, caps), when
its window is open, and its status changes (conditional, idempotent, 409 otherwise)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.support.campaigns import ALWAYS, campaign, make_campaign, make_org, quiet_dialer, states  # noqa: F401 - fixture
from voice_platform.db import session_scope
from voice_platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from voice_platform.models import AuditEvent, VoiceAgent
from voice_platform.services import billing, campaign_rules as rules, campaigns, organizations


# --- rules -----------------------------------------------------------------------------------------

def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def test_a_window_is_read_in_the_organizations_time_zone():
    weekdays = {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}
    monday_8_utc = _at("2030-01-07T08:00:00")  # a Monday
    assert not rules.in_window(weekdays, "UTC", monday_8_utc)
    assert rules.in_window(weekdays, "Europe/Berlin", monday_8_utc)  # 09:00 there
    assert rules.in_window(weekdays, "UTC", _at("2030-01-07T16:59:59"))
    assert not rules.in_window(weekdays, "UTC", _at("2030-01-07T17:00:00"))  # the end is not in it
    assert not rules.in_window(weekdays, "UTC", _at("2030-01-12T10:00:00"))  # Saturday
    assert rules.in_window(weekdays, "America/New_York", _at("2030-01-12T02:00:00")) is False  # Fri 21:00 there


def test_a_window_may_run_past_midnight_and_to_24_00():
    late = {"days": ["fri"], "start": "22:00", "end": "02:00"}
    assert rules.in_window(late, "UTC", _at("2030-01-11T23:30:00"))  # Friday night
    assert rules.in_window(late, "UTC", _at("2030-01-12T01:59:00"))  # Friday's window, Saturday morning
    assert not rules.in_window(late, "UTC", _at("2030-01-12T22:30:00"))  # Saturday night: not listed
    assert not rules.in_window(late, "UTC", _at("2030-01-11T01:00:00"))  # Thursday's night: not listed
    assert rules.in_window(ALWAYS, "UTC", _at("2030-01-11T23:59:59"))
    assert rules.window({"days": ["sun", "mon", "mon"], "start": "00:00", "end": "24:00"}) == \
        {"days": ["mon", "sun"], "start": "00:00", "end": "24:00"}


@pytest.mark.parametrize("window, field", [
    ({"days": [], "start": "09:00", "end": "17:00"}, "window.days"),
    ({"days": ["monday"], "start": "09:00", "end": "17:00"}, "window.days"),
    ({"days": ["mon"], "start": "9:00", "end": "17:00"}, "window.start"),
    ({"days": ["mon"], "start": "24:00", "end": "17:00"}, "window.start"),
    ({"days": ["mon"], "start": "09:00", "end": "17:60"}, "window.end"),
    ({"days": ["mon"], "start": "09:00\n", "end": "17:00"}, "window.start"),
    ({"days": ["mon"], "start": "09:00", "end": "09:00"}, "window.end"),
])
def test_bad_windows_are_refused_with_the_field(window, field):
    with pytest.raises(ValidationFailed) as refused:
        rules.window(window)
    assert refused.value.field == field


def test_contacts_are_refused_together_each_with_its_index_and_reason():
    with pytest.raises(rules.ContactsRejected) as refused:
        rules.contacts([
            {"to": "+1 (415) 555-0100", "variables": {"name": "Ada"}},
            {"to": "0415 555 0100"},
            {"to": "+14155550100"},
            {"to": "+14155550101", "variables": {"first name": "x"}},
            {"to": "+14155550102", "variables": {"nested": {"a": 1}}},
            "+14155550103",
        ])
    rejected = {r["index"]: r["reason"] for r in refused.value.rejected}
    assert sorted(rejected) == [1, 2, 3, 4, 5]
    assert "E.164" in rejected[1] and "contact 0" in rejected[2]
    assert "name" in rejected[3] and "text, a number" in rejected[4]
    assert rules.contacts([{"to": "+1 (415) 555-0100", "variables": {"name": "Ada", "n": 3}}]) == \
        [{"to": "+14155550100", "variables": {"name": "Ada", "n": 3}}]


def test_csv_gives_contacts_and_the_rows_it_could_not_take():
    text = "\ufeffTo,name,appointment\n+14155550100,Ada,Monday\n\n0415,Bob,Tuesday\n+14155550101,,Friday\n" \
           "+14155550100,Ada again,\n"
    contacts, rejected = rules.parse_csv(text)
    assert contacts == [{"to": "+14155550100", "variables": {"name": "Ada", "appointment": "Monday"}},
                        {"to": "+14155550101", "variables": {"appointment": "Friday"}}]
    assert [r["row"] for r in rejected] == [4, 6]
    assert "E.164" in rejected[0]["reason"] and "row 2" in rejected[1]["reason"]
    semicolons, none = campaigns.parse_csv("name;to\nAda;+44 7700 900123\n")
    assert semicolons == [{"to": "+447700900123", "variables": {"name": "Ada"}}] and none == []


@pytest.mark.parametrize("text, message", [
    ("phone,name\n+14155550100,Ada\n", "'to' column"),
    ("to,first name\n+14155550100,Ada\n", "first name"),
    ("", "'to' column"),
])
def test_csv_without_a_usable_header_is_refused(text, message):
    with pytest.raises(ValidationFailed) as refused:
        rules.parse_csv(text)
    assert message in refused.value.message


def test_csv_stops_at_the_contact_limit(monkeypatch):
    monkeypatch.setattr(rules, "MAX_CONTACTS", 2)
    contacts, rejected = rules.parse_csv("to\n+14155550100\n+14155550101\n+14155550102\n")
    assert len(contacts) == 2 and rejected == [{"row": 4, "reason": "a campaign has at most 2 contacts"}]


# --- creating ------------------------------------------------------------------------------------

def test_create_keeps_the_order_and_starts_as_a_draft(test_database):
    org = make_org()
    campaign_id = make_campaign(org, ["+14155550100", "+14155550101"], start=False, max_concurrent=3,
                                retry={"attempts": 2, "delay_minutes": 15})
    with session_scope() as session:
        shown = campaigns.detail(session, org.user(session), org.id, campaign_id)
        events = session.query(AuditEvent).filter(AuditEvent.action == "campaign.created").count()
    assert shown.view.campaign.status == "draft" and shown.view.in_window and shown.view.total == 2
    assert shown.view.counts == {"queued": 2, "calling": 0, "completed": 0, "voicemail": 0, "no_answer": 0,
                                 "busy": 0, "failed": 0, "do_not_call": 0, "cancelled": 0}
    assert [c.contact.to_number for c in shown.contacts] == ["+14155550100", "+14155550101"]
    assert shown.contacts[0].contact.variables == {"name": "Person 0"} and shown.contacts[0].calls == []
    assert (shown.view.campaign.max_concurrent, shown.view.campaign.retry_attempts,
            shown.view.campaign.retry_delay_minutes) == (3, 2, 15)
    assert events == 1


def test_max_concurrent_keeps_a_line_free_for_inbound_calls(test_database):
    org = make_org()  # Pro: 20 concurrent calls
    with pytest.raises(ValidationFailed) as refused:
        make_campaign(org, ["+14155550100"], max_concurrent=20)
    assert refused.value.field == "max_concurrent" and "1 to 19" in refused.value.message
    make_campaign(org, ["+14155550100"], max_concurrent=19)
    with session_scope() as session:
        billing.change_plan(session, org.user(session), org.id, "free")  # 2 concurrent calls
    with pytest.raises(ValidationFailed, match="1 to 1"):
        make_campaign(org, ["+14155550100"], max_concurrent=2)


def test_the_agent_must_be_the_organizations_and_able_to_call(test_database):
    org, other = make_org(), make_org("other")
    with pytest.raises(NotFound):
        make_campaign(org, ["+14155550100"], agent_id=str(other.agent_id))
    silent = make_org("no-number", phone=False)
    with pytest.raises(ValidationFailed, match="phone number to call from"):
        make_campaign(silent, ["+14155550100"])
    campaign_id = make_campaign(org, ["+14155550100"], start=False)
    with session_scope() as session:
        session.get(VoiceAgent, org.agent_id).is_active = False
    with session_scope() as session, pytest.raises(Conflict, match="switched off"):
        campaigns.change(session, org.user(session), org.id, campaign_id, "start")


def test_members_read_and_other_organizations_see_nothing(test_database):
    org, other, reader = make_org(), make_org("other"), make_org("reader")
    campaign_id = make_campaign(org, ["+14155550100"], start=False)
    with session_scope() as session:
        organizations.add_member(session, org.user(session), org.id, email=reader.user(session).email, role="member")
    with session_scope() as session:
        outsider = other.user(session)
        with pytest.raises(NotFound):
            campaigns.view(session, outsider, org.id, campaign_id)
        with pytest.raises(NotFound):
            campaigns.change(session, outsider, org.id, campaign_id, "start")
        with pytest.raises(NotFound):  # its own organization in the path does not reach another's campaign
            campaigns.view(session, outsider, other.id, campaign_id)
        assert campaigns.list_campaigns(session, outsider, other.id) == []
        member = reader.user(session)
        assert campaigns.view(session, member, org.id, campaign_id).campaign.id == campaign_id
        with pytest.raises(PermissionDenied):
            campaigns.change(session, member, org.id, campaign_id, "start")
        with pytest.raises(PermissionDenied):
            campaigns.create(session, member, org.id, {"name": "x", "agent_id": str(org.agent_id),
                                                       "contacts": [{"to": "+14155550100"}]})


# --- steering ------------------------------------------------------------------------------------

def _change(org, campaign_id, action):
    with session_scope() as session:
        return campaigns.change(session, org.user(session), org.id, campaign_id, action)


def test_status_changes_once_and_says_why_it_cannot(test_database):
    org = make_org()
    campaign_id = make_campaign(org, ["+14155550100", "+14155550101"], start=False)
    with pytest.raises(Conflict, match="draft; it cannot be paused"):
        _change(org, campaign_id, "pause")
    assert _change(org, campaign_id, "start").campaign.status == "running"
    started = campaign(campaign_id).started_at
    assert _change(org, campaign_id, "start").campaign.started_at == started  # idempotent
    assert _change(org, campaign_id, "pause").campaign.status == "paused"
    with pytest.raises(Conflict, match="resume a paused campaign"):
        _change(org, campaign_id, "start")
    assert _change(org, campaign_id, "resume").campaign.status == "running"
    cancelled = _change(org, campaign_id, "cancel")
    assert cancelled.campaign.status == "cancelled" and cancelled.campaign.finished_at is not None
    assert cancelled.counts["cancelled"] == 2 and states(campaign_id) == ["cancelled", "cancelled"]
    for action in ("start", "resume", "pause"):
        with pytest.raises(Conflict, match="cancelled"):
            _change(org, campaign_id, action)
    with session_scope() as session:
        actions = [e.action for e in session.query(AuditEvent).filter(AuditEvent.target_id == str(campaign_id))
                   .order_by(AuditEvent.created_at).all()]
    assert actions == ["campaign.created", "campaign.started", "campaign.paused", "campaign.resumed",
                       "campaign.cancelled"]


def test_detail_pages_and_filters_contacts(test_database):
    org = make_org()
    campaign_id = make_campaign(org, [f"+1415555{i:04d}" for i in range(5)], start=False)
    with session_scope() as session:
        page = campaigns.detail(session, org.user(session), org.id, campaign_id, offset=1, limit=2)
        assert [c.contact.position for c in page.contacts] == [1, 2]
        assert campaigns.detail(session, org.user(session), org.id, campaign_id, state="calling").contacts == []
        with pytest.raises(ValidationFailed):
            campaigns.detail(session, org.user(session), org.id, campaign_id, state="ringing")
