"""The post-call analysis in the service: the plan's rules, the model's answer checked and stored,
attempts with backoff, leases between runners, re-runs. The model is the fake Gemini text API on
127.0.0.1, reached by the real google-genai client; PostgreSQL is real.

``analyse_due_once`` is the loop's own step, called here directly; the loop may be running in
this process too (a ``TestClient`` starts it), which changes nothing: both take calls by lease.
"""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update

from tests.support.analysis import (PLAN, analysis_status, call_row, ended_call, gemini_text,  # noqa: F401
                                    org_with_agent, requests_for)
from tests.support.waiting import until
from voice_platform.db import session_scope
from voice_platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from voice_platform.models import CallSession, User
from voice_platform.models.base import utcnow
from voice_platform.services import agents, auth, call_analysis, calls
from voice_platform.services.analysis_plan import clean_plan, response_schema


@pytest.fixture()
def quick_retries(monkeypatch):
    monkeypatch.setattr(call_analysis, "RETRY_DELAYS", (0.05, 0.05))


def _done(call_id):
    call_analysis.analyse_due_once()
    return analysis_status(call_id) in ("done", "failed", "skipped")


# --- the plan -----------------------------------------------------------------------------------

def test_a_plan_is_cleaned_and_null_means_the_default():
    assert clean_plan(None) is None
    cleaned = clean_plan({"summary_prompt": "  Who and why.  ", "success_rubric": "",
                          "fields": [{"name": "tier", "type": "enum", "choices": [" gold", "silver", "gold"]}]})
    assert cleaned == {"summary_prompt": "Who and why.", "success_rubric": None, "fields": [
        {"name": "tier", "type": "enum", "description": "", "required": False, "choices": ["gold", "silver"]}]}
    assert clean_plan({}) == {"summary_prompt": None, "success_rubric": None, "fields": []}


@pytest.mark.parametrize(("plan", "field", "words"), [
    ([], "analysis_plan", "object or null"),
    ({"summary": "x"}, "analysis_plan", "unknown key"),
    ({"fields": [{"name": "Bad Name", "type": "string"}]}, "analysis_plan.fields[0].name", "lower-case"),
    ({"fields": [{"name": "a", "type": "date"}]}, "analysis_plan.fields[0].type", "one of"),
    ({"fields": [{"name": "a", "type": "enum"}]}, "analysis_plan.fields[0].choices", "needs 1 to 50"),
    ({"fields": [{"name": "a", "type": "string", "choices": ["x"]}]}, "analysis_plan.fields[0].choices", "Only"),
    ({"fields": [{"name": "a", "type": "string", "required": "yes"}]}, "analysis_plan.fields[0].required", "true or false"),
    ({"fields": [{"name": f"f{i}", "type": "string"} for i in range(31)]}, "analysis_plan.fields", "at most 30"),
    ({"success_rubric": "x" * 4001}, "analysis_plan.success_rubric", "at most 4000"),
])
def test_a_bad_plan_is_refused_naming_the_part(plan, field, words):
    with pytest.raises(ValidationFailed) as refused:
        clean_plan(plan)
    assert refused.value.field == field and words in refused.value.message


def test_two_fields_with_one_name_conflict():
    with pytest.raises(Conflict) as refused:
        clean_plan({"fields": [{"name": "a", "type": "string"}, {"name": "a", "type": "integer"}]})
    assert refused.value.field == "analysis_plan.fields[1].name" and "Two fields are named 'a'" in refused.value.message


def test_the_response_schema_types_every_field_and_asks_a_verdict_only_with_a_rubric():
    schema = response_schema(clean_plan(PLAN))
    data = schema["properties"]["data"]
    assert data["required"] == [f["name"] for f in PLAN["fields"]]
    assert data["properties"]["party_size"]["anyOf"] == [{"type": "integer"}, {"type": "null"}]
    assert data["properties"]["service"]["anyOf"][0] == {"type": "string", "enum": ["cleaning", "filling"]}
    assert set(schema["required"]) == {"summary", "sentiment", "data", "success", "success_reason"}
    default = response_schema(clean_plan({}))
    assert set(default["properties"]) == {"summary", "sentiment"}


# --- running it ---------------------------------------------------------------------------------

async def test_two_turns_get_a_summary_typed_fields_and_a_verdict(test_database, gemini_text):
    org = org_with_agent()
    call_id = ended_call(org)
    await until(lambda: _done(call_id), timeout=20)
    call = call_row(call_id)
    assert call.analysis_status == "done" and call.analysis_success is True
    assert call.analysis == {
        "summary": "The caller asked about parking.\nThe agent explained where to park.",
        "data": {"party_size": 2, "budget": 1.5, "returning": True, "service": "cleaning", "caller_name": "a value"},
        "success": True, "success_reason": "The caller got the answer they wanted.", "sentiment": "positive",
        "model": "gemini-2.5-flash", "error": None,
    }
    [request] = requests_for(gemini_text, "a cleaning for two on Friday")
    assert request["path"].endswith("/models/gemini-2.5-flash:generateContent")
    assert request["headers"]["x-goog-api-key"] == "test-key-not-real"
    prompt = request["body"]["contents"][0]["parts"][0]["text"]
    assert "Agent: Hello, Bright Smile dental.\nCaller: I'd like a cleaning for two on Friday." in prompt
    system = request["body"]["systemInstruction"]["parts"][0]["text"]
    assert "The caller booked an appointment." in system and "party_size (integer) - How many people" in system
    assert request["body"]["generationConfig"]["responseJsonSchema"] == response_schema(clean_plan(PLAN))


