"""The "Test your agent" panel in a real browser: the app runs the agent on the fake Gemini Live server."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in
from tests.e2e.tools_support import admin_with_agent, attach, sync_catalogue

pytestmark = pytest.mark.e2e


def test_chat_with_the_agent_see_its_tool_call_and_reset(page, live_app, fake_gemini):
    sync_catalogue()
    email, _org_id, agent_id = admin_with_agent("Chat Dental")
    attach(email, agent_id, "Call_control")
    fake_gemini.replies = [
        [{"say": "We open at nine tomorrow."}],
        [{"call": "end_call"}],
        [{"say": "Goodbye, see you tomorrow!"}],
    ]
    sign_in(page, email)
    page.goto(f"/agents/{agent_id}")
    panel = page.get_by_test_id("test-chat")
    expect(panel).to_contain_text("Test your agent")
    expect(panel.get_by_test_id("chat-no-key")).to_have_count(0)  # the app has a (fake) Gemini key

    box = panel.get_by_label("Message to the agent")
    box.fill("When do you open tomorrow?")
    panel.get_by_role("button", name="Send").click()
    expect(panel.get_by_test_id("chat-agent").last).to_have_text("We open at nine tomorrow.", timeout=30_000)
    expect(panel.get_by_test_id("chat-user")).to_have_text(["When do you open tomorrow?"])

    box.fill("Thanks, bye!")
    panel.get_by_role("button", name="Send").click()
    tool = panel.get_by_test_id("chat-tool-call")
    expect(tool).to_contain_text("end_call", timeout=30_000)
    expect(tool).to_contain_text("ok")
    expect(panel.get_by_test_id("chat-agent").last).to_have_text("Goodbye, see you tomorrow!")
    expect(panel).to_contain_text("The agent ended the conversation")
    assert any(s.get("tools") for s in fake_gemini.setups)  # declared through the real plugin

    panel.get_by_role("button", name="Reset conversation").click()
    expect(panel.get_by_test_id("chat-user")).to_have_count(0)
    expect(panel.get_by_test_id("chat-error")).to_have_count(0)
