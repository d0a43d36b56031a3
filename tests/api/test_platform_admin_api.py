"""The platform admin's catalogue and organizations, through the real app; everyone else is refused."""

from __future__ import annotations

import uuid

import pytest

from tests.support.api import Actor, add_member, create_agent, signup


@pytest.fixture()
def platform_admin(client) -> Actor:
    from sqlmodel import update

    from voice_platform.db import session_scope
    from voice_platform.models import User

    actor = signup(client, "root")
    with session_scope() as session:
        session.execute(update(User).where(User.id == uuid.UUID(actor.user_id)).values(is_platform_admin=True))
    return actor


def test_organizations_with_member_and_agent_counts(client, platform_admin):
    alpha = signup(client, "alpha", org="Alpha Dental")
    add_member(client, alpha)
    for name in ("Front", "Back"):
        create_agent(client, alpha, name=name)
    signup(client, "beta", org="Beta Bakery")
    r = client.get("/api/v1/admin/organizations", params={"q": "dental"}, headers=platform_admin.headers)
    assert r.status_code == 200, r.text
    [row] = r.json()["items"]
    assert (row["name"], row["members"], row["agents"]) == ("Alpha Dental", 2, 2)
    everything = client.get("/api/v1/admin/organizations", params={"limit": 200}, headers=platform_admin.headers).json()
    assert {"Alpha Dental", "Beta Bakery"} <= {o["name"] for o in everything["items"]}
    assert everything["total"] >= 3  # the admin's own organization too


def test_tool_catalogue_lists_every_tool_with_its_functions_and_use(client, platform_admin):
    from voice_platform.db import session_scope
    from voice_platform.tools.registry import sync_with_db

    with session_scope() as session:
        sync_with_db(session)
    owner = signup(client, "owner")
    agent = create_agent(client, owner)
    client.post("/api/v1/tools/agent", json={"agent_id": agent["id"], "tool_name": "Call_control"},
                headers=owner.headers).raise_for_status()
    r = client.get("/api/v1/admin/tools", headers=platform_admin.headers)
    assert r.status_code == 200, r.text
    tools = {t["name"]: t for t in r.json()}
    assert tools["Call_control"]["functions"] == ["do_not_call", "end_call", "transfer_call"]
    assert tools["Call_control"]["agents"] == 1 and tools["Call_control"]["agents_enabled"] == 1
    assert tools["Call_control"]["is_active"] is True
    assert tools["Google_calendar"]["agents"] == 0 and tools["Google_calendar"]["last_changed"]


def test_organizations_are_paginated(client, platform_admin):
    for name in ("Page A", "Page B", "Page C"):
        signup(client, name.lower().replace(" ", "-"), org=name)
    first = client.get("/api/v1/admin/organizations", params={"q": "page ", "limit": 2}, headers=platform_admin.headers).json()
    second = client.get("/api/v1/admin/organizations", params={"q": "page ", "limit": 2, "offset": 2},
                        headers=platform_admin.headers).json()
    assert first["total"] == second["total"] == 3
    assert [o["name"] for o in first["items"] + second["items"]] == ["Page A", "Page B", "Page C"]
    assert client.get("/api/v1/admin/organizations", params={"limit": 0}, headers=platform_admin.headers).status_code == 422


def test_there_is_no_switch_for_catalogue_tools(client, platform_admin):
    """The sync would switch a tool still in the code back on, so the catalogue is read-only."""
    assert client.put(f"/api/v1/admin/tools/{uuid.uuid4()}", json={"is_active": False},
                      headers=platform_admin.headers).status_code in (404, 405)


def test_everyone_else_is_refused(client):
    org_admin = signup(client, "not-root")
    for path in ("/api/v1/admin/tools", "/api/v1/admin/organizations"):
        assert client.get(path, headers=org_admin.headers).status_code == 403
        assert client.get(path).status_code == 401