async def test_wrong_types_are_dropped_and_a_missing_required_field_fails_the_call(test_database, gemini_text):
    gemini_text.reply = lambda _request: {
        "summary": "A short call.", "sentiment": "neutral", "success": True, "success_reason": "Booked.",
        "data": {"party_size": 2.5, "budget": "cheap", "returning": False, "service": "whitening", "caller_name": "Ann"}}
    call_id = ended_call(org_with_agent())
    await until(lambda: _done(call_id), timeout=20)
    analysis = call_row(call_id).analysis
    assert analysis["data"] == {"party_size": None, "budget": None, "returning": False, "service": None,
                                "caller_name": "Ann"}
    assert analysis["success"] is False and analysis["success_reason"] == "The call did not yield party_size"
    assert call_row(call_id).analysis_success is False


async def test_fewer_than_two_turns_is_skipped_without_asking_the_model(test_database, gemini_text):
    org = org_with_agent()
    lone = ended_call(org, [("assistant", "Hello, Bright Smile dental.")])
    silent = ended_call(org, [])
    await until(lambda: _done(lone) and _done(silent), timeout=20)
    assert (analysis_status(lone), analysis_status(silent)) == ("skipped", "skipped")
    assert call_row(lone).analysis is None and gemini_text.requests == []


async def test_two_failures_then_an_answer_is_done_on_the_third_attempt(test_database, gemini_text, quick_retries):
    gemini_text.fail_first = 2
    call_id = ended_call(org_with_agent())
    await until(lambda: _done(call_id), timeout=20)
    call = call_row(call_id)
    assert call.analysis_status == "done" and call.analysis_attempts == 3 and call.analysis["error"] is None
    assert len(requests_for(gemini_text, "a cleaning for two")) == 3


async def test_three_failures_fail_the_analysis_with_the_error(test_database, gemini_text, quick_retries):
    gemini_text.reply = lambda _request: "this is not JSON"
    call_id = ended_call(org_with_agent())
    await until(lambda: _done(call_id), timeout=20)
    call = call_row(call_id)
    assert call.analysis_status == "failed" and call.analysis_attempts == 3
    assert call.analysis == {"model": "gemini-2.5-flash", "error": "Gemini's answer was not valid JSON"}
    assert len(gemini_text.requests) == 3


async def test_a_model_slower_than_the_timeout_counts_as_a_failed_attempt(test_database, gemini_text, quick_retries,
                                                                         monkeypatch):
    from voice_platform.settings import reset_settings_cache

    monkeypatch.setenv("ANALYSIS_TIMEOUT_SECONDS", "0.3")
    reset_settings_cache()
    gemini_text.delay = 2.0
    call_id = ended_call(org_with_agent())
    await until(lambda: _done(call_id), timeout=20)
    assert call_row(call_id).analysis["error"] == "Gemini did not answer within 0.3 seconds"


async def test_without_an_api_key_it_fails_at_once_saying_so(test_database, monkeypatch):
    from voice_platform.settings import reset_settings_cache

    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    reset_settings_cache()
    call_id = ended_call(org_with_agent())
    await until(lambda: _done(call_id), timeout=20)
    call = call_row(call_id)
    assert call.analysis_status == "failed" and call.analysis_attempts == 1
    assert call.analysis["error"] == "Post-call analysis needs GOOGLE_API_KEY"


async def test_two_runners_never_analyse_one_call_twice(test_database, gemini_text):
    gemini_text.delay = 0.2  # long enough for the runners to overlap
    org = org_with_agent()
    ids = [ended_call(org, [("assistant", "Hello."), ("user", f"Question number {i}.")]) for i in range(6)]
    runners = [threading.Thread(target=call_analysis.analyse_due_once) for _ in range(2)]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join(timeout=60)
    # whatever no runner had reached yet (the process's own loop may hold one: it is waited for)
    await until(lambda: all(_done(i) for i in ids), timeout=20)
    assert [analysis_status(i) for i in ids] == ["done"] * 6
    assert all(len(requests_for(gemini_text, f"Question number {i}.")) == 1 for i in range(6))


