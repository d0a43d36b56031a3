"""Every org-scoped endpoint, asked by another organization's admin (404) and by a member without
the permission (403). A completeness check fails when a new scoped endpoint is not in the matrix.

API keys go through the same matrix: another organization's key gets 404, a read-only (member)
key gets the member's 403, a revoked key 401, and an org-admin key passes authorization wherever
the org admin does (except what only a person may do: 403 "API keys cannot ...")."""

from __future__ import annotations

import pytest

from tests.support.api import PASSWORD, Actor, add_member, create_agent, signup, unique_phone

# (method, path template, json body factory, member_expected)
# member_expected: the status a plain member gets (None = allowed, not checked here).
MATRIX: list[tuple[str, str, dict | None, int | None]] = [
    ("GET", "/api/v1/organizations/{org_id}", None, None),
    ("PUT", "/api/v1/organizations/{org_id}", {"name": "Renamed"}, 403),
    ("GET", "/api/v1/organizations/{org_id}/members", None, None),
    ("POST", "/api/v1/organizations/{org_id}/members", {"email": "{outsider_email}", "role": "member"}, 403),
    ("PUT", "/api/v1/organizations/{org_id}/members/{admin_id}", {"role": "member"}, 403),
    ("DELETE", "/api/v1/organizations/{org_id}/members/{admin_id}", None, 403),
    ("POST", "/api/v1/agents", {"organization_id": "{org_id}", "name": "Intruder"}, 403),
    ("GET", "/api/v1/agents/organization/{org_id}", None, None),
    ("GET", "/api/v1/agents/{agent_id}", None, None),
    ("PUT", "/api/v1/agents/{agent_id}", {"name": "Hijacked"}, 403),
    ("DELETE", "/api/v1/agents/{agent_id}", None, 403),
    ("POST", "/api/v1/tools/agent", {"agent_id": "{agent_id}", "tool_name": "Google_calendar"}, 403),
    ("GET", "/api/v1/tools/agent/{agent_id}", None, None),
    ("PUT", "/api/v1/tools/agent/{agent_tool_id}", {"is_enabled": False}, 403),
    ("PUT", "/api/v1/tools/agent/{agent_tool_id}/functions/{function_name}", {"enabled": False}, 403),
    ("DELETE", "/api/v1/tools/agent/{agent_tool_id}", None, 403),
    ("DELETE", "/api/v1/tools/agent/{agent_tool_id}/connection", None, 403),
    ("GET", "/api/v1/tools/auth/Google_calendar?agent_id={agent_id}", None, 403),
    ("GET", "/api/v1/calls/organization/{org_id}", None, None),
    ("GET", "/api/v1/organizations/{org_id}/overview", None, None),
    # Billing: members see the plan, usage and events; changing plan is billing:manage.
    ("GET", "/api/v1/organizations/{org_id}/billing", None, None),
    ("GET", "/api/v1/organizations/{org_id}/billing/events", None, None),
    ("PUT", "/api/v1/organizations/{org_id}/billing/plan", {"plan": "starter"}, 403),
    # Leaving needs only membership; the member's own leave is tested in test_members.
    ("POST", "/api/v1/organizations/{org_id}/leave", None, None),
    ("GET", "/api/v1/calls/{call_id}", None, None),
    # Authorised by a signed link rather than the bearer token: a wrong token is "not found".
    ("GET", "/api/v1/calls/{call_id}/recording?token=forged", None, None),
    # Invitations: members see the pending ones; creating and revoking is member:manage.
    ("POST", "/api/v1/organizations/{org_id}/invitations", {"email": "{outsider_email}"}, 403),
    ("GET", "/api/v1/organizations/{org_id}/invitations", None, None),
    ("DELETE", "/api/v1/organizations/{org_id}/invitations/{invitation_id}", None, 403),
    # The test chat is refused before any model is asked (agent:read, the agent's organization).
    ("POST", "/api/v1/agents/{agent_id}/test-chat", {"message": "hello"}, None),
    ("POST", "/api/v1/agents/{agent_id}/test-chat/{conversation_id}/end", None, None),
    # Phone numbers: members see them; buying, importing, assigning and releasing is org:manage.
    ("GET", "/api/v1/phone-numbers/organization/{org_id}", None, None),
    ("GET", "/api/v1/phone-numbers/organization/{org_id}/available?country=US", None, 403),
    ("POST", "/api/v1/phone-numbers/organization/{org_id}", {"phone_number": "+14155550142"}, 403),
    ("GET", "/api/v1/phone-numbers/organization/{org_id}/importable", None, 403),
    ("POST", "/api/v1/phone-numbers/organization/{org_id}/import", {"phone_number": "+14155550142"}, 403),
    ("PUT", "/api/v1/phone-numbers/{number_id}/agent", {"agent_id": "{agent_id}"}, 403),
    ("PUT", "/api/v1/phone-numbers/{number_id}/agent", {"agent_id": None}, 403),
    ("DELETE", "/api/v1/phone-numbers/{number_id}", None, 403),
    # API keys and the audit log: org admins only (org:manage).
    ("GET", "/api/v1/organizations/{org_id}/api-keys", None, 403),
    ("POST", "/api/v1/organizations/{org_id}/api-keys", {"name": "Intruder key", "role": "org_admin"}, 403),
    ("DELETE", "/api/v1/organizations/{org_id}/api-keys/{key_id}", None, 403),
    ("GET", "/api/v1/organizations/{org_id}/audit-log", None, 403),
    # Custom tools: members see them; adding, changing, refreshing, deleting and test runs is tool:configure.
    ("GET", "/api/v1/organizations/{org_id}/custom-tools", None, None),
    ("POST", "/api/v1/organizations/{org_id}/custom-tools", {"kind": "http", "name": "Intruder", "method": "GET",
                                                              "url": "http://93.184.215.14/orders"}, 403),
    ("GET", "/api/v1/organizations/{org_id}/custom-tools/{custom_tool_id}", None, None),
    ("PUT", "/api/v1/organizations/{org_id}/custom-tools/{custom_tool_id}", {"description": "Hijacked"}, 403),
    ("DELETE", "/api/v1/organizations/{org_id}/custom-tools/{custom_tool_id}", None, 403),
    ("POST", "/api/v1/organizations/{org_id}/custom-tools/{custom_tool_id}/refresh", None, 403),
    # A function the tool does not have: refused (422) before anything is called.
    ("POST", "/api/v1/organizations/{org_id}/custom-tools/{custom_tool_id}/test", {"function": "nope", "arguments": {}}, 403),
    # Webhooks: org admins only (org:manage).
    ("GET", "/api/v1/organizations/{org_id}/webhooks", None, 403),
    ("POST", "/api/v1/organizations/{org_id}/webhooks", {"url": "http://93.184.215.14/hooks", "events": ["call.ended"]}, 403),
    ("GET", "/api/v1/organizations/{org_id}/webhooks/{webhook_id}", None, 403),
    ("PUT", "/api/v1/organizations/{org_id}/webhooks/{webhook_id}", {"description": "Hijacked"}, 403),
    ("DELETE", "/api/v1/organizations/{org_id}/webhooks/{webhook_id}", None, 403),
    ("POST", "/api/v1/organizations/{org_id}/webhooks/{webhook_id}/rotate-secret", None, 403),
    ("POST", "/api/v1/organizations/{org_id}/webhooks/{webhook_id}/test", None, 403),
    ("GET", "/api/v1/organizations/{org_id}/webhooks/{webhook_id}/deliveries", None, 403),
    ("POST", "/api/v1/organizations/{org_id}/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", None, 403),
    # After the call: members read and export calls; re-running an analysis is agent:update (the
    # world's call is an open test chat: the org admin gets 409 "not ended yet").
    ("GET", "/api/v1/calls/organization/{org_id}/export.csv", None, None),
    ("POST", "/api/v1/calls/{call_id}/analysis", None, 403),
    # E-mailed summaries: any member, for themselves (an API key is no person: 403).
    ("GET", "/api/v1/organizations/{org_id}/call-summaries", None, None),
    ("PUT", "/api/v1/organizations/{org_id}/call-summaries", {"agent_ids": None}, None),
    ("DELETE", "/api/v1/organizations/{org_id}/call-summaries", None, None),
    # Calling out: the do-not-call list is read by members and changed with agent:update, like
    # placing a call (the admin gets 503 here: no Twilio in this run) and steering campaigns.
    ("GET", "/api/v1/organizations/{org_id}/do-not-call", None, None),
    ("POST", "/api/v1/organizations/{org_id}/do-not-call", {"number": "+14155550177"}, 403),
    ("DELETE", "/api/v1/organizations/{org_id}/do-not-call/{listed_number}", None, 403),
    ("POST", "/api/v1/agents/{agent_id}/calls", {"to": "+14155550178", "variables": {"name": "Ada"}}, 403),
    ("GET", "/api/v1/organizations/{org_id}/campaigns", None, None),
    ("POST", "/api/v1/organizations/{org_id}/campaigns", {"name": "Intruder", "agent_id": "{holder_id}",
                                                           "contacts": [{"to": "+14155550179"}]}, 403),
    ("GET", "/api/v1/organizations/{org_id}/campaigns/{campaign_id}", None, None),
    ("PUT", "/api/v1/organizations/{org_id}/campaigns/{campaign_id}", {"name": "Hijacked"}, 403),
    ("POST", "/api/v1/organizations/{org_id}/campaigns/{campaign_id}/start", None, 403),
    ("POST", "/api/v1/organizations/{org_id}/campaigns/{campaign_id}/pause", None, 403),
    ("POST", "/api/v1/organizations/{org_id}/campaigns/{campaign_id}/resume", None, 403),
    ("POST", "/api/v1/organizations/{org_id}/campaigns/{campaign_id}/cancel", None, 403),
]
# What an org admin's key may not do although an org admin may (it is a person's act): 403.
KEY_REFUSED = {
    ("POST", "/api/v1/organizations/{org_id}/leave"),
    ("GET", "/api/v1/tools/auth/Google_calendar?agent_id={agent_id}"),
    ("POST", "/api/v1/organizations/{org_id}/api-keys"),
    ("GET", "/api/v1/organizations/{org_id}/call-summaries"),
    ("PUT", "/api/v1/organizations/{org_id}/call-summaries"),
    ("DELETE", "/api/v1/organizations/{org_id}/call-summaries"),
}
# Answered 404 to the org admin too (a forged link, an invitation id that does not exist).
ADMIN_ALSO_404 = {
    ("POST", "/api/v1/organizations/{org_id}/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"),
    ("GET", "/api/v1/calls/{call_id}/recording?token=forged"),
    ("DELETE", "/api/v1/organizations/{org_id}/invitations/{invitation_id}"),
}

