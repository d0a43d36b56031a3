"""Runtime test pieces: the fake Gemini Live server wired in the standard way, test tools in the
catalogue, an agent with several tools attached. Only 127.0.0.1 may be reached."""

from __future__ import annotations

import pytest

from tests.fakes.gemini_live import FakeGeminiLive
from tests.support.api import create_agent, signup
from tests.worker.conftest import _loopback_only  # noqa: F401 - autouse: nothing leaves 127.0.0.1

PACKAGES = ("voice_platform.tools.implementations", "tests.tools.sample_tools", "tests.runtime.sample_tools")
TOOL_TIMEOUT = "0.5"


@pytest.fixture()
async def gemini(tmp_path, monkeypatch):
    """A fake Live server; set ``gemini.replies`` in the test. GOOGLE_API_KEY is a test value."""
    from voice_platform.settings import reset_settings_cache

    async with FakeGeminiLive(tmp_path) as server:
        for key, value in {**server.environment(), "GOOGLE_API_KEY": "test-key-not-real",
                           "TOOL_TIMEOUT_SECONDS": TOOL_TIMEOUT}.items():
            monkeypatch.setenv(key, value)
        reset_settings_cache()
        yield server
    monkeypatch.undo()
    reset_settings_cache()


@pytest.fixture()
def registry(client):
    """The catalogue with the test tools (synced after the app's own start-up sync)."""
    from voice_platform.db import session_scope
    from voice_platform.tools.registry import ToolRegistry

    reg = ToolRegistry(packages=PACKAGES)
    with session_scope() as session:
        reg.sync_with_db(session)
    return reg


def attach(client, actor, agent_id: str, tool_name: str, **body) -> dict:
    r = client.post("/api/v1/tools/agent", json={"agent_id": agent_id, "tool_name": tool_name, **body},
                    headers=actor.headers)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture()
def tooled_agent(client, registry):
    """An agent with two configured tools (each its own config and secret), a flaky one and call control."""
    admin = signup(client, "runtime")
    client.put(f"/api/v1/organizations/{admin.org_id}", json={"business_details": "Open 9-5, Mon-Fri.",
                                                              "timezone": "America/New_York"},
               headers=admin.headers).raise_for_status()
    agent = create_agent(client, admin, system_prompt="You book appointments for Bright Smile dental.",
                         greeting="Hello, Bright Smile dental, how can I help?")
    attach(client, admin, agent["id"], "Test_weather", config={"units": "imperial", "api_key": "weather-secret-1"},
           unselected_functions=["current_conditions"])
    attach(client, admin, agent["id"], "Test_notes", config={"prefix": "N", "token": "notes-secret-2"})
    flaky = attach(client, admin, agent["id"], "Test_flaky", unselected_functions=["unused"])
    attach(client, admin, agent["id"], "Call_control")
    agent["flaky_attachment_id"] = flaky["id"]
    return agent, admin


@pytest.fixture()
def outbound_loopback(monkeypatch):
    """Custom tools' servers run on 127.0.0.1, which the SSRF guard refuses unless allowed."""
    from voice_platform.settings import reset_settings_cache

    monkeypatch.setenv("OUTBOUND_ALLOWED_NETWORKS", "127.0.0.0/8")
    reset_settings_cache()
    yield
    monkeypatch.delenv("OUTBOUND_ALLOWED_NETWORKS", raising=False)
    reset_settings_cache()


def create_custom_tool(client, actor, **body) -> dict:
    r = client.post(f"/api/v1/organizations/{actor.org_id}/custom-tools", json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    return r.json()


def attach_custom(client, actor, agent_id: str, custom: dict, **body) -> dict:
    r = client.post("/api/v1/tools/agent", json={"agent_id": agent_id, "tool_id": custom["tool_id"], **body},
                    headers=actor.headers)
    assert r.status_code == 201, r.text
    return r.json()
