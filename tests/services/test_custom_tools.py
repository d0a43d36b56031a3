"""Custom tools in the services: MCP discovery against a real MCP server, HTTP tool validation,
the SSRF guard, refresh semantics on attached agents, tenant scope and secret headers."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator

import pytest
from sqlmodel import select

from tests.fakes.http_api import FakeHttpApi
from tests.fakes.mcp_server import FakeMcpServer
from tests.support.api import add_member, create_agent, signup
from voice_platform.db import session_scope
from voice_platform.errors import NotFound, PermissionDenied, ValidationFailed
from voice_platform.models import AgentTool, AuditEvent, CustomTool, PlatformTool, User
from voice_platform.services import custom_tools, outbound, tools
from voice_platform.settings import reset_settings_cache

SECRET = "Bearer sk-live-" + "9" * 24


@pytest.fixture()
def loopback_allowed() -> Iterator[None]:
    """What the tests' servers need: loopback allowed, nothing else."""
    before = os.environ.get("OUTBOUND_ALLOWED_NETWORKS")
    os.environ["OUTBOUND_ALLOWED_NETWORKS"] = "127.0.0.0/8"
    reset_settings_cache()
    yield
    if before is None:
        os.environ.pop("OUTBOUND_ALLOWED_NETWORKS", None)
    else:
        os.environ["OUTBOUND_ALLOWED_NETWORKS"] = before
    reset_settings_cache()


@pytest.fixture()
def mcp_server() -> Iterator[FakeMcpServer]:
    with FakeMcpServer() as server:
        yield server


@pytest.fixture()
def http_api() -> Iterator[FakeHttpApi]:
    with FakeHttpApi() as api:
        yield api


def _user(actor) -> uuid.UUID:
    return uuid.UUID(actor.user_id)


def _mcp(org_id, url, **extra) -> dict:
    return {"kind": "mcp", "name": "Shop", "description": "Orders and stock", "url": url, "headers": {}, **extra}


def _http(url, **extra) -> dict:
    return {"kind": "http", "name": "Order lookup", "description": "Find an order", "method": "GET", "url": url,
            "headers": {}, "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}},
                                          "required": ["order_id"]}, "timeout_seconds": 5, **extra}


def test_mcp_server_is_listed_and_stored(client, loopback_allowed, mcp_server):
    admin = signup(client, "mcp")
    with session_scope() as session:
        user = session.get(User, _user(admin))
        view = custom_tools.create_custom_tool(session, user, uuid.UUID(admin.org_id),
                                               _mcp(admin.org_id, mcp_server.url, headers={"Authorization": SECRET}))
    assert [f["name"] for f in view.functions] == ["check_stock", "lookup_order"]
    assert view.functions[1]["parameters"]["properties"]["order_id"]["type"] == "string"
    assert view.headers_set == ["Authorization"]
    assert any(r["headers"].get("authorization") == SECRET for r in mcp_server.requests)
    with session_scope() as session:
        row = session.get(PlatformTool, view.tool_id)
        assert (row.name, row.title, row.kind, str(row.organization_id)) == (
            "custom_" + view.id.hex[:12], "Shop", "mcp", admin.org_id)
        stored = session.get(CustomTool, view.id)
        assert SECRET not in (stored.headers_encrypted or "") and stored.header_names == ["Authorization"]


def test_unreachable_server_is_422_and_nothing_is_stored(client, loopback_allowed, http_api):
    admin = signup(client, "mcp-down")
    with session_scope() as session:
        user = session.get(User, _user(admin))
        with pytest.raises(ValidationFailed) as refused:
            custom_tools.create_custom_tool(session, user, uuid.UUID(admin.org_id), _mcp(admin.org_id, "http://127.0.0.1:1/mcp"))
        assert refused.value.status_code == 422 and refused.value.field == "url"
        assert "could not connect" in refused.value.message
        with pytest.raises(ValidationFailed) as protocol:  # an HTTP server that is no MCP server
            custom_tools.create_custom_tool(session, user, uuid.UUID(admin.org_id), _mcp(admin.org_id, http_api.url("/status/404")))
        assert protocol.value.field == "url" and "MCP server" in protocol.value.message
    with session_scope() as session:
        assert session.exec(select(CustomTool).where(CustomTool.organization_id == uuid.UUID(admin.org_id))).all() == []
        assert session.exec(select(PlatformTool).where(PlatformTool.organization_id == uuid.UUID(admin.org_id))).all() == []


