"""/api/v1/organizations/{org_id}/webhooks through the real app, a real receiver on 127.0.0.1 and
``standardwebhooks``: the contract, the secret shown once, retries seen in the deliveries list,
redelivery, a phone call's and a test chat's ``call.ended``, tenant scope and the SSRF guard."""

from __future__ import annotations

import uuid

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.fakes.webhook_receiver import receiver, webhook_env  # noqa: F401 - fixtures
from tests.support.api import add_member, create_agent, signup, unique_phone
from tests.support.waiting import until
from tests.telephony.voice_support import call_params, post, voice_settings  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("webhook_env")
OUT_KEYS = {"id", "url", "events", "agent_id", "description", "enabled", "disabled_reason", "failing_since",
            "created_at", "updated_at"}
DELIVERY_KEYS = {"id", "event_id", "event_type", "status", "attempts", "response_status", "duration_ms",
                 "next_attempt_at", "created_at"}


def _base(actor) -> str:
    return f"/api/v1/organizations/{actor.org_id}/webhooks"


def _create(client, actor, url: str, events=("call.ended",), **extra) -> dict:
    r = client.post(_base(actor), headers=actor.headers, json={"url": url, "events": list(events), **extra})
    assert r.status_code == 201, r.text
    return r.json()


def _deliveries(client, actor, webhook_id: str) -> list[dict]:
    r = client.get(f"{_base(actor)}/{webhook_id}/deliveries", headers=actor.headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_round_trip_and_the_secret_is_shown_once(client, receiver):
    admin = signup(client, "hooks-api")
    agent = create_agent(client, admin)
    made = _create(client, admin, receiver.url(), ["call.started", "call.ended", "call.ended"],
                   agent_id=agent["id"], description="CRM")
    secret = made.pop("secret")
    assert set(made) == OUT_KEYS and secret.startswith("whsec_")
    assert made["events"] == ["call.started", "call.ended"] and made["agent_id"] == agent["id"] and made["enabled"]
    one = client.get(f"{_base(admin)}/{made['id']}", headers=admin.headers)
    listed = client.get(_base(admin), headers=admin.headers)
    assert one.json() == made and listed.json() == [made]
    changed = client.put(f"{_base(admin)}/{made['id']}", headers=admin.headers,
                         json={"agent_id": None, "events": ["call.analyzed"], "enabled": False})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["agent_id"], changed.json()["events"], changed.json()["enabled"]) == (None, ["call.analyzed"], False)
    assert changed.json()["description"] == "CRM"  # not sent, not changed
    rotated = client.post(f"{_base(admin)}/{made['id']}/rotate-secret", headers=admin.headers)
    assert rotated.status_code == 200 and rotated.json()["secret"] not in (secret, None)
    assert client.post(f"{_base(admin)}/{made['id']}/test", headers=admin.headers).status_code == 409  # switched off
    audit = client.get(f"/api/v1/organizations/{admin.org_id}/audit-log", headers=admin.headers)
    gone = client.delete(f"{_base(admin)}/{made['id']}", headers=admin.headers)
    assert gone.status_code == 204
    assert client.get(f"{_base(admin)}/{made['id']}", headers=admin.headers).status_code == 404
    audit_after = client.get(f"/api/v1/organizations/{admin.org_id}/audit-log", headers=admin.headers).text
    for answer in (one.text, listed.text, changed.text, audit.text, audit_after):
        assert secret not in answer and rotated.json()["secret"] not in answer and "whsec_" not in answer
    for action in ("webhook.created", "webhook.updated", "webhook.secret_rotated", "webhook.deleted"):
        assert action in audit_after


async def test_a_ping_retried_once_shows_two_attempts_then_redelivers(client, receiver):
    admin = signup(client, "hooks-retry")
    made = _create(client, admin, receiver.url())
    receiver.fail_first(1)
    test = client.post(f"{_base(admin)}/{made['id']}/test", headers=admin.headers)
    assert test.status_code == 202, test.text
    first, second = receiver.wait_for(2)
    assert first.webhook_id == second.webhook_id == test.json()["event_id"]
    assert Webhook(made["secret"]).verify(second.body, second.headers)["type"] == "ping"
    [delivery] = await until(lambda: [d for d in _deliveries(client, admin, made["id"]) if d["status"] == "delivered"])
    assert DELIVERY_KEYS <= set(delivery) and delivery["id"] == test.json()["delivery_id"]
    assert (delivery["attempts"], delivery["response_status"], delivery["event_type"]) == (2, 200, "ping")
    assert delivery["event_id"] == test.json()["event_id"] and delivery["duration_ms"] >= 0

    again = client.post(f"{_base(admin)}/{made['id']}/deliveries/{delivery['id']}/redeliver", headers=admin.headers)
    assert again.status_code == 202, again.text
    assert again.json()["event_id"] == delivery["event_id"] and again.json()["status"] == "pending"
    third = receiver.wait_for(3)[2]
    assert third.webhook_id == delivery["event_id"] and third.body == second.body
    listed = await until(lambda: (d := _deliveries(client, admin, made["id"]))[0]["status"] == "delivered" and d)
    assert [d["id"] for d in listed] == [again.json()["id"], delivery["id"]]  # newest first
    missing = client.post(f"{_base(admin)}/{made['id']}/deliveries/{uuid.uuid4()}/redeliver", headers=admin.headers)
    assert missing.status_code == 404


