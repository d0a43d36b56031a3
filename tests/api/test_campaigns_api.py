"""Campaigns through the API: create (contacts refused row by row), list and detail with counts and
calls, start/pause/resume/cancel, roles and tenants; and a campaign run end to end by the web
process's own background dialer against the fake Twilio."""

from __future__ import annotations

import pytest

from tests.fakes.twilio_rest import PUBLIC_URL, platform_on_fake
from tests.support.api import add_member, create_agent, set_plan, signup, unique_phone
from tests.support.campaigns import quiet_dialer  # noqa: F401 - fixture: only the test dials
from tests.support.waiting import until
from voice_platform.services import dialer

ALWAYS = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "24:00"}
FINAL = ("completed", "busy", "no-answer", "failed", "canceled")
STATES = ["queued", "calling", "completed", "voicemail", "no_answer", "busy", "failed", "do_not_call", "cancelled"]


def _path(org_id: str, rest: str = "") -> str:
    return f"/api/v1/organizations/{org_id}/campaigns{rest}"


def _body(agent_id: str, numbers: list[str], **fields) -> dict:
    return {"name": "Reminders", "agent_id": agent_id, "window": ALWAYS, "max_concurrent": 1,
            "contacts": [{"to": n, "variables": {"name": f"Person {i}"}} for i, n in enumerate(numbers)], **fields}


@pytest.fixture()
def admin(client):
    actor = signup(client, "campaigns")
    actor.agent = create_agent(client, actor, phone_number=unique_phone())
    return actor


def test_create_list_detail_and_steer(client, admin):
    r = client.post(_path(admin.org_id), json=_body(admin.agent["id"], ["+14155550101", "+1 415 555 0102"],
                                                    retry={"attempts": 2, "delay_minutes": 30}),
                    headers=admin.headers)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["status"] == "draft" and created["total"] == 2 and created["counts"]["queued"] == 2
    assert list(created["counts"]) == STATES and created["retry"] == {"attempts": 2, "delay_minutes": 30}
    assert created["window"] == ALWAYS and created["in_window"] is True and created["timezone"] == "UTC"
    listed = client.get(_path(admin.org_id), headers=admin.headers).json()
    assert [c["id"] for c in listed] == [created["id"]] and listed[0]["counts"]["queued"] == 2
    detail = client.get(_path(admin.org_id, f"/{created['id']}"), headers=admin.headers).json()
    assert [(c["to"], c["state"], c["attempts"], c["calls"]) for c in detail["contacts"]] == \
        [("+14155550101", "queued", 0, []), ("+14155550102", "queued", 0, [])]
    assert detail["contacts"][1]["variables"] == {"name": "Person 1"}
    page = client.get(_path(admin.org_id, f"/{created['id']}"), params={"offset": 1, "limit": 1},
                      headers=admin.headers).json()
    assert [c["position"] for c in page["contacts"]] == [1] and page["counts"]["queued"] == 2
    for action, status in (("start", "running"), ("pause", "paused"), ("pause", "paused"), ("resume", "running")):
        r = client.post(_path(admin.org_id, f"/{created['id']}/{action}"), headers=admin.headers)
        assert (r.status_code, r.json()["status"]) == (200, status), r.text
    cancelled = client.post(_path(admin.org_id, f"/{created['id']}/cancel"), headers=admin.headers).json()
    assert cancelled["status"] == "cancelled" and cancelled["counts"]["cancelled"] == 2
    r = client.post(_path(admin.org_id, f"/{created['id']}/resume"), headers=admin.headers)
    assert r.status_code == 409 and "cancelled" in r.json()["detail"]


def test_invalid_contacts_are_listed_each_with_its_index(client, admin):
    body = _body(admin.agent["id"], ["+14155550101", "12345", "+14155550101"])
    body["contacts"].append({"to": "+14155550104", "variables": {"first name": "Ada"}})
    r = client.post(_path(admin.org_id), json=body, headers=admin.headers)
    assert r.status_code == 422, r.text
    rejected = r.json()["rejected"]
    assert [x["index"] for x in rejected] == [1, 2, 3] and rejected[0]["to"] == "12345"
    assert "E.164" in rejected[0]["reason"] and "contact 0" in rejected[1]["reason"]
    assert [d["loc"] for d in r.json()["detail"]] == [["body", "contacts", i] for i in (1, 2, 3)]
    assert client.get(_path(admin.org_id), headers=admin.headers).json() == []