def test_refresh_adds_switched_off_drops_removed_and_updates_changed(client, loopback_allowed, mcp_server):
    admin = signup(client, "refresh")
    agent = create_agent(client, admin)
    org = uuid.UUID(admin.org_id)
    with session_scope() as session:
        user = session.get(User, _user(admin))
        view = custom_tools.create_custom_tool(session, user, org, _mcp(admin.org_id, mcp_server.url))
        attached = tools.attach_tool(session, user, uuid.UUID(agent["id"]), tool_id=view.tool_id,
                                     unselected_functions=["check_stock"])
    assert attached.enabled_functions == ["lookup_order"]

    def create_ticket(subject: str, body: str = "") -> dict:
        return {"ticket": "T-1", "subject": subject}

    mcp_server.add_tool(create_ticket, name="create_ticket", description="Open a support ticket.")
    mcp_server.remove_tool("check_stock")
    mcp_server.remove_tool("lookup_order")

    def lookup_order(order_id: str, include_items: bool = False) -> dict:
        return {"order_id": order_id}

    mcp_server.add_tool(lookup_order, name="lookup_order", description="Find an order (v2).")
    with session_scope() as session:
        user = session.get(User, _user(admin))
        refreshed = custom_tools.refresh_custom_tool(session, user, org, view.id)
    assert [f["name"] for f in refreshed.functions] == ["create_ticket", "lookup_order"]
    changed = {f["name"]: f for f in refreshed.functions}["lookup_order"]
    assert changed["description"] == "Find an order (v2)." and "include_items" in changed["parameters"]["properties"]
    with session_scope() as session:
        row = session.exec(select(AgentTool).where(AgentTool.tool_id == view.tool_id)).one()
        assert row.unselected_functions == ["create_ticket"]  # new: off until an admin opts in; gone: gone
        runnable = custom_tools.runnable_for_agent(session, uuid.UUID(agent["id"]))
        assert [f.name for f in runnable[0].functions] == ["lookup_order"]
        actions = session.exec(select(AuditEvent.action).where(AuditEvent.organization_id == org)).all()
        assert "tool.custom_refreshed" in actions


@pytest.mark.parametrize(("change", "field"), [
    ({"method": "FETCH"}, "method"),
    ({"timeout_seconds": 0}, "timeout_seconds"),
    ({"timeout_seconds": 31}, "timeout_seconds"),
    ({"url": "ftp://example.com/x"}, "url"),
    ({"url": "http://127.0.0.1:9/orders/{order_number}"}, "url"),
    ({"headers": {"Bad Header": "x"}}, "headers"),
    ({"headers": {"X-Key": "a\r\nInjected: 1"}}, "headers"),
    ({"parameters": {"type": "object", "properties": {"order_id": {"type": "string", "format": "uuid"}}}},
     "parameters.properties.order_id.format"),
    ({"parameters": {"type": "object", "properties": {"n": {"type": "null"}}}}, "parameters.properties.n.type"),
    ({"parameters": {"type": "array", "items": {"type": "string"}}}, "parameters.type"),
    ({"parameters": {"type": "object", "properties": {"tags": {"type": "array"}}}}, "parameters.properties.tags.items"),
    ({"parameters": {"type": "object", "properties": {}, "required": ["x"]}}, "parameters.required"),
    ({"parameters": {"type": "object", "$defs": {}}}, "parameters.$defs"),
    ({"name": "  "}, "name"),
])
def test_http_tool_validation_names_the_field(client, loopback_allowed, change, field):
    admin = signup(client, "http-invalid")
    with session_scope() as session:
        user = session.get(User, _user(admin))
        with pytest.raises(ValidationFailed) as refused:
            custom_tools.create_custom_tool(session, user, uuid.UUID(admin.org_id),
                                            {**_http("http://127.0.0.1:9/orders/{order_id}"), **change})
    assert refused.value.field == field, refused.value.message


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/orders",
                                 "http://[::ffff:169.254.169.254]/", "http://0.0.0.0:80/"])
def test_metadata_and_private_addresses_are_refused(client, loopback_allowed, url):
    admin = signup(client, "ssrf")
    with session_scope() as session:
        user = session.get(User, _user(admin))
        with pytest.raises(outbound.OutboundRefused) as refused:
            custom_tools.create_custom_tool(session, user, uuid.UUID(admin.org_id), _http(url, parameters=None))
    assert refused.value.status_code == 422 and refused.value.field == "url"
    assert "not allowed" in refused.value.message


def test_loopback_is_refused_unless_allowed(client, http_api):
    with pytest.raises(outbound.OutboundRefused, match="loopback"):
        outbound.check_url(http_api.url("/orders/1"))
    with pytest.raises(outbound.OutboundRefused, match="loopback"):
        outbound.check_url(f"http://localhost:{http_api.port}/")
    assert http_api.requests == []


def test_headers_are_in_no_view_and_no_audit_row(client, loopback_allowed, http_api):
    admin = signup(client, "secrets")
    org = uuid.UUID(admin.org_id)
    with session_scope() as session:
        user = session.get(User, _user(admin))
        view = custom_tools.create_custom_tool(session, user, org, _http(http_api.url("/orders/{order_id}"),
                                                                         headers={"Authorization": SECRET}))
        updated = custom_tools.update_custom_tool(session, user, org, view.id,
                                                  {"headers": {"Authorization": SECRET + "-rotated", "X-Tenant": "acme"}})
        listed = custom_tools.list_custom_tools(session, user, org)
        runnable = custom_tools.runnable_for_test(session, user, org, view.id)
    assert updated.headers_set == ["Authorization", "X-Tenant"]
    assert SECRET not in repr(view) + repr(updated) + repr(listed)
    assert runnable.headers == {"Authorization": SECRET + "-rotated", "X-Tenant": "acme"}
    with session_scope() as session:
        rows = session.exec(select(AuditEvent).where(AuditEvent.organization_id == org)).all()
        dumped = json.dumps([[r.action, r.summary, r.changes] for r in rows], default=str)
    assert "tool.custom_created" in dumped and "tool.custom_updated" in dumped
    assert "sk-live" not in dumped and "acme" not in dumped and "X-Tenant" in dumped


