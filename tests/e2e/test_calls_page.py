"""The calls list and a call's page show what the call-session service recorded."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, route, sign_in, wait_hydrated

pytestmark = pytest.mark.e2e


def record_call(number: str) -> uuid.UUID:
    """A finished phone call to ``number``, recorded through the services the webhook and worker use."""
    from voice_platform.db import session_scope
    from voice_platform.services import calls

    with session_scope() as session:
        routed = calls.open_phone_session(session, call_sid="CA" + uuid.uuid4().hex, from_number="+15550003333",
                                          to_number=number)
    with session_scope() as session:
        calls.claim_session(session, routed.session_id, room_name="call-e2e")
        calls.record_turn(session, routed.session_id, "assistant", "Hello, Bright Smiles. How can I help?")
        calls.record_turn(session, routed.session_id, "user", "Can I come in Friday at ten?")
        calls.record_tool_invocation(session, routed.session_id, tool_name="google_calendar",
                                     function_name="check_availability", arguments={"day": "2026-11-27"},
                                     error="Calendar unavailable", duration_ms=42.0)
        calls.record_setup_times(session, routed.session_id, ours_ms=35.0, model_ms=410.0)
        calls.finish_session(session, routed.session_id, reason="caller_hangup")
    return routed.session_id


def test_calls_list_filters_and_opens_a_call_with_its_transcript(page):
    from voice_platform.db import session_scope
    from voice_platform.services import agents, auth

    email = f"calls-{uuid.uuid4().hex[:10]}@example.com"
    number = "+1415" + str(uuid.uuid4().int)[:7]
    with session_scope() as session:
        signed, org = auth.signup(session, email=email, password=PASSWORD, organization_name="Bright Smiles")
        agents.create_agent(session, signed.user, org.id, {"name": "Reception", "phone_number": number})
    call_id = record_call(number)

    sign_in(page, email)
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Calls").click()
    page.wait_for_url(route("/calls"))
    wait_hydrated(page)
    row = page.get_by_test_id("call-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Reception")
    expect(row).to_contain_text("+15550003333")
    expect(row).to_contain_text("caller hangup")

    page.get_by_label("Status filter").click()
    page.get_by_role("option", name="Failed").click()
    expect(page.get_by_text("No calls yet")).to_be_visible()
    page.get_by_label("Status filter").click()
    page.get_by_role("option", name="Completed").click()
    expect(row).to_have_count(1)

    row.get_by_role("link").click()
    page.wait_for_url(route(f"/calls/{call_id}"))
    expect(page.get_by_test_id("turn")).to_have_count(2)
    expect(page.get_by_test_id("turn").first).to_contain_text("Hello, Bright Smiles")
    tool = page.get_by_test_id("tool-invocation")
    expect(tool).to_contain_text("google_calendar.check_availability")
    expect(tool).to_contain_text("Calendar unavailable")
    expect(page.get_by_text("445 ms (ours 35 ms, model 410 ms)")).to_be_visible()
    page.go_back()
    page.wait_for_url(route("/calls"))


def test_a_call_that_starts_while_the_list_is_open_appears_without_a_reload(page):
    from voice_platform.db import session_scope
    from voice_platform.services import agents, auth

    email = f"live-{uuid.uuid4().hex[:10]}@example.com"
    number = "+1415" + str(uuid.uuid4().int)[:7]
    with session_scope() as session:
        signed, org = auth.signup(session, email=email, password=PASSWORD, organization_name="Live Co")
        agents.create_agent(session, signed.user, org.id, {"name": "Live desk", "phone_number": number})
    sign_in(page, email)
    page.goto("/calls")
    wait_hydrated(page)
    expect(page.get_by_text("No calls yet")).to_be_visible()
    expect(page.get_by_test_id("calls-poller")).to_have_count(0)  # pushed by the server, not polled
    # a call starts, as the webhook would open it (another process: the test's)
    from voice_platform.services import calls

    with session_scope() as session:
        routed = calls.open_phone_session(session, call_sid="CA" + uuid.uuid4().hex, from_number="+15550004444",
                                          to_number=number)
    row = page.get_by_test_id("call-row")
    expect(row).to_have_count(1, timeout=10_000)
    expect(row).to_contain_text("Live desk")
    expect(row).to_contain_text(re.compile("pending", re.I))
    with session_scope() as session:  # and ends, as the worker would close it
        calls.claim_session(session, routed.session_id, room_name="call-live")
        calls.finish_session(session, routed.session_id, reason="caller_hangup")
    expect(row).to_contain_text(re.compile("completed", re.I), timeout=10_000)
    record_call(number)  # a second call, start to end at once
    expect(page.get_by_test_id("call-row")).to_have_count(2, timeout=10_000)
