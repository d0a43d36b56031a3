"""The custom tools page in a real browser: an admin adds a real MCP server, attaches it to an
agent, switches one of its functions off, and runs another with the Test button.

The MCP server is ``tests/fakes/mcp_server.py`` (the ``mcp`` SDK's own ``MCPServer`` over
streamable HTTP on loopback); the shared app allows loopback outbound through
``OUTBOUND_ALLOWED_NETWORKS`` (conftest), as an operator would for a server inside their
own network. The server records the request
headers it got, so the test proves the secret header reached it while no frame the
dashboard sent to the browser ever carried it.
"""

from __future__ import annotations

import re
import socket
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import route, sign_in, wait_hydrated
from tests.e2e.tools_support import add_member, admin_with_agent, sync_catalogue

pytestmark = pytest.mark.e2e

SECRET = "Bearer e2e-" + uuid.uuid4().hex
SERVER_NAME = "Orders"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def mcp_server():
    from tests.fakes.mcp_server import FakeMcpServer

    with FakeMcpServer() as server:
        yield server


@pytest.fixture()
def admin(test_database):
    sync_catalogue()
    return admin_with_agent("Custom Tools Co")


def _received_frames(page: Page) -> list[str]:
    """Everything the server pushed to this page over Reflex's websocket."""
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))
    return frames


def _open_custom_tools(page: Page) -> None:
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Custom tools").click()
    page.wait_for_url(route("/custom-tools"))
    wait_hydrated(page)
    expect(page.get_by_role("heading", name="Custom tools", exact=True)).to_be_visible()


def _stored_tool(org_id: uuid.UUID, email: str):
    """The organization's custom tools as the service lists them to this admin."""
    from sqlmodel import select

    from voice_platform.db import session_scope
    from voice_platform.models import User
    from voice_platform.services import custom_tools

    with session_scope() as session:
        admin = session.exec(select(User).where(User.email == email)).one()
        return custom_tools.list_custom_tools(session, admin, org_id)


def _unselected(agent_id: uuid.UUID, tool_id) -> list[str] | None:
    from sqlmodel import select

    from voice_platform.db import session_scope
    from voice_platform.models import AgentTool

    with session_scope() as session:
        row = session.exec(select(AgentTool).where(AgentTool.agent_id == agent_id, AgentTool.tool_id == tool_id)).first()
        return None if row is None else list(row.unselected_functions or [])


def switch(page: Page, name: str):
    return page.get_by_role("switch", name=f"Enable function {name}")