def test_after_a_rotation_the_new_secret_verifies(client, receiver):
    admin = signup(client, "hooks-rotate")
    made = _create(client, admin, receiver.url())
    secret = client.post(f"{_base(admin)}/{made['id']}/rotate-secret", headers=admin.headers).json()["secret"]
    client.post(f"{_base(admin)}/{made['id']}/test", headers=admin.headers).raise_for_status()
    [got] = receiver.wait_for(1)
    assert Webhook(secret).verify(got.body, got.headers)["data"] == {"webhook_id": made["id"]}
    with pytest.raises(WebhookVerificationError):
        Webhook(made["secret"]).verify(got.body, got.headers)


@pytest.mark.usefixtures("voice_settings")
def test_a_phone_call_sends_call_ended_with_its_duration_and_status(client, receiver):
    admin = signup(client, "hooks-phone")
    agent = create_agent(client, admin, phone_number=unique_phone())
    made = _create(client, admin, receiver.url(), ["call.ended"])
    params = call_params(agent["phone_number"])
    post(client, "/api/v1/voice/twilio/incoming", params).raise_for_status()
    end = {"CallSid": params["CallSid"], "CallStatus": "completed", "CallDuration": "42"}
    post(client, "/api/v1/voice/twilio/status", end).raise_for_status()
    [got] = receiver.wait_for(1)
    body = Webhook(made["secret"]).verify(got.body, got.headers)
    call = body["data"]["call"]
    assert body["type"] == "call.ended" and call["test"] is False and call["kind"] == "phone"
    assert (call["status"], call["end_reason"], call["duration_seconds"]) == ("completed", "caller_hangup", 42.0)
    assert (call["from_number"], call["to_number"], call["agent_id"]) == ("+15550001111", agent["phone_number"], agent["id"])
    detail = client.get(f"/api/v1/calls/{call['id']}", headers=admin.headers).json()
    assert {k: detail[k] for k in ("id", "status", "duration_seconds", "turns")} == {
        k: call[k] for k in ("id", "status", "duration_seconds", "turns")}


def test_a_test_chat_ended_through_the_api_sends_test_true(client, receiver):
    from voice_platform.db import session_scope
    from voice_platform.models import User
    from voice_platform.services import calls

    admin = signup(client, "hooks-chat")
    agent = create_agent(client, admin)
    made = _create(client, admin, receiver.url(), ["call.ended"])
    with session_scope() as session:  # what the first message of a test chat opens
        conversation = calls.open_test_session(session, session.get(User, uuid.UUID(admin.user_id)),
                                               uuid.UUID(agent["id"])).id
    end = client.post(f"/api/v1/agents/{agent['id']}/test-chat/{conversation}/end", headers=admin.headers)
    assert end.status_code == 204
    [got] = receiver.wait_for(1)
    call = Webhook(made["secret"]).verify(got.body, got.headers)["data"]["call"]
    assert call["id"] == str(conversation) and call["test"] is True and call["status"] == "completed"


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/hook",
                                 "http://[::ffff:169.254.169.254]/x"])
def test_ssrf_targets_are_refused(client, url):
    admin = signup(client, "hooks-ssrf")
    refused = client.post(_base(admin), headers=admin.headers, json={"url": url, "events": ["call.ended"]})
    assert refused.status_code == 422 and "not allowed" in refused.text
    assert client.get(_base(admin), headers=admin.headers).json() == []


def test_bad_input_is_422_with_a_message(client, receiver):
    admin = signup(client, "hooks-bad")
    for body in ({"url": receiver.url(), "events": []}, {"url": receiver.url(), "events": ["ping"]},
                 {"url": "ftp://example.com/x", "events": ["call.ended"]},
                 {"url": receiver.url(), "events": ["call.ended"], "secret": "mine"}):
        r = client.post(_base(admin), headers=admin.headers, json=body)
        assert r.status_code == 422, (body, r.text)
    made = _create(client, admin, receiver.url())
    r = client.put(f"{_base(admin)}/{made['id']}", headers=admin.headers, json={"url": "http://169.254.169.254/"})
    assert r.status_code == 422 and "not allowed" in r.text


def test_members_get_403_and_other_organizations_404(client, receiver):
    owner, stranger = signup(client, "hooks-owner"), signup(client, "hooks-stranger")
    member = add_member(client, owner, "hooks-member")
    made = _create(client, owner, receiver.url())
    stranger_agent = create_agent(client, stranger)
    delivery = client.post(f"{_base(owner)}/{made['id']}/test", headers=owner.headers).json()["delivery_id"]
    routes = [("get", ""), ("get", f"/{made['id']}"), ("put", f"/{made['id']}"), ("delete", f"/{made['id']}"),
              ("post", f"/{made['id']}/rotate-secret"), ("post", f"/{made['id']}/test"),
              ("get", f"/{made['id']}/deliveries"), ("post", f"/{made['id']}/deliveries/{delivery}/redeliver")]
    for method, path in routes:
        body = {"json": {"description": "x"}} if method == "put" else {}
        by_member = getattr(client, method)(_base(owner) + path, headers=member.headers, **body)
        by_stranger = getattr(client, method)(_base(owner) + path, headers=stranger.headers, **body)
        assert by_member.status_code == 403, (method, path, by_member.text)
        assert by_stranger.status_code == 404, (method, path, by_stranger.text)
    # the stranger's own organization does not reach the owner's webhook either
    assert client.get(f"{_base(stranger)}/{made['id']}", headers=stranger.headers).status_code == 404
    r = client.post(_base(owner), headers=owner.headers,
                    json={"url": receiver.url(), "events": ["call.ended"], "agent_id": stranger_agent["id"]})
    assert r.status_code == 404
    assert client.post(_base(stranger), headers=member.headers, json={"url": receiver.url(), "events": ["call.ended"]}).status_code == 404
