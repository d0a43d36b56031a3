"""After the call, through the API: the agent's analysis plan, a test chat's analysis in the call's
detail, the list's verdict and summary line, the success filter, re-running, the CSV export and the
summary-mail subscription; other organizations get 404.

The test chat runs the real runtime against the fake Gemini Live server; the analysis reaches the
fake Gemini text API through the real google-genai client. Both are found the standard way
(``GOOGLE_GEMINI_BASE_URL``), so the test points it at the text API once the chat has been had.
"""

from __future__ import annotations

import csv
import io
import uuid

import httpx
import pytest

from tests.fakes.gemini_live import FakeGeminiLive
from tests.fakes.gemini_text import FakeGeminiText
from voice_platform.settings import reset_settings_cache
from tests.support.analysis import PLAN, ended_call, gemini_text, org_with_agent  # noqa: F401
from tests.support.api import add_member, create_agent, signup
from tests.support.waiting import until
from voice_platform.api import create_app
from voice_platform.services import call_analysis


@pytest.fixture()
async def api():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app()), base_url="http://test",
                                 timeout=60) as c:
        yield c


@pytest.fixture()
async def live(tmp_path, monkeypatch):
    from voice_platform.settings import reset_settings_cache

    async with FakeGeminiLive(tmp_path) as server:
        for key, value in {**server.environment(), "GOOGLE_API_KEY": "test-key-not-real"}.items():
            monkeypatch.setenv(key, value)
        reset_settings_cache()
        yield server
    monkeypatch.undo()
    reset_settings_cache()


def _analysis(client, actor, call_id: str, status: str = "done") -> dict | None:
    analysis = client.get(f"/api/v1/calls/{call_id}", headers=actor.headers).json()["analysis"]
    return analysis if analysis and analysis["status"] == status else None


async def test_a_two_turn_test_chat_is_analysed_within_seconds_and_rerun_after_the_plan_changes(
        api, client, live, monkeypatch):
    call_analysis.start_background()  # as every web process does at start-up: the loop does the work here
    admin = signup(client, "after")
    agent = create_agent(client, admin, greeting="Hello, Bright Smile dental.", analysis_plan=PLAN)
    url = f"/api/v1/agents/{agent['id']}/test-chat"
    live.replies = [[{"say": "Sure, for how many people?"}], [{"say": "Booked for two on Friday."}]]
    first = await api.post(url, json={"message": "I'd like a cleaning on Friday."}, headers=admin.headers)
    assert first.status_code == 200, first.text
    conversation = first.json()["conversation_id"]
    second = await api.post(url, json={"message": "For two, please.", "conversation_id": conversation},
                            headers=admin.headers)
    assert second.status_code == 200, second.text

    with FakeGeminiText() as text_api:
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", text_api.base_url)
        reset_settings_cache()  # the analysis reads it through Settings
        ended = await api.post(f"{url}/{conversation}/end", headers=admin.headers)
        assert ended.status_code == 204
        analysis = await until(lambda: _analysis(client, admin, conversation), timeout=10)
        assert analysis == {
            "status": "done", "summary": "The caller asked about parking.\nThe agent explained where to park.",
            "data": {"party_size": 2, "budget": 1.5, "returning": True, "service": "cleaning", "caller_name": "a value"},
            "success": True, "success_reason": "The caller got the answer they wanted.", "sentiment": "positive",
            "model": "gemini-2.5-flash", "error": None}
        prompt = text_api.requests[0]["body"]["contents"][0]["parts"][0]["text"]
        assert "Caller: I'd like a cleaning on Friday.\nAgent: Sure, for how many people?" in prompt

        listed = client.get(f"/api/v1/calls/organization/{admin.org_id}", headers=admin.headers).json()["items"]
        assert [(c["id"], c["success"], c["summary_line"]) for c in listed] == [
            (conversation, True, "The caller asked about parking.")]
        for success, expected in (("true", 1), ("false", 0)):
            page = client.get(f"/api/v1/calls/organization/{admin.org_id}", params={"success": success},
                              headers=admin.headers).json()
            assert page["total"] == expected

        changed = client.put(f"/api/v1/agents/{agent['id']}", headers=admin.headers, json={"analysis_plan": {
            "success_rubric": None, "fields": [{"name": "preferred_day", "type": "enum", "required": True,
                                                "choices": ["Friday", "Monday"]}]}})
        assert changed.status_code == 200, changed.text
        rerun = client.post(f"/api/v1/calls/{conversation}/analysis", headers=admin.headers)
        assert rerun.status_code == 202 and rerun.json()["status"] == "pending" and rerun.json()["summary"] is None
        again = await until(lambda: _analysis(client, admin, conversation), timeout=10)
        assert again["data"] == {"preferred_day": "Friday"} and again["success"] is None


def test_the_agent_api_takes_and_returns_the_analysis_plan(client):
    admin = signup(client, "plan")
    agent = create_agent(client, admin, analysis_plan={"summary_prompt": "Who called and why.", "fields": []})
    assert agent["analysis_plan"] == {"summary_prompt": "Who called and why.", "success_rubric": None, "fields": []}
    put = client.put(f"/api/v1/agents/{agent['id']}", json={"analysis_plan": PLAN}, headers=admin.headers)
    assert put.status_code == 200, put.text
    got = client.get(f"/api/v1/agents/{agent['id']}", headers=admin.headers).json()["analysis_plan"]
    assert got["fields"][3] == {"name": "service", "type": "enum", "description": "", "required": False,
                                "choices": ["cleaning", "filling"]}
    assert client.put(f"/api/v1/agents/{agent['id']}", json={"name": "Renamed"},  # other changes keep it
                      headers=admin.headers).json()["analysis_plan"] == got
    bad = client.put(f"/api/v1/agents/{agent['id']}", headers=admin.headers,
                     json={"analysis_plan": {"fields": [{"name": "when", "type": "enum", "choices": []}]}})
    assert bad.status_code == 422 and "choices" in bad.text
    cleared = client.put(f"/api/v1/agents/{agent['id']}", json={"analysis_plan": None}, headers=admin.headers)
    assert cleared.json()["analysis_plan"] is None  # the default plan


