"""/api/v1/phone-numbers through the real ASGI app, with Twilio's REST API served by the fake.

The same rules as tests/telephony/test_twilio_numbers.py, seen from the HTTP side: status codes,
bodies, who may do what, and what Twilio received.
"""

from __future__ import annotations

import pytest

from tests.fakes.twilio_rest import no_twilio, platform_on_fake, twilio  # noqa: F401 - fixtures
from tests.support.api import add_member, create_agent, signup

PUBLIC = "https://voice.example.com"
BASE = "/api/v1/phone-numbers"


def test_search_buy_assign_unassign_release(client, twilio):
    admin = signup(client, "numbers-admin")
    agent = create_agent(client, admin)
    twilio.offer("+14155550100")
    twilio.offer("+12125550100")

    found = client.get(f"{BASE}/organization/{admin.org_id}/available", params={"area_code": "415", "contains": "0100"},
                       headers=admin.headers)
    assert found.status_code == 200, found.text
    assert found.json() == [{"phone_number": "+14155550100", "friendly_name": "(415) 555-0100",
                             "locality": "San Francisco", "region": "CA", "iso_country": "US"}]

    bought = client.post(f"{BASE}/organization/{admin.org_id}", json={"phone_number": "+14155550100"},
                         headers=admin.headers)
    assert bought.status_code == 201, bought.text
    number = bought.json()
    assert (number["phone_number"], number["source"], number["agent_id"]) == ("+14155550100", "twilio", None)
    assert number["voice_url"] == PUBLIC + "/api/v1/voice/twilio/incoming"
    assert twilio.incoming[number["provider_sid"]]["voice_url"] == number["voice_url"]
    assert twilio.incoming[number["provider_sid"]]["status_callback"] == number["status_callback_url"]

    assigned = client.put(f"{BASE}/{number['id']}/agent", json={"agent_id": agent["id"]}, headers=admin.headers)
    assert assigned.status_code == 200, assigned.text
    assert (assigned.json()["agent_id"], assigned.json()["agent_name"]) == (agent["id"], "Front desk")
    assert client.get(f"/api/v1/agents/{agent['id']}", headers=admin.headers).json()["phone_number"] == "+14155550100"

    unassigned = client.put(f"{BASE}/{number['id']}/agent", json={"agent_id": None}, headers=admin.headers)
    assert unassigned.status_code == 200 and unassigned.json()["agent_id"] is None
    client.put(f"{BASE}/{number['id']}/agent", json={"agent_id": agent["id"]}, headers=admin.headers)

    released = client.delete(f"{BASE}/{number['id']}", headers=admin.headers)
    assert released.status_code == 204, released.text
    assert len(twilio.requests_to("DELETE", f"/IncomingPhoneNumbers/{number['provider_sid']}.json")) == 1
    assert client.get(f"/api/v1/agents/{agent['id']}", headers=admin.headers).json()["phone_number"] is None
    assert client.get(f"{BASE}/organization/{admin.org_id}", headers=admin.headers).json() == []


def test_import_by_sid_or_number(client, twilio):
    admin = signup(client, "importer")
    first = twilio.own("+14155550111")
    twilio.own("+14155550122")

    listed = client.get(f"{BASE}/organization/{admin.org_id}/importable", headers=admin.headers)
    assert listed.status_code == 200, listed.text
    assert sorted(n["phone_number"] for n in listed.json()) == ["+14155550111", "+14155550122"]

    by_sid = client.post(f"{BASE}/organization/{admin.org_id}/import", json={"sid": first}, headers=admin.headers)
    by_number = client.post(f"{BASE}/organization/{admin.org_id}/import", json={"phone_number": "+14155550122"},
                            headers=admin.headers)
    assert (by_sid.status_code, by_number.status_code) == (201, 201), by_sid.text + by_number.text
    assert twilio.incoming[first]["voice_url"] == PUBLIC + "/api/v1/voice/twilio/incoming"
    assert client.get(f"{BASE}/organization/{admin.org_id}/importable", headers=admin.headers).json() == []
    missing = client.post(f"{BASE}/organization/{admin.org_id}/import", json={}, headers=admin.headers)
    assert missing.status_code == 422