def test_add_an_mcp_server_switch_a_function_off_and_test_another(page: Page, admin, mcp_server):
    email, org_id, agent_id = admin
    frames = _received_frames(page)
    sign_in(page, email)
    _open_custom_tools(page)
    expect(page.get_by_text("No custom tools yet")).to_be_visible()

    form = page.get_by_role("form", name="Add MCP server")
    form.get_by_label("Server name").fill(SERVER_NAME)
    form.get_by_label("Description").fill("Our order system")
    # Nothing listens there: the reason shows under the URL, and nothing is stored.
    form.get_by_label("Server URL").fill(f"http://127.0.0.1:{_free_port()}/mcp")
    form.get_by_role("button", name="Add MCP server").click()
    expect(page.get_by_test_id("error-mcp_url")).to_be_visible()
    expect(form.get_by_label("Server URL")).to_have_attribute("aria-invalid", "true")
    assert _stored_tool(org_id, email) == []

    form.get_by_label("Server URL").fill(mcp_server.url)
    form.get_by_label("Header name").fill("Authorization")
    form.get_by_label("Header value").fill(SECRET)
    expect(form.get_by_label("Header value")).to_have_attribute("type", "password")
    form.get_by_role("button", name="Add MCP server").click()

    card = page.locator(f'[data-custom-tool="{SERVER_NAME}"]')
    expect(card).to_be_visible()
    expect(page.get_by_test_id("error-mcp_url")).to_have_count(0)
    expect(card.get_by_test_id("kind-badge")).to_have_text("MCP")
    expect(card.get_by_test_id("custom-tool-url")).to_have_text(mcp_server.url)
    expect(card.get_by_test_id("headers-set")).to_have_text("Headers set: Authorization")
    expect(card.get_by_test_id("functions-count")).to_have_text("Functions (2)")
    expect(card.locator('[data-function="lookup_order"]')).to_contain_text("Look up an order by its number")
    expect(card.locator('[data-function="check_stock"]')).to_contain_text("sku")
    expect(page.get_by_role("form", name="Add MCP server").get_by_label("Header value")).to_have_value("")
    (stored,) = _stored_tool(org_id, email)
    assert sorted(f["name"] for f in stored.functions) == ["check_stock", "lookup_order"]

    # On the agent's tools page the MCP server is one more tool with a switch per function.
    page.goto(f"/agents/{agent_id}/tools")
    wait_hydrated(page)
    tool_card = page.locator(f'[data-tool="{_catalogue_name(stored)}"]')
    expect(tool_card).to_contain_text(SERVER_NAME)
    expect(tool_card.get_by_role("button", name=re.compile("^Connect"))).to_have_count(0)  # no OAuth account to connect
    tool_card.get_by_role("button", name=re.compile("^Attach ")).click()
    expect(switch(page, "check_stock")).to_be_enabled()
    switch(page, "check_stock").click()
    expect(switch(page, "check_stock")).to_have_attribute("aria-checked", "false")
    expect(tool_card.locator('[data-function="check_stock"]')).to_have_attribute("data-saving", "false")
    page.reload()
    wait_hydrated(page)
    expect(switch(page, "check_stock")).to_have_attribute("aria-checked", "false")
    expect(switch(page, "lookup_order")).to_have_attribute("aria-checked", "true")
    assert _unselected(agent_id, stored.tool_id) == ["check_stock"]

    # The Test button calls the real server with the stored header and shows its answer.
    page.goto("/custom-tools")
    wait_hydrated(page)
    card = page.locator(f'[data-custom-tool="{SERVER_NAME}"]')
    card.get_by_label(f"Function to test in {SERVER_NAME}").click()
    page.get_by_role("option", name="lookup_order").click()
    card.get_by_label(f"Test arguments for {SERVER_NAME}").fill('{"order_id": "A-1"}')
    requests_before = len(mcp_server.requests)
    card.get_by_role("button", name=f"Run test of {SERVER_NAME}").click()
    expect(card.get_by_test_id("test-status")).to_have_text("OK")
    expect(card.get_by_test_id("test-output")).to_contain_text('"status": "shipped"')
    expect(card.get_by_test_id("test-output")).to_contain_text('"eta": "2026-12-12"')
    expect(card.get_by_test_id("test-duration")).to_have_text(re.compile(r"^\d+ ms$"))
    assert ("lookup_order", {"order_id": "A-1"}) in mcp_server.calls
    sent = mcp_server.requests[requests_before:]
    assert sent and all(r["headers"].get("authorization") == SECRET for r in sent)

    # Arguments that are not a JSON object are refused in the panel, before any request.
    card.get_by_label(f"Test arguments for {SERVER_NAME}").fill("order A-1")
    card.get_by_role("button", name=f"Run test of {SERVER_NAME}").click()
    expect(card.get_by_test_id("test-error")).to_contain_text("JSON object")

    assert SECRET not in page.content()
    assert frames and not [f for f in frames if SECRET.split()[1] in f], "a header value reached the browser"

    # Delete asks first; confirmed, the tool leaves the page and every agent.
    card.get_by_role("button", name=f"Delete {SERVER_NAME}").click()
    page.get_by_role("button", name="Cancel").click()
    expect(card).to_be_visible()
    card.get_by_role("button", name=f"Delete {SERVER_NAME}").click()
    page.get_by_role("button", name="Confirm delete").click()
    expect(page.locator(f'[data-custom-tool="{SERVER_NAME}"]')).to_have_count(0)
    expect(page.get_by_text("No custom tools yet")).to_be_visible()
    assert _unselected(agent_id, stored.tool_id) is None


@pytest.fixture()
def loopback_allowed(monkeypatch):
    """This process's settings, like the app's: the services here may reach the loopback server."""
    from voice_platform.settings import reset_settings_cache

    monkeypatch.setenv("OUTBOUND_ALLOWED_NETWORKS", "127.0.0.0/8")
    reset_settings_cache()
    yield
    monkeypatch.delenv("OUTBOUND_ALLOWED_NETWORKS")
    reset_settings_cache()


def test_a_member_sees_the_list_read_only(page: Page, admin, mcp_server, loopback_allowed):
    from sqlmodel import select

    from voice_platform.db import session_scope
    from voice_platform.models import User
    from voice_platform.services import custom_tools

    email, org_id, _agent_id = admin
    with session_scope() as session:
        owner = session.exec(select(User).where(User.email == email)).one()
        custom_tools.create_custom_tool(session, owner, org_id, {
            "kind": "mcp", "name": SERVER_NAME, "description": "Our order system", "url": mcp_server.url,
            "headers": {"Authorization": SECRET}})
    member = add_member(email, org_id)
    sign_in(page, member)
    switcher = page.get_by_label("Organization")
    if "Custom Tools Co" not in switcher.inner_text():  # sign-in may have chosen the member's own org
        switcher.click()
        page.get_by_role("option", name="Custom Tools Co").click()
        expect(page.get_by_text("Switched to Custom Tools Co")).to_be_visible()
    _open_custom_tools(page)

    card = page.locator(f'[data-custom-tool="{SERVER_NAME}"]')
    expect(card).to_be_visible()
    expect(card.get_by_test_id("headers-set")).to_have_text("Headers set: Authorization")
    expect(page.get_by_test_id("read-only-notice")).to_be_visible()
    expect(page.get_by_role("form", name="Add MCP server")).to_have_count(0)
    for name in (f"Delete {SERVER_NAME}", f"Refresh {SERVER_NAME}", f"Run test of {SERVER_NAME}"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    assert SECRET not in page.content()


def _catalogue_name(view) -> str:
    """The custom tool's name in the platform catalogue (the agent tools page keys its cards by it)."""
    from voice_platform.db import session_scope
    from voice_platform.models import PlatformTool

    with session_scope() as session:
        return session.get(PlatformTool, view.tool_id).name