@pytest.mark.parametrize("change, message", [
    ({"max_concurrent": 20}, "1 to 19"),
    ({"max_concurrent": 0}, "max_concurrent"),
    ({"window": {"days": ["mon"], "start": "10:00", "end": "10:00"}}, "must differ"),
    ({"window": {"days": ["mon"], "start": "9am", "end": "17:00"}}, "start"),
    ({"retry": {"attempts": 11, "delay_minutes": 5}}, "attempts"),
    ({"contacts": []}, "contacts"),
    ({"name": "   "}, "name"),
])
def test_bad_settings_are_refused_with_a_reason(client, admin, change, message):
    r = client.post(_path(admin.org_id), json={**_body(admin.agent["id"], ["+14155550101"]), **change},
                    headers=admin.headers)
    assert r.status_code == 422 and message in r.text, r.text


def test_the_plans_lines_and_the_agents_number_are_checked(client, admin):
    set_plan(client, admin, "starter")  # 10 lines: 9 for a campaign
    r = client.post(_path(admin.org_id), json=_body(admin.agent["id"], ["+14155550101"], max_concurrent=10),
                    headers=admin.headers)
    assert r.status_code == 422 and "Starter plan allows 10" in r.text
    mute = create_agent(client, admin, name="No number")
    r = client.post(_path(admin.org_id), json=_body(mute["id"], ["+14155550101"]), headers=admin.headers)
    assert r.status_code == 422 and "phone number to call from" in r.text


def test_members_read_admins_steer_other_organizations_see_nothing(client, admin):
    created = client.post(_path(admin.org_id), json=_body(admin.agent["id"], ["+14155550101"]),
                          headers=admin.headers).json()
    member = add_member(client, admin)
    assert client.get(_path(admin.org_id, f"/{created['id']}"), headers=member.headers).status_code == 200
    assert client.post(_path(admin.org_id, f"/{created['id']}/start"), headers=member.headers).status_code == 403
    assert client.post(_path(admin.org_id), json=_body(admin.agent["id"], ["+14155550101"]),
                       headers=member.headers).status_code == 403
    other = signup(client, "campaigns-other")
    other_agent = create_agent(client, other, phone_number=unique_phone())
    assert client.get(_path(admin.org_id), headers=other.headers).status_code == 404
    assert client.get(_path(admin.org_id, f"/{created['id']}"), headers=other.headers).status_code == 404
    assert client.get(_path(other.org_id, f"/{created['id']}"), headers=other.headers).status_code == 404
    for action in ("start", "pause", "resume", "cancel"):
        assert client.post(_path(other.org_id, f"/{created['id']}/{action}"), headers=other.headers).status_code == 404
    r = client.post(_path(other.org_id), json=_body(admin.agent["id"], ["+14155550101"]), headers=other.headers)
    assert r.status_code == 404  # another organization's agent
    assert client.post(_path(admin.org_id), json=_body(other_agent["id"], ["+14155550101"]),
                       headers=other.headers).status_code == 404


