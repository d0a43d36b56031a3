"""The worker's tool assembly inside LiveKit's own AgentSession (text mode, scripted LLM).

Proves end to end that a switched-off function is never offered to the model and
that an enabled one runs, with its config and decrypted tokens from the database,
against the fake Google server.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

from livekit.agents import Agent, AgentSession
from livekit.agents.llm import LLM, ChatChunk, ChoiceDelta, FunctionToolCall, LLMStream
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS

from tests.tools.conftest import attach, connect_google
from voice_platform.runtime.assembly import assemble_agent_tools


class ScriptedLLM(LLM):
    """Answers the first turn with a scripted function call, later turns with text; records what it was offered."""

    def __init__(self, call_name: str, arguments: dict) -> None:
        super().__init__()
        self.call_name, self.arguments = call_name, arguments
        self.offered: list[list[str]] = []
        self.tool_outputs: list[str] = []

    def chat(self, *, chat_ctx, tools=None, conn_options=DEFAULT_API_CONNECT_OPTIONS, **_kwargs) -> LLMStream:
        self.offered.append(sorted(t.info.name for t in tools or [] if hasattr(t, "info")))
        return _ScriptedStream(self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options)


class _ScriptedStream(LLMStream):
    async def _run(self) -> None:
        llm: ScriptedLLM = self._llm  # type: ignore[assignment]
        outputs = [item for item in self._chat_ctx.items if item.type == "function_call_output"]
        if not outputs:
            call = FunctionToolCall(name=llm.call_name, arguments=json.dumps(llm.arguments), call_id="call_1")
            self._event_ch.send_nowait(ChatChunk(id="c1", delta=ChoiceDelta(role="assistant", tool_calls=[call])))
        else:
            llm.tool_outputs.append(outputs[-1].output)
            self._event_ch.send_nowait(ChatChunk(id="c2", delta=ChoiceDelta(role="assistant", content="Done.")))


async def _run(assembled, llm: ScriptedLLM, text: str):
    agent = Agent(instructions="You book appointments.", tools=assembled.function_tools)
    async with AgentSession(llm=llm, userdata=assembled.userdata) as session:
        await session.start(agent)
        return await session.run(user_input=text)


async def test_switched_off_function_is_not_offered_and_enabled_one_runs(client, admin, agent, catalogue, fake_google):
    attach(client, admin, agent["id"], "Google_calendar", config={"time_zone": "UTC"}, unselected_functions=["cancel_appointment"])
    connect_google(client, admin, agent["id"])
    assembled = assemble_agent_tools(uuid.UUID(agent["id"]))
    assert assembled.function_names == ["book_appointment", "check_availability", "list_upcoming_events"]

    day = (datetime.now(timezone.utc) + timedelta(days=3)).date()
    start = f"{day.isoformat()}T10:00:00+00:00"
    llm = ScriptedLLM("book_appointment", {"title": "Ada", "start_time": start, "attendee_email": "ada@example.com"})
    result = await _run(assembled, llm, "Book me at ten please")

    result.expect.next_event().is_function_call(name="book_appointment")
    result.expect.next_event().is_function_call_output(is_error=False)
    result.expect.next_event().is_message(role="assistant")
    assert llm.offered and all("cancel_appointment" not in names for names in llm.offered)
    assert "book_appointment" in llm.offered[0]
    (event,) = fake_google.state.live_events()
    assert event["summary"] == "Ada" and event["start"]["dateTime"] == f"{day.isoformat()}T10:00:00Z"
    assert event["extendedProperties"]["private"]["voice_platform_agent_tool"] == assembled.userdata.tool_runtimes["Google_calendar"].agent_tool_id


async def test_tool_error_reaches_the_model_instead_of_crashing(client, admin, agent, catalogue, fake_google):
    attach(client, admin, agent["id"], "Google_calendar")  # attached but never connected
    assembled = assemble_agent_tools(uuid.UUID(agent["id"]))
    llm = ScriptedLLM("list_upcoming_events", {})
    result = await _run(assembled, llm, "What's on the calendar?")
    result.expect.next_event().is_function_call(name="list_upcoming_events")
    result.expect.next_event().is_function_call_output(is_error=True)
    assert "not connected" in llm.tool_outputs[-1]


async def test_disabled_tools_and_inactive_catalogue_entries_are_left_out(client, admin, agent, catalogue, fake_google):
    weather = attach(client, admin, agent["id"], "Test_weather", config={"api_key": "k" * 12})
    attach(client, admin, agent["id"], "Google_calendar", is_enabled=False)
    assembled = assemble_agent_tools(uuid.UUID(agent["id"]), registry=catalogue)
    assert assembled.function_names == ["current_conditions", "forecast"]
    assert assembled.userdata.tool_runtimes["Test_weather"].secrets == {"api_key": "k" * 12}
    assert assembled.userdata.tool_runtimes["Test_weather"].agent_tool_id == weather["id"]
    # a tool the worker's code does not know (deploy skew) is skipped, not fatal
    assert assemble_agent_tools(uuid.UUID(agent["id"])).function_names == []
