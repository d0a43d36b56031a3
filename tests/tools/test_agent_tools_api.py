"""Per-agent tool configuration through the API: validation, function switches, secrets, tenancy."""

from __future__ import annotations

import uuid

from sqlmodel import select

from tests.support.api import add_member, create_agent, signup
from tests.tools.conftest import attach
from voice_platform.db import session_scope
from voice_platform.models import AgentTool, PlatformTool

SECRET = "sk-live-very-secret-value"


def _detail_field(r) -> str:
    return r.json()["detail"][0]["loc"][-1]


def test_catalogue_lists_active_tools_with_function_schemas(client, admin, catalogue):
    r = client.get("/api/v1/tools/platform", params={"only_active": True}, headers=admin.headers)
    assert r.status_code == 200
    tools = {t["name"]: t for t in r.json()}
    assert set(tools) == {"Call_control", "Google_calendar", "Test_weather"}
    fns = {f["name"] for f in tools["Google_calendar"]["tool_functions_schema"]["functions"]}
    assert "book_appointment" in fns
    assert tools["Test_weather"]["secret_fields"] == ["api_key"]


def test_only_platform_admins_resync_the_catalogue(client, admin, test_database):
    r = client.post("/api/v1/tools/platform", headers=admin.headers)
    assert r.status_code == 403
    with session_scope() as session:
        from voice_platform.models import User

        user = session.exec(select(User).where(User.email == admin.email)).one()
        user.is_platform_admin = True
    r = client.post("/api/v1/tools/platform", headers=admin.headers)
    assert r.status_code == 200, r.text
    assert "Google_calendar" in r.json()["inserted"] + r.json()["unchanged"]


def test_attach_validates_config_against_schema_with_failing_field(client, admin, agent, catalogue):
    body = {"agent_id": agent["id"], "tool_name": "Google_calendar"}
    r = client.post("/api/v1/tools/agent", json={**body, "config": {"default_duration_minutes": 1}}, headers=admin.headers)
    assert r.status_code == 422 and _detail_field(r) == "default_duration_minutes"
    r = client.post("/api/v1/tools/agent", json={**body, "config": {"business_hours_start": "9am"}}, headers=admin.headers)
    assert r.status_code == 422 and _detail_field(r) == "business_hours_start"
    r = client.post("/api/v1/tools/agent", json={**body, "config": {"colour": "red"}}, headers=admin.headers)
    assert r.status_code == 422 and _detail_field(r) == "colour"
    r = client.post("/api/v1/tools/agent", json={**body, "unselected_functions": ["no_such_fn"]}, headers=admin.headers)
    assert r.status_code == 422 and _detail_field(r) == "unselected_functions"
    created = attach(client, admin, agent["id"], "Google_calendar", config={"calendar_id": "primary", "time_zone": "Europe/Paris"})
    assert created["enabled_functions"] == ["book_appointment", "cancel_appointment", "check_availability", "list_upcoming_events"]
    assert created["has_credentials"] is False and created["connected_account"] is None
    r = client.post("/api/v1/tools/agent", json=body, headers=admin.headers)
    assert r.status_code == 409