def test_another_organization_sees_nothing(client, loopback_allowed, http_api):
    owner, stranger = signup(client, "owner"), signup(client, "stranger")
    their_agent = create_agent(client, stranger)
    with session_scope() as session:
        user = session.get(User, _user(owner))
        view = custom_tools.create_custom_tool(session, user, uuid.UUID(owner.org_id), _http(http_api.url("/orders/{order_id}")))
    with session_scope() as session:
        other = session.get(User, _user(stranger))
        with pytest.raises(NotFound):
            custom_tools.get_custom_tool(session, other, uuid.UUID(owner.org_id), view.id)
        with pytest.raises(NotFound):
            custom_tools.get_custom_tool(session, other, uuid.UUID(stranger.org_id), view.id)
        with pytest.raises(NotFound):
            custom_tools.delete_custom_tool(session, other, uuid.UUID(stranger.org_id), view.id)
        with pytest.raises(NotFound):
            tools.attach_tool(session, other, uuid.UUID(their_agent["id"]), tool_id=view.tool_id)
        assert view.tool_id not in {t.id for t in tools.list_platform_tools(session, other)}
        page = tools.agent_tools_page(session, other, uuid.UUID(their_agent["id"]))
        assert view.tool_id not in {e.tool.id for e in page.entries}
        mine = tools.list_platform_tools(session, session.get(User, _user(owner)))
        assert {t.display_name for t in mine if t.id == view.tool_id} == {"Order lookup"}


def test_members_read_but_do_not_write(client, loopback_allowed, http_api):
    admin = signup(client, "perm")
    member = add_member(client, admin)
    org = uuid.UUID(admin.org_id)
    with session_scope() as session:
        view = custom_tools.create_custom_tool(session, session.get(User, _user(admin)), org, _http(http_api.url("/orders/{order_id}")))
    with session_scope() as session:
        reader = session.get(User, _user(member))
        assert [v.id for v in custom_tools.list_custom_tools(session, reader, org)] == [view.id]
        with pytest.raises(PermissionDenied):
            custom_tools.update_custom_tool(session, reader, org, view.id, {"name": "Mine now"})
        with pytest.raises(PermissionDenied):
            custom_tools.runnable_for_test(session, reader, org, view.id)


def test_delete_detaches_from_every_agent(client, loopback_allowed, http_api):
    admin = signup(client, "delete")
    agents = [create_agent(client, admin, name=f"Desk {i}") for i in range(2)]
    org = uuid.UUID(admin.org_id)
    with session_scope() as session:
        user = session.get(User, _user(admin))
        view = custom_tools.create_custom_tool(session, user, org, _http(http_api.url("/orders/{order_id}")))
        for agent in agents:
            tools.attach_tool(session, user, uuid.UUID(agent["id"]), tool_id=view.tool_id)
    with session_scope() as session:
        custom_tools.delete_custom_tool(session, session.get(User, _user(admin)), org, view.id)
    with session_scope() as session:
        assert session.exec(select(AgentTool).where(AgentTool.tool_id == view.tool_id)).all() == []
        assert session.get(PlatformTool, view.tool_id) is None and session.get(CustomTool, view.id) is None
        assert custom_tools.runnable_for_agent(session, uuid.UUID(agents[0]["id"])) == []


def test_http_rename_keeps_the_switch(client, loopback_allowed, http_api):
    admin = signup(client, "rename")
    agent = create_agent(client, admin)
    org = uuid.UUID(admin.org_id)
    with session_scope() as session:
        user = session.get(User, _user(admin))
        view = custom_tools.create_custom_tool(session, user, org, _http(http_api.url("/orders/{order_id}")))
        tools.attach_tool(session, user, uuid.UUID(agent["id"]), tool_id=view.tool_id, unselected_functions=["order_lookup"])
        renamed = custom_tools.update_custom_tool(session, user, org, view.id, {"name": "Find order"})
    assert [f["name"] for f in renamed.functions] == ["find_order"]
    with session_scope() as session:
        assert session.exec(select(AgentTool.unselected_functions).where(AgentTool.tool_id == view.tool_id)).one() == ["find_order"]


def test_registry_sync_leaves_custom_tools_alone(client, loopback_allowed, http_api):
    from voice_platform.tools.registry import sync_with_db

    admin = signup(client, "sync")
    with session_scope() as session:
        view = custom_tools.create_custom_tool(session, session.get(User, _user(admin)), uuid.UUID(admin.org_id),
                                               _http(http_api.url("/orders/{order_id}")))
    with session_scope() as session:
        report = sync_with_db(session)
        assert not any(n.startswith("custom_") for n in report.deactivated + report.updated + report.inserted)
        row = session.get(PlatformTool, view.tool_id)
        assert row.is_active and row.title == "Order lookup"
