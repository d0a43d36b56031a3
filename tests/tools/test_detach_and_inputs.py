"""Detaching revokes a live Google grant; strict switch input; long invalid values are not echoed."""

from tests.tools.conftest import connect_google


def test_detach_revokes_the_google_grant(client, admin, agent, catalogue, fake_google):
    trip = connect_google(client, admin, agent["id"])
    assert trip["complete"].status_code == 200
    agent_tool_id = trip["complete"].json()["agent_tool_id"]
    refresh = next(iter(fake_google.state.refresh_tokens))
    assert client.delete(f"/api/v1/tools/agent/{agent_tool_id}", headers=admin.headers).status_code == 204
    assert refresh in fake_google.state.revoked


def test_function_switch_takes_a_real_boolean(client, admin, agent, catalogue):
    at = client.post("/api/v1/tools/agent", json={"agent_id": agent["id"], "tool_name": "Google_calendar"}, headers=admin.headers).json()
    url = f"/api/v1/tools/agent/{at['id']}/functions/book_appointment"
    assert client.put(url, json={"enabled": "yes"}, headers=admin.headers).status_code == 422
    r = client.put(url, json={"enabled": False}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["unselected_functions"] == ["book_appointment"]


def test_a_huge_invalid_value_is_not_echoed_back(client, admin, agent, catalogue):
    huge = "x" * 100_000
    r = client.post(
        "/api/v1/tools/agent",
        json={"agent_id": agent["id"], "tool_name": "Google_calendar", "config": {"calendar_id": huge}},
        headers=admin.headers,
    )
    assert r.status_code == 422 and len(r.text) < 2_000