async def test_other_organizations_get_404_and_members_cannot_rerun(client, gemini_text):
    org = org_with_agent()
    call_id = ended_call(org)
    await until(lambda: call_analysis.analyse_due_once() >= 0 and
                client.get(f"/api/v1/calls/{call_id}", headers=org.headers).json()["analysis"]["status"] == "done")
    stranger = signup(client, "stranger")
    for method, path in (("GET", f"/api/v1/calls/{call_id}"), ("POST", f"/api/v1/calls/{call_id}/analysis"),
                         ("GET", f"/api/v1/calls/organization/{org.org_id}/export.csv"),
                         ("GET", f"/api/v1/organizations/{org.org_id}/call-summaries"),
                         ("PUT", f"/api/v1/organizations/{org.org_id}/call-summaries")):
        assert client.request(method, path, headers=stranger.headers, json={}).status_code == 404, path
    assert client.post(f"/api/v1/calls/{uuid.uuid4()}/analysis", headers=org.headers).status_code == 404
    member = _member_of(client, org)
    assert client.get(f"/api/v1/calls/{call_id}", headers=member.headers).json()["analysis"]["status"] == "done"
    assert client.post(f"/api/v1/calls/{call_id}/analysis", headers=member.headers).status_code == 403


def _member_of(client, org):
    from tests.support.api import Actor

    admin = Actor(email="", token=org.token, user_id=str(org.user_id), org_id=str(org.org_id))
    return add_member(client, admin, "reader")


async def test_the_csv_export_has_the_filtered_calls_and_one_column_per_field(client, gemini_text):
    org = org_with_agent()
    answers = iter([
        {"summary": "=HYPERLINK(\"http://evil\")", "sentiment": "negative", "success": False, "success_reason": "No.",
         "data": {"party_size": None, "budget": None, "returning": None, "service": None, "caller_name": "-Bob"}},
        {"summary": "Booked a cleaning.", "sentiment": "positive", "success": True, "success_reason": "Booked.",
         "data": {"party_size": 3, "budget": 80.5, "returning": False, "service": "cleaning", "caller_name": "Ann"}},
    ])
    gemini_text.reply = lambda _request: next(answers)
    failed = ended_call(org, phone=True, duration=12.0)
    await until(lambda: call_analysis.analyse_due_once() >= 0 and _status(client, org, failed) == "done")
    booked = ended_call(org, phone=True, duration=95.0)
    await until(lambda: call_analysis.analyse_due_once() >= 0 and _status(client, org, booked) == "done")

    export = client.get(f"/api/v1/calls/organization/{org.org_id}/export.csv", headers=org.headers)
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert export.headers["content-disposition"].startswith('attachment; filename="calls-')
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert list(rows[0]) == ["id", "started_at", "agent", "kind", "status", "from", "to", "duration", "end_reason",
                             "success", "sentiment", "summary", "party_size", "budget", "returning", "service",
                             "caller_name"]
    assert [r["id"] for r in rows] == [str(booked), str(failed)]  # newest first
    assert {k: rows[0][k] for k in ("agent", "kind", "from", "duration", "success", "summary", "party_size", "budget",
                                    "returning", "service")} == {
        "agent": "Front desk", "kind": "phone", "from": "+15550001111", "duration": "95.0", "success": "true",
        "summary": "Booked a cleaning.", "party_size": "3", "budget": "80.5", "returning": "false",
        "service": "cleaning"}
    assert rows[1]["summary"] == "'=HYPERLINK(\"http://evil\")" and rows[1]["caller_name"] == "'-Bob"
    only_failed = client.get(f"/api/v1/calls/organization/{org.org_id}/export.csv", params={"success": "false"},
                             headers=org.headers)
    assert [r["id"] for r in csv.DictReader(io.StringIO(only_failed.text))] == [str(failed)]


def _status(client, org, call_id) -> str | None:
    analysis = client.get(f"/api/v1/calls/{call_id}", headers=org.headers).json()["analysis"]
    return analysis and analysis["status"]


def test_a_member_subscribes_to_summaries_through_the_api(client):
    admin = signup(client, "subs")
    agent = create_agent(client, admin)
    member = add_member(client, admin, "reader")
    url = f"/api/v1/organizations/{admin.org_id}/call-summaries"
    assert client.get(url, headers=member.headers).json() == {"subscribed": False, "agent_ids": None,
                                                               "mail_available": False}
    chosen = client.put(url, json={"agent_ids": [agent["id"]]}, headers=member.headers)
    assert chosen.status_code == 200 and chosen.json()["agent_ids"] == [agent["id"]]
    assert client.put(url, json={}, headers=member.headers).json()["agent_ids"] is None  # every agent
    elsewhere = create_agent(client, signup(client, "elsewhere"))
    assert client.put(url, json={"agent_ids": [elsewhere["id"]]}, headers=member.headers).status_code == 404
    assert client.put(url, json={"agent_ids": "all"}, headers=member.headers).status_code == 422
    assert client.delete(url, headers=member.headers).status_code == 204
    assert client.get(url, headers=member.headers).json()["subscribed"] is False
    assert client.get(url).status_code == 401