async def test_a_call_whose_runner_died_is_taken_again_after_its_lease(test_database, gemini_text):
    call_id = ended_call(org_with_agent())
    with session_scope() as session:  # taken by a process that then stopped, lease running
        session.execute(update(CallSession).where(CallSession.id == call_id)
                        .values(analysis_attempts=1, analysis_lease_until=utcnow() + timedelta(minutes=5)))
    assert call_analysis.analyse_due_once() == 0
    with session_scope() as session:  # its lease ran out
        session.execute(update(CallSession).where(CallSession.id == call_id)
                        .values(analysis_lease_until=utcnow() - timedelta(seconds=1)))
    await until(lambda: _done(call_id), timeout=20)
    assert call_row(call_id).analysis_status == "done" and call_row(call_id).analysis_attempts == 2


async def test_a_call_whose_every_attempt_was_lost_fails_instead_of_looping(test_database, gemini_text):
    call_id = ended_call(org_with_agent())
    with session_scope() as session:
        session.execute(update(CallSession).where(CallSession.id == call_id)
                        .values(analysis_attempts=3, analysis_lease_until=utcnow() - timedelta(seconds=1)))
    await until(lambda: _done(call_id), timeout=20)
    assert call_row(call_id).analysis == {"model": "gemini-2.5-flash",
                                          "error": "The analysis was interrupted before it could finish"}
    assert gemini_text.requests == []


async def test_a_done_analysis_writes_its_call_analyzed_event_with_it(test_database, gemini_text):
    from sqlmodel import select

    from voice_platform.models import WebhookEndpoint, WebhookEvent

    org = org_with_agent()
    with session_scope() as session:  # an endpoint that wants only this event (its deliveries are not the point)
        session.add(WebhookEndpoint(organization_id=org.org_id, url="https://hooks.example.com/calls",
                                    events=["call.analyzed"], secret_encrypted="unused"))
    analysed, skipped = ended_call(org), ended_call(org, [])
    await until(lambda: _done(analysed) and _done(skipped), timeout=20)
    with session_scope() as session:
        events = session.exec(select(WebhookEvent).where(WebhookEvent.type == "call.analyzed")).all()
    assert [e.call_session_id for e in events] == [analysed]  # a skipped analysis sends none
    analysis = events[0].payload["data"]["call"]["analysis"]
    assert analysis["status"] == "done" and analysis["data"]["party_size"] == 2


# --- re-running ---------------------------------------------------------------------------------

async def test_a_rerun_uses_the_current_plan_and_outruns_an_older_attempt(test_database, gemini_text):
    org = org_with_agent()
    call_id = ended_call(org)
    gemini_text.delay = 1.0
    older = threading.Thread(target=call_analysis.analyse_due_once)
    older.start()  # an attempt with the first plan, still waiting for the model
    await until(lambda: requests_for(gemini_text, "a cleaning for two"), timeout=10)
    with session_scope() as session:
        actor = session.get(User, org.user_id)
        agents.update_agent(session, actor, org.agent_id, {"analysis_plan": {
            "fields": [{"name": "preferred_day", "type": "string", "required": True}]}})
        pending = call_analysis.rerun(session, actor, call_id)
    assert pending == {"status": "pending", "summary": None, "data": None, "success": None, "success_reason": None,
                       "sentiment": None, "model": None, "error": None}
    gemini_text.delay = 0.0
    older.join(timeout=30)
    await until(lambda: _done(call_id), timeout=20)
    analysis = call_row(call_id).analysis
    assert analysis["data"] == {"preferred_day": "a value"} and analysis["success"] is None


def test_a_rerun_needs_the_right_to_edit_agents_in_that_organization(test_database):
    org, stranger = org_with_agent(), org_with_agent(prefix="stranger")
    call_id = ended_call(org)
    with session_scope() as session:
        member, _ = auth.signup(session, email=f"m-{uuid.uuid4().hex[:8]}@example.com", password="correct horse battery")
        from voice_platform.services import organizations

        organizations.add_member(session, session.get(User, org.user_id), org.org_id, email=member.user.email,
                                 role="member")
    with session_scope() as session, pytest.raises(PermissionDenied):
        call_analysis.rerun(session, session.get(User, member.user.id), call_id)
    with session_scope() as session, pytest.raises(NotFound):
        call_analysis.rerun(session, session.get(User, stranger.user_id), call_id)
    with session_scope() as session:  # a call still going on
        open_call = calls.open_test_session(session, session.get(User, org.user_id), org.agent_id)
    with session_scope() as session, pytest.raises(Conflict):
        call_analysis.rerun(session, session.get(User, org.user_id), open_call.id)


def test_the_loop_starts_once_per_process_and_stops():
    def loops() -> int:
        return [t.name for t in threading.enumerate()].count("call-analysis-loop")

    call_analysis.start_background()
    assert call_analysis.start_background() is False and loops() == 1
    call_analysis.stop_background(timeout=60)  # after its round: a model request may be in flight
    assert loops() == 0
    assert call_analysis.start_background() is True and loops() == 1
