"""Small helpers to act as a user through the real ASGI app."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from fastapi.testclient import TestClient

PASSWORD = "correct horse battery"


@dataclass
class Actor:
    email: str
    token: str
    user_id: str
    org_id: str | None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def signup(client: TestClient, prefix: str = "user", org: str | None = None) -> Actor:
    email = f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"
    r = client.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD, "organization_name": org or f"{prefix} org"})
    assert r.status_code == 201, r.text
    body = r.json()
    return Actor(email=email, token=body["access_token"], user_id=body["user"]["id"], org_id=body["organization_id"])


def add_member(client: TestClient, admin: Actor, prefix: str = "member", role: str = "member") -> Actor:
    member = signup(client, prefix)
    r = client.post(f"/api/v1/organizations/{admin.org_id}/members", json={"email": member.email, "role": role}, headers=admin.headers)
    assert r.status_code == 201, r.text
    member.org_id = admin.org_id
    return member


def create_agent(client: TestClient, actor: Actor, **fields) -> dict:
    body = {"organization_id": actor.org_id, "name": "Front desk", **fields}
    r = client.post("/api/v1/agents", json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    return r.json()


def set_plan(client: TestClient, admin: Actor, plan: str) -> dict:
    """Switch the admin's organization to ``plan`` (free | starter | pro) through the billing API."""
    r = client.put(f"/api/v1/organizations/{admin.org_id}/billing/plan", json={"plan": plan}, headers=admin.headers)
    assert r.status_code == 200, r.text
    return r.json()


def unique_phone() -> str:
    return "+1415" + str(uuid.uuid4().int)[:7]