def test_a_draft_is_edited_field_by_field_and_a_started_one_is_not(client, admin):
    created = client.post(_path(admin.org_id), json=_body(admin.agent["id"], ["+14155550101", "+14155550102"]),
                          headers=admin.headers).json()
    second = create_agent(client, admin, phone_number=unique_phone())
    weekend = {"days": ["sat", "sun"], "start": "10:00", "end": "14:00"}
    r = client.put(_path(admin.org_id, f"/{created['id']}"), headers=admin.headers,
                   json={"name": "Weekend reminders", "agent_id": second["id"], "window": weekend,
                         "max_concurrent": 3, "retry": {"attempts": 1, "delay_minutes": 15}})
    assert r.status_code == 200, r.text
    edited = r.json()
    assert (edited["name"], edited["agent_id"], edited["window"], edited["max_concurrent"], edited["retry"]) == \
        ("Weekend reminders", second["id"], weekend, 3, {"attempts": 1, "delay_minutes": 15})
    assert edited["status"] == "draft" and edited["counts"]["queued"] == 2  # the contacts stay
    r = client.put(_path(admin.org_id, f"/{created['id']}"), json={"retry": None}, headers=admin.headers)
    assert r.json()["retry"] == {"attempts": 0, "delay_minutes": 60} and r.json()["name"] == "Weekend reminders"
    for body, message in (({"name": "  "}, "name"), ({"max_concurrent": 50}, "max_concurrent"),
                          ({"window": {"days": ["mon"], "start": "09:00", "end": "09:00"}}, "differ")):
        r = client.put(_path(admin.org_id, f"/{created['id']}"), json=body, headers=admin.headers)
        assert r.status_code == 422 and message in r.text, (body, r.text)
    assert client.put(_path(admin.org_id, f"/{created['id']}"), json={"contacts": []},
                      headers=admin.headers).status_code == 422  # contacts are not a setting
    audit = client.get(f"/api/v1/organizations/{admin.org_id}/audit-log", params={"action": "campaign.updated"},
                       headers=admin.headers).json()
    assert [e["summary"] for e in audit["items"]] == [
        "Edited campaign 'Weekend reminders': retry",
        f"Edited campaign 'Reminders': agent_id, max_concurrent, name, retry, window (agent {second['name']!r})"]
    member = add_member(client, admin)
    assert client.put(_path(admin.org_id, f"/{created['id']}"), json={"name": "Mine"},
                      headers=member.headers).status_code == 403
    other = signup(client, "campaigns-edit-other")
    assert client.put(_path(other.org_id, f"/{created['id']}"), json={"name": "Theirs"},
                      headers=other.headers).status_code == 404
    assert client.post(_path(admin.org_id, f"/{created['id']}/start"), headers=admin.headers).status_code == 200
    r = client.put(_path(admin.org_id, f"/{created['id']}"), json={"name": "Too late"}, headers=admin.headers)
    assert r.status_code == 409 and "only a draft can be edited" in r.json()["detail"]
    assert client.get(_path(admin.org_id, f"/{created['id']}"), headers=admin.headers).json()["name"] == \
        "Weekend reminders"


def test_the_background_dialer_runs_a_campaign_to_the_end(client, admin, monkeypatch, quiet_dialer):
    """As production: the web process's loop dials (woken by the start), Twilio plays each call
    and its status callback settles the contact; the do-not-call number is never dialed."""
    numbers = ["+14155550101", "+14155550102", "+14155550103"]
    assert client.post(f"/api/v1/organizations/{admin.org_id}/do-not-call", json={"number": numbers[1]},
                       headers=admin.headers).status_code == 201
    with platform_on_fake(monkeypatch, PUBLIC_BASE_URL=PUBLIC_URL, LIVEKIT_SIP_DOMAIN="sip.example.com") as twilio:
        most = [0]

        def play(sid):  # how many calls Twilio has going when this one is placed (a call's end comes first)
            with twilio.lock:
                going = [c for c in twilio.calls.values() if c["status"] not in FINAL]
                most[0] = max(most[0], len(going))
            twilio.play(sid, client)

        twilio.on_created = play
        created = client.post(_path(admin.org_id), json=_body(admin.agent["id"], numbers), headers=admin.headers).json()
        assert quiet_dialer() is True  # the real start_background
        try:
            client.post(_path(admin.org_id, f"/{created['id']}/start"), headers=admin.headers)
            done = until_sync(lambda: client.get(_path(admin.org_id, f"/{created['id']}"),
                                                 headers=admin.headers).json()["status"] == "completed")
        finally:
            dialer.stop_background()
        assert done
        detail = client.get(_path(admin.org_id, f"/{created['id']}"), headers=admin.headers).json()
        assert {k: v for k, v in detail["counts"].items() if v} == {"completed": 2, "do_not_call": 1}
        assert [p["form"]["To"] for p in twilio.placed()] == [numbers[0], numbers[2]] and most[0] == 1
        first = detail["contacts"][0]["calls"]
        assert len(first) == 1 and (first[0]["status"], first[0]["end_reason"]) == ("completed", "caller_hangup")
        calls = client.get(f"/api/v1/calls/organization/{admin.org_id}", headers=admin.headers).json()
        assert {c["id"] for c in calls["items"]} >= {first[0]["id"]}


def until_sync(predicate, timeout: float = 20.0) -> bool:
    import asyncio

    return asyncio.run(until(predicate, timeout, 0.05))