def test_function_switches_and_stale_names(client, admin, agent, catalogue):
    at = attach(client, admin, agent["id"], "Google_calendar")
    url = f"/api/v1/tools/agent/{at['id']}"
    r = client.put(url, json={"unselected_functions": ["cancel_appointment"]}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["unselected_functions"] == ["cancel_appointment"]
    r = client.put(f"{url}/functions/book_appointment", json={"enabled": False}, headers=admin.headers)
    assert r.json()["unselected_functions"] == ["cancel_appointment", "book_appointment"]
    r = client.put(f"{url}/functions/cancel_appointment", json={"enabled": True}, headers=admin.headers)
    assert r.json()["unselected_functions"] == ["book_appointment"]
    assert client.put(f"{url}/functions/nope", json={"enabled": False}, headers=admin.headers).status_code == 422
    # The tool loses a function in code: the stale name disappears from views, and from the row on the next write.
    with session_scope() as session:
        row = session.get(AgentTool, uuid.UUID(at["id"]))
        row.unselected_functions = ["book_appointment", "legacy_fn"]
    listed = client.get(f"/api/v1/tools/agent/{agent['id']}", headers=admin.headers).json()
    assert listed[0]["unselected_functions"] == ["book_appointment"]
    r = client.put(url, json={"is_enabled": False}, headers=admin.headers)
    assert r.json()["is_enabled"] is False
    with session_scope() as session:
        assert session.get(AgentTool, uuid.UUID(at["id"])).unselected_functions == ["book_appointment"]


def test_secret_fields_are_write_only_and_encrypted(client, admin, agent, catalogue):
    r = client.post("/api/v1/tools/agent", json={"agent_id": agent["id"], "tool_name": "Test_weather", "config": {"units": "metric"}}, headers=admin.headers)
    assert r.status_code == 422 and _detail_field(r) == "api_key"
    r = client.post("/api/v1/tools/agent", json={"agent_id": agent["id"], "tool_name": "Test_weather", "config": {"api_key": "short"}}, headers=admin.headers)
    assert r.status_code == 422 and "short" not in r.text  # a secret never echoes back, even invalid
    at = attach(client, admin, agent["id"], "Test_weather", config={"units": "imperial", "api_key": SECRET})
    assert at["secrets_set"] == ["api_key"] and at["config"] == {"units": "imperial"}
    responses = [
        client.get(f"/api/v1/tools/agent/{agent['id']}", headers=admin.headers),
        client.put(f"/api/v1/tools/agent/{at['id']}", json={"config": {"units": "metric"}}, headers=admin.headers),  # secret kept
        client.get("/api/v1/tools/platform", headers=admin.headers),
    ]
    for r in responses:
        assert r.status_code == 200 and SECRET not in r.text
    assert responses[1].json()["secrets_set"] == ["api_key"]
    with session_scope() as session:
        row = session.get(AgentTool, uuid.UUID(at["id"]))
        assert SECRET not in row.sensitive_config and "api_key" not in row.config
    r = client.put(f"/api/v1/tools/agent/{at['id']}", json={"config": {"api_key": None}}, headers=admin.headers)
    assert r.status_code == 422  # required secret cannot be cleared


def test_member_without_tool_configure_can_read_but_not_write(client, admin, agent, catalogue):
    at = attach(client, admin, agent["id"], "Google_calendar")
    member = add_member(client, admin)
    assert client.get(f"/api/v1/tools/agent/{agent['id']}", headers=member.headers).status_code == 200
    url = f"/api/v1/tools/agent/{at['id']}"
    assert client.put(url, json={"is_enabled": False}, headers=member.headers).status_code == 403
    assert client.put(f"{url}/functions/book_appointment", json={"enabled": False}, headers=member.headers).status_code == 403
    assert client.delete(url, headers=member.headers).status_code == 403
    assert client.delete(f"{url}/connection", headers=member.headers).status_code == 403
    assert client.post("/api/v1/tools/agent", json={"agent_id": agent["id"], "tool_name": "Test_weather"}, headers=member.headers).status_code == 403
    r = client.get("/api/v1/tools/auth/Google_calendar", params={"agent_id": agent["id"]}, headers=member.headers)
    assert r.status_code == 403


def test_other_organization_gets_not_found(client, admin, agent, catalogue):
    at = attach(client, admin, agent["id"], "Google_calendar")
    stranger = signup(client, "stranger")
    url = f"/api/v1/tools/agent/{at['id']}"
    assert client.get(f"/api/v1/tools/agent/{agent['id']}", headers=stranger.headers).status_code == 404
    assert client.put(url, json={"is_enabled": False}, headers=stranger.headers).status_code == 404
    assert client.delete(url, headers=stranger.headers).status_code == 404
    assert client.post("/api/v1/tools/agent", json={"agent_id": agent["id"], "tool_name": "Test_weather"}, headers=stranger.headers).status_code == 404
    assert client.get("/api/v1/tools/auth/Google_calendar", params={"agent_id": agent["id"]}, headers=stranger.headers).status_code == 404
    with session_scope() as session:
        assert session.get(AgentTool, uuid.UUID(at["id"])).is_enabled is True


def test_detach_and_inactive_tools(client, admin, agent, catalogue):
    at = attach(client, admin, agent["id"], "Test_weather", config={"api_key": SECRET})
    assert client.delete(f"/api/v1/tools/agent/{at['id']}", headers=admin.headers).status_code == 204
    assert client.get(f"/api/v1/tools/agent/{agent['id']}", headers=admin.headers).json() == []
    with session_scope() as session:
        session.exec(select(PlatformTool).where(PlatformTool.name == "Test_weather")).one().is_active = False
    r = client.post("/api/v1/tools/agent", json={"agent_id": agent["id"], "tool_name": "Test_weather", "config": {"api_key": SECRET}}, headers=admin.headers)
    assert r.status_code == 422


def test_tools_page_view_for_the_dashboard(client, admin, agent, catalogue, test_database):
    from voice_platform.models import User
    from voice_platform.services import tools as tool_service

    at = attach(client, admin, agent["id"], "Google_calendar", unselected_functions=["cancel_appointment"])
    member = add_member(client, admin)
    with session_scope() as session:
        actor = session.exec(select(User).where(User.email == admin.email)).one()
        page = tool_service.agent_tools_page(session, actor, uuid.UUID(agent["id"]))
        reader = session.exec(select(User).where(User.email == member.email)).one()
        assert tool_service.agent_tools_page(session, reader, uuid.UUID(agent["id"])).can_configure is False
    assert page.can_configure is True
    entries = {e.tool.name: e for e in page.entries}
    cal = entries["Google_calendar"]
    assert str(cal.attachment.id) == at["id"]
    assert {f.name: f.enabled for f in cal.functions}["cancel_appointment"] is False
    book = next(f for f in cal.functions if f.name == "book_appointment")
    params = {p.name: p for p in book.parameters}
    assert params["title"].required and params["title"].type == "string"
    assert params["duration_minutes"].type == "integer | null" and not params["duration_minutes"].required
    assert entries["Test_weather"].attachment is None and all(f.enabled for f in entries["Test_weather"].functions)