def test_a_plain_member_sees_but_cannot_buy_assign_or_release(client, twilio):
    admin = signup(client, "boss")
    member = add_member(client, admin, "staff")
    agent = create_agent(client, admin, phone_number="+14155550133")
    (number,) = client.get(f"{BASE}/organization/{admin.org_id}", headers=admin.headers).json()
    twilio.offer("+14155550144")

    seen = client.get(f"{BASE}/organization/{admin.org_id}", headers=member.headers)
    assert seen.status_code == 200 and seen.json()[0]["agent_id"] == agent["id"]
    for method, path, body in [
        ("POST", f"{BASE}/organization/{admin.org_id}", {"phone_number": "+14155550144"}),
        ("GET", f"{BASE}/organization/{admin.org_id}/available", None),
        ("GET", f"{BASE}/organization/{admin.org_id}/importable", None),
        ("PUT", f"{BASE}/{number['id']}/agent", {"agent_id": None}),
        ("DELETE", f"{BASE}/{number['id']}", None),
    ]:
        r = client.request(method, path, json=body, headers=member.headers)
        assert r.status_code == 403, f"{method} {path}: {r.text}"
    assert twilio.requests == []
    assert client.get(f"/api/v1/agents/{agent['id']}", headers=admin.headers).json()["phone_number"] == "+14155550133"


def test_another_organization_gets_404_and_cannot_take_the_number(client, twilio):
    admin = signup(client, "holder")
    outsider = signup(client, "outsider")
    outsider_agent = create_agent(client, outsider)
    twilio.offer("+14155550155")
    number = client.post(f"{BASE}/organization/{admin.org_id}", json={"phone_number": "+14155550155"},
                         headers=admin.headers).json()

    assert client.get(f"{BASE}/organization/{admin.org_id}", headers=outsider.headers).status_code == 404
    assert client.delete(f"{BASE}/{number['id']}", headers=outsider.headers).status_code == 404
    stolen = client.put(f"{BASE}/{number['id']}/agent", json={"agent_id": outsider_agent["id"]}, headers=outsider.headers)
    assert stolen.status_code == 404
    taken = client.post(f"{BASE}/organization/{outsider.org_id}", json={"phone_number": "+14155550155"},
                        headers=outsider.headers)
    assert taken.status_code == 409 and "another organization" in taken.json()["detail"]
    typed = client.put(f"/api/v1/agents/{outsider_agent['id']}", json={"phone_number": "+14155550155"},
                       headers=outsider.headers)
    assert typed.status_code == 409
    # the owner cannot hand its number to another organization's agent either
    assert client.put(f"{BASE}/{number['id']}/agent", json={"agent_id": outsider_agent["id"]},
                      headers=admin.headers).status_code == 404


def test_invalid_input_is_422_with_a_message(client, twilio):
    admin = signup(client, "validator")
    garbage = client.post(f"{BASE}/organization/{admin.org_id}", json={"phone_number": "call me maybe"},
                          headers=admin.headers)
    assert garbage.status_code == 422
    (error,) = garbage.json()["detail"]
    assert error["loc"] == ["body", "phone_number"] and "E.164" in error["msg"]
    area = client.get(f"{BASE}/organization/{admin.org_id}/available", params={"area_code": "4a5"}, headers=admin.headers)
    assert area.status_code == 422 and "Area code" in area.json()["detail"][0]["msg"]
    sid = client.post(f"{BASE}/organization/{admin.org_id}/import", json={"sid": "PN-nope"}, headers=admin.headers)
    assert sid.status_code == 422 and sid.json()["detail"][0]["loc"] == ["body", "sid"]
    assert twilio.requests == []


def test_without_twilio_manual_numbers_still_work_and_twilio_routes_say_what_to_set(client, no_twilio):
    admin = signup(client, "no-twilio")
    agent = create_agent(client, admin, phone_number="+14155550166")

    (number,) = client.get(f"{BASE}/organization/{admin.org_id}", headers=admin.headers).json()
    assert (number["source"], number["agent_id"]) == ("manual", agent["id"])
    assert number["voice_url"] == PUBLIC + "/api/v1/voice/twilio/incoming"
    assert number["status_callback_url"] == PUBLIC + "/api/v1/voice/twilio/status"
    for path in ("/available", "/importable"):
        r = client.get(f"{BASE}/organization/{admin.org_id}{path}", headers=admin.headers)
        assert r.status_code == 503
        assert "TWILIO_ACCOUNT_SID" in r.json()["detail"] and "TWILIO_AUTH_TOKEN" in r.json()["detail"]
    assert client.delete(f"{BASE}/{number['id']}", headers=admin.headers).status_code == 204
    assert client.get(f"/api/v1/agents/{agent['id']}", headers=admin.headers).json()["phone_number"] is None


def test_a_failing_twilio_is_a_502_with_twilios_message(client, twilio):
    admin = signup(client, "outage")
    twilio.fail_with = 500
    r = client.get(f"{BASE}/organization/{admin.org_id}/available", headers=admin.headers)
    assert r.status_code == 502 and "Internal Server Error" in r.json()["detail"]
