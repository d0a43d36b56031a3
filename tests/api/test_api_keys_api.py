"""API keys and the audit log through the real ASGI app: the secret once, a hash only, keys as
bearer tokens (their organization and role, nothing else), revocation, and the read-only log."""

from __future__ import annotations

import hashlib

from sqlmodel import select

from tests.support.api import Actor, add_member, create_agent, signup

BASE = "/api/v1/organizations/{org}/api-keys"


def _key(client, admin: Actor, name: str = "CRM sync", role: str = "member") -> dict:
    r = client.post(BASE.format(org=admin.org_id), json={"name": name, "role": role}, headers=admin.headers)
    assert r.status_code == 201, r.text
    return r.json()


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_create_returns_the_secret_once_and_the_list_never(client):
    admin = signup(client, "keys-api")
    made = _key(client, admin)
    assert made["secret"].startswith("vp_") and len(made["secret"]) >= 43
    assert (made["name"], made["role"], made["prefix"], made["created_by"]) == (
        "CRM sync", "member", made["secret"][:11], admin.email)
    listed = client.get(BASE.format(org=admin.org_id), headers=admin.headers)
    assert listed.status_code == 200
    assert [k["id"] for k in listed.json()] == [made["id"]]
    assert "secret" not in listed.json()[0] and made["secret"] not in listed.text
    from voice_platform.db import session_scope
    from voice_platform.models import ApiKey

    with session_scope() as session:
        (row,) = session.exec(select(ApiKey)).all()
        assert row.key_hash == hashlib.sha256(made["secret"].encode()).hexdigest()
        assert made["secret"] not in str(row.model_dump())


def test_a_key_is_a_bearer_token_for_its_organization(client):
    admin = signup(client, "keys-bearer")
    agent = create_agent(client, admin)
    reader = _bearer(_key(client, admin, "reader", "member")["secret"])
    writer = _bearer(_key(client, admin, "writer", "org_admin")["secret"])
    assert client.get(f"/api/v1/agents/{agent['id']}", headers=reader).json()["name"] == "Front desk"
    refused = client.put(f"/api/v1/agents/{agent['id']}", json={"name": "Nope"}, headers=reader)
    assert refused.status_code == 403
    assert client.put(f"/api/v1/agents/{agent['id']}", json={"name": "By key"}, headers=writer).status_code == 200
    (org,) = client.get("/api/v1/organizations", headers=writer).json()
    assert (org["id"], org["role"]) == (admin.org_id, "org_admin")
    # what only a person has
    for method, path, body in (("GET", "/api/v1/auth/user", None), ("PUT", "/api/v1/auth/user", {"full_name": "Bot"}),
                               ("POST", "/api/v1/auth/signout", None),
                               ("POST", "/api/v1/auth/password", {"current_password": "x" * 8, "new_password": "y" * 8})):
        r = client.request(method, path, json=body, headers=writer)
        assert r.status_code == 403 and r.json()["detail"].startswith("API keys cannot"), (path, r.text)
    created = client.post("/api/v1/organizations", json={"name": "Key Co"}, headers=writer)
    assert created.status_code == 403 and "API keys cannot create organizations" in created.json()["detail"]
    child = client.post(BASE.format(org=admin.org_id), json={"name": "child", "role": "member"}, headers=writer)
    assert child.status_code == 403
    # the audit log names the key
    log = client.get(f"/api/v1/organizations/{admin.org_id}/audit-log", params={"action": "agent.updated"},
                     headers=admin.headers).json()
    assert [(e["actor"], e["changes"]) for e in log["items"]] == [
        ("API key writer", {"before": {"name": "Front desk"}, "after": {"name": "By key"}})]


def test_revoked_key_is_refused_and_revoking_is_for_admins(client):
    admin = signup(client, "keys-revoke-api")
    member = add_member(client, admin, "keys-revoke-member")
    made = _key(client, admin, "temporary", "org_admin")
    assert client.get(f"/api/v1/organizations/{admin.org_id}", headers=_bearer(made["secret"])).status_code == 200
    url = BASE.format(org=admin.org_id) + "/" + made["id"]
    assert client.delete(url, headers=member.headers).status_code == 403
    assert client.get(BASE.format(org=admin.org_id), headers=member.headers).status_code == 403
    assert client.delete(url, headers=admin.headers).status_code == 204
    r = client.get(f"/api/v1/organizations/{admin.org_id}", headers=_bearer(made["secret"]))
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/v1/agents/organization/" + admin.org_id, headers=_bearer("vp_unknown")).status_code == 401
    (listed,) = client.get(BASE.format(org=admin.org_id), headers=admin.headers).json()
    assert listed["revoked_at"] is not None
    assert client.delete(url, headers=admin.headers).status_code == 204  # idempotent


def test_invalid_input_is_422(client):
    admin = signup(client, "keys-422")
    for body in ({"name": "", "role": "member"}, {"name": "x", "role": "platform_admin"}, {"name": "x" * 101},
                 {"name": "ok", "role": "member", "secret": "mine"}):
        assert client.post(BASE.format(org=admin.org_id), json=body, headers=admin.headers).status_code == 422, body


def test_audit_log_is_read_only_filtered_and_paged(client):
    admin = signup(client, "audit-api")
    member = add_member(client, admin, "audit-member")
    create_agent(client, admin, name="One")
    create_agent(client, admin, name="Two")
    _key(client, admin, "robot", "member")
    url = f"/api/v1/organizations/{admin.org_id}/audit-log"
    everything = client.get(url, headers=admin.headers).json()
    assert everything["total"] == 4  # member added, two agents, one key
    assert [e["action"] for e in everything["items"]] == ["api_key.created", "agent.created", "agent.created", "member.added"]
    first = everything["items"][1]
    assert first["actor"] == admin.email and first["actor_user_id"] == admin.user_id and first["target_type"] == "agent"
    assert first["changes"]["after"]["name"] == "Two"
    page = client.get(url, params={"action": "agent", "offset": 1, "limit": 1}, headers=admin.headers).json()
    assert (page["total"], page["offset"], page["limit"], [e["summary"] for e in page["items"]]) == (
        2, 1, 1, ["Created agent 'One'"])
    assert client.get(url, params={"actor": "nobody"}, headers=admin.headers).json()["total"] == 0
    assert client.get(url, params={"since": "2999-01-01T00:00:00Z"}, headers=admin.headers).json()["total"] == 0
    assert client.get(url, params={"limit": 0}, headers=admin.headers).status_code == 422
    assert client.get(url, headers=member.headers).status_code == 403
    outsider = signup(client, "audit-outsider")
    assert client.get(url, headers=outsider.headers).status_code == 404
    for method in ("POST", "PUT", "PATCH", "DELETE"):  # nobody edits the log
        assert client.request(method, url, json={}, headers=admin.headers).status_code == 405
