"""POST /api/v1/agents/{agent_id}/calls through the real app, Twilio served by the fake REST server."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlmodel import select

from tests.fakes.twilio_rest import no_twilio, twilio  # noqa: F401 - fixtures
from tests.support.api import add_member, create_agent, signup, unique_phone
from voice_platform.db import session_scope
from voice_platform.models import CallSession, Subscription

CALLEE = "+14155550199"


@pytest.fixture()
def fake(twilio, monkeypatch):  # noqa: F811
    from voice_platform.settings import reset_settings_cache

    monkeypatch.setenv("LIVEKIT_SIP_DOMAIN", "vp-test.sip.livekit.cloud")
    reset_settings_cache()
    yield twilio


@pytest.fixture()
def caller(client):
    admin = signup(client, "caller")
    return admin, create_agent(client, admin, phone_number=unique_phone())


def _calls_of(org_id) -> list[CallSession]:
    with session_scope() as session:
        return list(session.exec(select(CallSession).where(CallSession.organization_id == org_id)).all())


def _post(client, actor, agent_id, body):
    return client.post(f"/api/v1/agents/{agent_id}/calls", json=body, headers=actor.headers)


def test_placing_a_call_answers_201_queued(client, fake, caller):
    admin, agent = caller
    r = _post(client, admin, agent["id"], {"to": CALLEE, "variables": {"name": "Ada", "visits": 2, "vip": True}})
    assert r.status_code == 201, r.text
    assert set(r.json()) == {"call_id", "status"} and r.json()["status"] == "queued"
    [call] = _calls_of(admin.org_id)
    assert str(call.id) == r.json()["call_id"]
    assert (call.direction, call.variables) == ("outbound", {"name": "Ada", "visits": 2, "vip": True})
    [request] = fake.requests_to("POST", "/Calls.json")
    assert request["form"]["From"] == agent["phone_number"] and request["form"]["To"] == CALLEE


def test_an_api_key_with_agent_update_may_place_calls(client, fake, caller):
    admin, agent = caller
    key = client.post(f"/api/v1/organizations/{admin.org_id}/api-keys", json={"name": "crm", "role": "org_admin"},
                      headers=admin.headers)
    assert key.status_code == 201, key.text
    r = client.post(f"/api/v1/agents/{agent['id']}/calls", json={"to": CALLEE},
                    headers={"Authorization": f"Bearer {key.json()['secret']}"})
    assert r.status_code == 201, r.text


def test_members_get_403_and_other_organizations_404(client, fake, caller):
    admin, agent = caller
    member = add_member(client, admin)
    r = _post(client, member, agent["id"], {"to": CALLEE})
    assert r.status_code == 403 and "agent:update" in r.json()["detail"]
    outsider = signup(client, "outsider")
    r = _post(client, outsider, agent["id"], {"to": CALLEE})
    assert r.status_code == 404 and r.json()["detail"] == "Agent not found"
    assert client.post(f"/api/v1/agents/{agent['id']}/calls", json={"to": CALLEE}).status_code == 401
    assert fake.requests_to("POST", "/Calls.json") == [] and _calls_of(admin.org_id) == []


@pytest.mark.parametrize("body, field", [
    ({}, "to"), ({"to": "0415 555 0199"}, "to"), ({"to": "+1415"}, "to"),
    ({"to": CALLEE, "variables": {"1st": "x"}}, "variables"),
    ({"to": CALLEE, "variables": {f"v{i}": i for i in range(51)}}, "variables"),
    ({"to": CALLEE, "variables": {"name": {"first": "Ada"}}}, "variables"),
    ({"to": CALLEE, "variables": {"name": "x" * 501}}, "variables"),
])
def test_bad_input_is_422_naming_the_field(client, fake, caller, body, field):
    admin, agent = caller
    r = _post(client, admin, agent["id"], body)
    assert r.status_code == 422, r.text
    assert field in {str(part) for error in r.json()["detail"] for part in error["loc"]}
    assert _calls_of(admin.org_id) == []


def test_an_agent_without_a_number_is_422(client, fake):
    admin = signup(client, "nonumber")
    agent = create_agent(client, admin)
    r = _post(client, admin, agent["id"], {"to": CALLEE})
    assert r.status_code == 422 and r.json()["detail"][0]["msg"] == "The agent needs a phone number to call from"


def test_a_switched_off_agent_is_409(client, fake):
    admin = signup(client, "off")
    agent = create_agent(client, admin, phone_number=unique_phone(), is_active=False)
    r = _post(client, admin, agent["id"], {"to": CALLEE})
    assert r.status_code == 409 and "switched off" in r.json()["detail"]


def test_a_number_on_the_do_not_call_list_is_409(client, fake, caller):
    admin, agent = caller
    added = client.post(f"/api/v1/organizations/{admin.org_id}/do-not-call", json={"number": CALLEE},
                        headers=admin.headers)
    assert added.status_code == 201, added.text
    r = _post(client, admin, agent["id"], {"to": CALLEE})
    assert r.status_code == 409 and r.json() == {"detail": f"{CALLEE} is on the organization's do-not-call list",
                                                 "field": "to"}
    assert fake.requests_to("POST", "/Calls.json") == [] and _calls_of(admin.org_id) == []


def test_every_line_in_use_is_429(client, fake, caller):
    admin, agent = caller
    with session_scope() as session:
        session.execute(update(Subscription).where(Subscription.organization_id == admin.org_id)
                        .values(active_calls=20))
    r = _post(client, admin, agent["id"], {"to": CALLEE})
    assert r.status_code == 429 and "in use" in r.json()["detail"]
    assert _calls_of(admin.org_id) == []


def test_twilio_down_is_502_and_the_call_is_failed_with_its_line_free(client, fake, caller):
    admin, agent = caller
    fake.fail_with = 503
    r = _post(client, admin, agent["id"], {"to": CALLEE})
    assert r.status_code == 502 and r.json()["detail"].startswith("Twilio could not place the call")
    [call] = _calls_of(admin.org_id)
    assert (call.status, call.end_reason) == ("failed", "dial_failed")
    with session_scope() as session:
        assert session.exec(select(Subscription.active_calls)
                            .where(Subscription.organization_id == admin.org_id)).one() == 0
    listed = client.get(f"/api/v1/calls/organization/{admin.org_id}", headers=admin.headers).json()
    assert listed["items"][0]["end_reason"] == "dial_failed"


def test_without_twilio_configured_is_503(client, no_twilio, caller):  # noqa: F811
    admin, agent = caller
    r = _post(client, admin, agent["id"], {"to": CALLEE})
    assert r.status_code == 503 and "TWILIO_ACCOUNT_SID" in r.json()["detail"]
    assert _calls_of(admin.org_id) == []