SCOPED_PARAMS = ("{org_id}", "{agent_id}", "{agent_tool_id}", "{user_id}", "{call_id}", "{number_id}")
# Scoped through the body or the query string rather than the path.
SCOPED_ELSEWHERE = {("POST", "/api/v1/agents"), ("POST", "/api/v1/tools/agent"), ("GET", "/api/v1/tools/auth/{tool_name}")}


def _fill(value, ctx: dict[str, str]):
    if isinstance(value, str):
        for key, val in ctx.items():
            value = value.replace("{" + key + "}", val)
        return value
    if isinstance(value, dict):
        return {k: _fill(v, ctx) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def client(test_database):
    """One app for the whole matrix (a new one per case re-ran start-up work ~230 times)."""
    from fastapi.testclient import TestClient

    from voice_platform.api import create_app

    with TestClient(create_app()) as c:
        yield c
    test_database.truncate()  # every world this module made, at its end


@pytest.fixture(autouse=True)
def _clean_tables():
    """Overrides the suite's per-test truncation: each world here is its own organization with
    unique e-mails, so cases cannot see each other's rows; the module's client fixture truncates
    once at the end."""
    yield


@pytest.fixture(scope="module")
def shared_world(client):
    """One world for every case that must be refused (and so changes nothing): 404, 403, 401."""
    return _build_world(client)


@pytest.fixture(scope="module")
def password_hash():
    """One real argon2 hash of the suite's PASSWORD, made once for the module."""
    from voice_platform import security

    return security.hash_password(PASSWORD)


@pytest.fixture()
def world(client, password_hash, monkeypatch):
    """A world of its own for the cases that pass authorization and may change it.

    Its three sign-ups go through the real API, but reuse the module's argon2 hash of PASSWORD
    (~0.2 s of CPU each, three times per case): the accounts still sign in with PASSWORD."""
    from voice_platform import security

    real = security.hash_password
    monkeypatch.setattr(security, "hash_password", lambda pw: password_hash if pw == PASSWORD else real(pw))
    built = _build_world(client)
    monkeypatch.undo()  # only the set-up is spared: the case itself hashes for real
    return built


def _build_world(client):
    admin = signup(client, "victim-admin")
    member = add_member(client, admin, "victim-member")
    outsider = signup(client, "outsider")
    agent = create_agent(client, admin)
    from voice_platform.db import session_scope
    from voice_platform.tools.registry import sync_with_db

    with session_scope() as session:
        sync_with_db(session)
    # A second agent holds the attachment, so attaching to the first one stays a valid request.
    holder = create_agent(client, admin, name="Holder")
    attached = client.post(
        "/api/v1/tools/agent", json={"agent_id": holder["id"], "tool_name": "Google_calendar"}, headers=admin.headers
    )
    assert attached.status_code == 201, attached.text
    import uuid

    from voice_platform.models import User
    from voice_platform.services import calls

    with session_scope() as session:
        call = calls.open_test_session(session, session.get(User, uuid.UUID(admin.user_id)), uuid.UUID(agent["id"]))
        call_id = str(call.id)
    # A number of the victim's organization, reaching the holder agent.
    number = client.put(f"/api/v1/agents/{holder['id']}", json={"phone_number": unique_phone()}, headers=admin.headers)
    assert number.status_code == 200, number.text
    (listed,) = client.get(f"/api/v1/phone-numbers/organization/{admin.org_id}", headers=admin.headers).json()
    target_key = _make_key(client, admin, "Target", "member")
    # An HTTP tool of the victim's organization (a public address: saving it connects to nothing).
    custom = client.post(f"/api/v1/organizations/{admin.org_id}/custom-tools", headers=admin.headers, json={
        "kind": "http", "name": "Orders", "method": "GET", "url": "http://93.184.215.14/orders"})
    assert custom.status_code == 201, custom.text
    hook = client.post(f"/api/v1/organizations/{admin.org_id}/webhooks", headers=admin.headers,
                       json={"url": "http://93.184.215.14/hooks", "events": ["call.ended"]})
    assert hook.status_code == 201, hook.text
    listed_number = "+14155550176"
    dnc = client.post(f"/api/v1/organizations/{admin.org_id}/do-not-call", headers=admin.headers,
                      json={"number": listed_number})
    assert dnc.status_code == 201, dnc.text
    campaign = client.post(f"/api/v1/organizations/{admin.org_id}/campaigns", headers=admin.headers, json={
        "name": "Reminders", "agent_id": holder["id"], "contacts": [{"to": "+14155550175"}]})
    assert campaign.status_code == 201, campaign.text
    ctx = {
        "listed_number": listed_number,
        "campaign_id": campaign.json()["id"],
        "holder_id": holder["id"],
        "webhook_id": hook.json()["id"],
        "delivery_id": str(uuid.uuid4()),  # refused before it is looked up (the org admin: 404)
        "key_id": target_key["id"],
        "number_id": listed["id"],
        "call_id": call_id,
        "conversation_id": call_id,  # a test chat of the victim's agent
        "invitation_id": str(uuid.uuid4()),  # refused before it is looked up
        "org_id": admin.org_id,
        "agent_id": agent["id"],
        "admin_id": admin.user_id,
        "outsider_email": outsider.email,
        "agent_tool_id": attached.json()["id"],
        "function_name": "book_appointment",
        "custom_tool_id": custom.json()["id"],
    }
    return admin, member, outsider, ctx


def _make_key(client, admin: Actor, name: str, role: str) -> dict:
    made = client.post(f"/api/v1/organizations/{admin.org_id}/api-keys", json={"name": name, "role": role},
                       headers=admin.headers)
    assert made.status_code == 201, made.text
    return made.json()


def _key_actor(client, admin: Actor, name: str, role: str, *, revoked: bool = False) -> Actor:
    made = _make_key(client, admin, name, role)
    if revoked:
        gone = client.delete(f"/api/v1/organizations/{admin.org_id}/api-keys/{made['id']}", headers=admin.headers)
        assert gone.status_code == 204, gone.text
    return Actor(email=f"API key {name}", token=made["secret"], user_id="", org_id=admin.org_id)


def _call(client, actor: Actor, method: str, path: str, body, ctx):
    return client.request(method, _fill(path, ctx), json=_fill(body, ctx) if body is not None else None, headers=actor.headers)


@pytest.mark.parametrize("method,path,body,_member", MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
def test_other_organization_gets_404(client, shared_world, method, path, body, _member):
    admin, _member_actor, outsider, ctx = shared_world
    r = _call(client, outsider, method, path, body, ctx)
    assert r.status_code == 404, r.text
    # and nothing changed for the owner
    assert client.get(f"/api/v1/agents/{ctx['agent_id']}", headers=admin.headers).json()["name"] == "Front desk"
    numbers = client.get(f"/api/v1/phone-numbers/organization/{ctx['org_id']}", headers=admin.headers).json()
    assert [(n["id"], n["agent_name"]) for n in numbers] == [(ctx["number_id"], "Holder")]


@pytest.mark.parametrize(
    "method,path,body,expected",
    [row for row in MATRIX if row[3] is not None],
    ids=[f"{m} {p}" for m, p, _, e in MATRIX if e is not None],
)
def test_member_without_permission_gets_403(client, shared_world, method, path, body, expected):
    admin, member, _outsider, ctx = shared_world
    r = _call(client, member, method, path, body, ctx)
    assert r.status_code == expected, r.text
    assert client.get(f"/api/v1/agents/{ctx['agent_id']}", headers=admin.headers).status_code == 200


def test_matrix_covers_every_scoped_endpoint(client):
    schema = client.get("/openapi.json").json()
    listed = {(m, p.split("?")[0].replace("{admin_id}", "{user_id}").replace("{listed_number}", "{number}"))
              for m, p, _, _ in MATRIX}
    listed |= {(m, p) for m, p in SCOPED_ELSEWHERE}
    missing = []
    for path, ops in schema["paths"].items():
        for method in ops:
            scoped = any(param in path for param in SCOPED_PARAMS) or (method.upper(), path) in SCOPED_ELSEWHERE
            if scoped and (method.upper(), path) not in listed:
                missing.append(f"{method.upper()} {path}")
    assert missing == []


# --- API keys -------------------------------------------------------------------------------
@pytest.mark.parametrize("method,path,body,_member", MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
def test_other_organizations_key_gets_404(client, shared_world, method, path, body, _member):
    admin, _member_actor, outsider, ctx = shared_world
    outsider_key = _key_actor(client, outsider, "Outsider admin key", "org_admin")
    r = _call(client, outsider_key, method, path, body, ctx)
    assert r.status_code == 404, r.text
    assert client.get(f"/api/v1/agents/{ctx['agent_id']}", headers=admin.headers).json()["name"] == "Front desk"


@pytest.mark.parametrize(
    "method,path,body,expected",
    [row for row in MATRIX if row[3] is not None],
    ids=[f"{m} {p}" for m, p, _, e in MATRIX if e is not None],
)
def test_read_only_key_is_refused_like_a_member(client, shared_world, method, path, body, expected):
    admin, _member, _outsider, ctx = shared_world
    reader = _key_actor(client, admin, "Reader", "member")
    r = _call(client, reader, method, path, body, ctx)
    assert r.status_code == expected, r.text
    assert client.get(f"/api/v1/agents/{ctx['agent_id']}", headers=admin.headers).json()["name"] == "Front desk"


@pytest.mark.parametrize("method,path,body,_member", MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
def test_revoked_key_gets_401(client, shared_world, method, path, body, _member):
    admin, _member_actor, _outsider, ctx = shared_world
    revoked = _key_actor(client, admin, "Old admin key", "org_admin", revoked=True)
    r = _call(client, revoked, method, path, body, ctx)
    if path.endswith("?token=forged"):  # authorised by the link, not the bearer token
        assert r.status_code == 404, r.text
        return
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("method,path,body,_member", MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
def test_admin_key_works_like_an_org_admin(client, world, method, path, body, _member):
    admin, _member_actor, _outsider, ctx = world
    key = _key_actor(client, admin, "Admin key", "org_admin")
    r = _call(client, key, method, path, body, ctx)
    if (method, path) in KEY_REFUSED:
        assert r.status_code == 403 and r.json()["detail"].startswith("API keys cannot"), r.text
        return
    assert r.status_code not in (401, 403), r.text
    if (method, path) not in ADMIN_ALSO_404:
        assert r.status_code != 404, r.text
    # 503: past every check, an integration this run does not configure (Twilio, Gemini)
    assert r.status_code < 500 or r.status_code == 503, r.text
