"""/api/v1/organizations/{org_id}/custom-tools through the real app: the contract, secrets never
answered, tenant scope, attaching through /tools/agent and the Test run."""

from __future__ import annotations

import importlib.util

import pytest

from tests.services.test_custom_tools import SECRET, http_api, loopback_allowed, mcp_server  # noqa: F401 - fixtures
from tests.support.api import add_member, create_agent, signup

BODY_KEYS = {"id", "tool_id", "kind", "name", "description", "url", "headers_set", "functions"}


def _base(actor) -> str:
    return f"/api/v1/organizations/{actor.org_id}/custom-tools"


def test_mcp_server_round_trip(client, loopback_allowed, mcp_server):  # noqa: F811
    admin = signup(client, "api-mcp")
    made = client.post(_base(admin), headers=admin.headers, json={
        "kind": "mcp", "name": "Shop", "description": "Orders", "url": mcp_server.url, "headers": {"Authorization": SECRET}})
    assert made.status_code == 201, made.text
    body = made.json()
    assert BODY_KEYS <= set(body) and body["headers_set"] == ["Authorization"]
    assert [f["name"] for f in body["functions"]] == ["check_stock", "lookup_order"]
    assert set(body["functions"][0]) == {"name", "description", "parameters"}
    agent = create_agent(client, admin)
    attached = client.post("/api/v1/tools/agent", headers=admin.headers,
                           json={"agent_id": agent["id"], "tool_id": body["tool_id"], "unselected_functions": ["check_stock"]})
    assert attached.status_code == 201, attached.text
    assert attached.json()["enabled_functions"] == ["lookup_order"]
    listed = client.get(_base(admin), headers=admin.headers)
    one = client.get(f"{_base(admin)}/{body['id']}", headers=admin.headers)
    refreshed = client.post(f"{_base(admin)}/{body['id']}/refresh", headers=admin.headers)
    assert refreshed.status_code == 200 and refreshed.json()["functions"] == body["functions"]
    catalogue = client.get("/api/v1/tools/platform", headers=admin.headers)
    assert {t["display_name"] for t in catalogue.json() if t["id"] == body["tool_id"]} == {"Shop"}
    for answer in (made, listed, one, refreshed, attached, catalogue):
        assert "sk-live" not in answer.text
    audit = client.get(f"/api/v1/organizations/{admin.org_id}/audit-log", headers=admin.headers)
    assert audit.status_code == 200 and "sk-live" not in audit.text and "custom_created" in audit.text


def test_unreachable_mcp_is_422_and_nothing_stored(client, loopback_allowed):  # noqa: F811
    admin = signup(client, "api-down")
    refused = client.post(_base(admin), headers=admin.headers,
                          json={"kind": "mcp", "name": "Down", "url": "http://127.0.0.1:1/mcp"})
    assert refused.status_code == 422 and "could not connect" in refused.text
    assert client.get(_base(admin), headers=admin.headers).json() == []


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/orders"])
def test_ssrf_targets_are_refused(client, url):
    admin = signup(client, "api-ssrf")
    refused = client.post(_base(admin), headers=admin.headers, json={"kind": "http", "name": "Meta", "url": url})
    assert refused.status_code == 422 and "not allowed" in refused.text
    assert client.get(_base(admin), headers=admin.headers).json() == []


def test_http_tool_validation_and_update(client, loopback_allowed, http_api):  # noqa: F811
    admin = signup(client, "api-http")
    bad = client.post(_base(admin), headers=admin.headers, json={
        "kind": "http", "name": "Lookup", "url": http_api.url("/orders/{order_id}"),
        "parameters": {"type": "object", "properties": {"order_id": {"type": "string", "pattern": "^A"}}}})
    assert bad.status_code == 422 and "pattern" in bad.text
    made = client.post(_base(admin), headers=admin.headers, json={
        "kind": "http", "name": "Lookup", "method": "GET", "url": http_api.url("/orders/{order_id}"),
        "headers": {"X-Api-Key": SECRET}, "timeout_seconds": 5,
        "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}})
    assert made.status_code == 201, made.text
    assert made.json()["method"] == "GET" and made.json()["timeout_seconds"] == 5
    changed = client.put(f"{_base(admin)}/{made.json()['id']}", headers=admin.headers,
                         json={"timeout_seconds": 12, "headers": {"X-Api-Key": ""}})
    assert changed.status_code == 200 and changed.json()["headers_set"] == [] and changed.json()["timeout_seconds"] == 12


def test_other_org_and_members(client, loopback_allowed, http_api):  # noqa: F811
    owner, stranger = signup(client, "api-owner"), signup(client, "api-stranger")
    member = add_member(client, owner)
    made = client.post(_base(owner), headers=owner.headers, json={
        "kind": "http", "name": "Orders", "url": http_api.url("/orders/{order_id}"),
        "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}}}).json()
    assert client.get(f"{_base(owner)}/{made['id']}", headers=stranger.headers).status_code == 404
    assert client.get(f"{_base(stranger)}/{made['id']}", headers=stranger.headers).status_code == 404
    their_agent = create_agent(client, stranger)
    attach = client.post("/api/v1/tools/agent", headers=stranger.headers, json={"agent_id": their_agent["id"], "tool_id": made["tool_id"]})
    assert attach.status_code == 404
    assert made["tool_id"] not in {t["id"] for t in client.get("/api/v1/tools/platform", headers=stranger.headers).json()}
    assert client.get(_base(owner), headers=member.headers).status_code == 200
    assert client.delete(f"{_base(owner)}/{made['id']}", headers=member.headers).status_code == 403


def test_delete_detaches(client, loopback_allowed, http_api):  # noqa: F811
    admin = signup(client, "api-delete")
    agent = create_agent(client, admin)
    made = client.post(_base(admin), headers=admin.headers, json={"kind": "http", "name": "Hours", "url": http_api.url("/text")}).json()
    assert client.post("/api/v1/tools/agent", headers=admin.headers,
                       json={"agent_id": agent["id"], "tool_id": made["tool_id"]}).status_code == 201
    assert client.delete(f"{_base(admin)}/{made['id']}", headers=admin.headers).status_code == 204
    assert client.get(f"/api/v1/tools/agent/{agent['id']}", headers=admin.headers).json() == []
    assert client.get(f"{_base(admin)}/{made['id']}", headers=admin.headers).status_code == 404


@pytest.mark.skipif(importlib.util.find_spec("voice_platform.runtime.custom_tools") is None,
                    reason="the runtime's run_once is not there yet")
def test_test_run_reaches_the_server_with_the_secret_header(client, loopback_allowed, http_api):  # noqa: F811
    admin = signup(client, "api-test-run")
    made = client.post(_base(admin), headers=admin.headers, json={
        "kind": "http", "name": "Lookup", "url": http_api.url("/orders/{order_id}"), "headers": {"Authorization": SECRET},
        "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}).json()
    ran = client.post(f"{_base(admin)}/{made['id']}/test", headers=admin.headers,
                      json={"function": "lookup", "arguments": {"order_id": "A-1"}})
    assert ran.status_code == 200, ran.text
    body = ran.json()
    assert set(body) == {"output", "is_error", "duration_ms"} and body["is_error"] is False
    assert "shipped" in str(body["output"]) and "sk-live" not in ran.text
    assert http_api.requests[-1]["headers"]["authorization"] == SECRET
    unknown = client.post(f"{_base(admin)}/{made['id']}/test", headers=admin.headers, json={"function": "nope", "arguments": {}})
    assert unknown.status_code == 422
