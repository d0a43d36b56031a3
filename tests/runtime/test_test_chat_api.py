"""POST /api/v1/agents/{id}/test-chat through the real app, the runtime and the Gemini plugin against the fake.

The app is driven with httpx's ASGI transport on the test's own event loop, the one the fake
Gemini server runs on."""

from __future__ import annotations

import httpx
import pytest

from tests.support.api import add_member, signup
from voice_platform.api import create_app


@pytest.fixture(autouse=True)
def _test_tools_in_the_default_registry(registry, monkeypatch):
    """The API runs the default registry; here it also knows the test tools."""
    monkeypatch.setattr("voice_platform.tools.registry.default_registry", registry)


@pytest.fixture()
async def api():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app()), base_url="http://test",
                                 timeout=60) as c:
        yield c


async def test_a_conversation_through_the_api_with_tool_calls(api, client, gemini, tooled_agent):
    agent, admin = tooled_agent
    member = add_member(client, admin, "reader")  # agent:read is enough
    gemini.replies = [[{"call": "lookup", "args": {"topic": "parking"}}], [{"say": "Parking is behind the building."}]]
    r = await api.post(f"/api/v1/agents/{agent['id']}/test-chat", json={"message": "Where do I park?"},
                       headers=member.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["reply"] == "Parking is behind the building." and body["ended"] is False
    assert body["tool_calls"] == [{"name": "lookup", "arguments": {"topic": "parking"},
                                   "output": "{'note': 'N:parking', 'token_set': True}", "is_error": False}]

    gemini.replies = [[{"call": "explode"}], [{"say": "Sorry, that did not work."}]]
    r = await api.post(f"/api/v1/agents/{agent['id']}/test-chat",
                       json={"message": "Try the other thing", "conversation_id": body["conversation_id"]},
                       headers=member.headers)
    assert r.status_code == 200, r.text
    assert r.json()["conversation_id"] == body["conversation_id"]
    [failed] = r.json()["tool_calls"]
    assert failed["name"] == "explode" and failed["is_error"] and "explode failed" in failed["output"]

    calls = client.get(f"/api/v1/calls/organization/{admin.org_id}", params={"kind": "test"}, headers=admin.headers)
    [row] = calls.json()["items"]
    assert row["id"] == body["conversation_id"] and row["kind"] == "test" and row["tool_calls"] == 2
    detail = client.get(f"/api/v1/calls/{row['id']}", headers=admin.headers).json()
    assert [t["role"] for t in detail["turns"]] == ["assistant", "user", "assistant", "user", "assistant"]

    end = await api.post(f"/api/v1/agents/{agent['id']}/test-chat/{body['conversation_id']}/end", headers=member.headers)
    assert end.status_code == 204
    again = await api.post(f"/api/v1/agents/{agent['id']}/test-chat",
                           json={"message": "Hello?", "conversation_id": body["conversation_id"]}, headers=member.headers)
    assert again.status_code == 409 and "ended" in again.json()["detail"]


async def test_other_tenants_and_strangers_cannot_chat(api, client, gemini, tooled_agent):
    agent, _admin = tooled_agent
    stranger = signup(client, "stranger")
    r = await api.post(f"/api/v1/agents/{agent['id']}/test-chat", json={"message": "hi"}, headers=stranger.headers)
    assert r.status_code == 404
    assert (await api.post(f"/api/v1/agents/{agent['id']}/test-chat", json={"message": "hi"})).status_code == 401
    assert gemini.setups == []  # refused before any model was reached


async def test_bad_input_and_a_missing_key_are_clear(api, client, tooled_agent, monkeypatch):
    from voice_platform.settings import reset_settings_cache

    agent, admin = tooled_agent
    url = f"/api/v1/agents/{agent['id']}/test-chat"
    assert (await api.post(url, json={"message": ""}, headers=admin.headers)).status_code == 422
    assert (await api.post(url, json={"message": "hi", "conversation_id": "nope"}, headers=admin.headers)).status_code == 422
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    reset_settings_cache()
    r = await api.post(url, json={"message": "hi"}, headers=admin.headers)
    assert r.status_code == 503 and "GOOGLE_API_KEY" in r.json()["detail"]
