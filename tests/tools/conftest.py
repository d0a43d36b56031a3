"""Fixtures for the tool system: the fake Google server, a synced catalogue, signed-in actors."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from tests.fakes.google_server import FakeGoogle
from tests.support.api import Actor, create_agent, signup

SAMPLE_PACKAGE = "tests.tools.sample_tools"
IMPLEMENTATIONS = "voice_platform.tools.implementations"


@pytest.fixture()
def fake_google(monkeypatch, test_database) -> Iterator[FakeGoogle]:
    """A fresh fake Google per test; our settings point the real client libraries at it."""
    from voice_platform.settings import reset_settings_cache

    with FakeGoogle(idle_timeout=120) as google:
        for key, value in google.settings_env().items():
            monkeypatch.setenv(key, value)
        # oauthlib refuses http:// endpoints; the fake is plain HTTP on loopback, tests only.
        monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
        reset_settings_cache()
        yield google
    monkeypatch.undo()
    reset_settings_cache()


@pytest.fixture()
def catalogue(test_database):
    """platform_tools synced from the real implementations plus the sample test tool."""
    from voice_platform.db import session_scope
    from voice_platform.tools.registry import ToolRegistry

    registry = ToolRegistry(packages=(IMPLEMENTATIONS, SAMPLE_PACKAGE))
    with session_scope() as session:
        registry.sync_with_db(session)
    return registry


@pytest.fixture()
def admin(client) -> Actor:
    return signup(client, "admin")


@pytest.fixture()
def agent(client, admin) -> dict:
    return create_agent(client, admin)


def attach(client, actor: Actor, agent_id: str, tool_name: str, **body) -> dict:
    r = client.post("/api/v1/tools/agent", json={"agent_id": agent_id, "tool_name": tool_name, **body}, headers=actor.headers)
    assert r.status_code == 201, r.text
    return r.json()


def connect_google(client, actor: Actor, agent_id: str) -> dict:
    """The browser's whole round trip: our auth URL → Google's consent → our callback → the tools
    page, which finishes as the signed-in user (here: the API's equivalent, POST /callback/complete)."""
    r = client.get("/api/v1/tools/auth/Google_calendar", params={"agent_id": agent_id}, headers=actor.headers)
    assert r.status_code == 200, r.text
    consent = requests.get(r.json()["auth_url"], allow_redirects=False, timeout=10)
    assert consent.status_code == 302, consent.text
    back = urlparse(consent.headers["Location"])
    assert back.path == "/api/v1/tools/callback"
    params = {k: v[0] for k, v in parse_qs(back.query).items()}
    done = client.get("/api/v1/tools/callback", params=params, follow_redirects=False)
    complete = None
    if done.status_code == 303:
        handed = {k: v[0] for k, v in parse_qs(urlparse(done.headers["location"]).query).items()}
        if handed.get("oauth") == "connect":
            body = {"state": handed["state"], "code": handed["code"]}
            complete = client.post("/api/v1/tools/callback/complete", json=body, headers=actor.headers)
    return {"response": done, "params": params, "complete": complete}
