"""Every Calendar function through google-api-python-client against the fake Google server."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from livekit.agents.llm import ToolError

from tests.tools.conftest import attach, connect_google
from voice_platform.db import session_scope
from voice_platform.models import AgentTool
from voice_platform.security import decrypt_json
from voice_platform.runtime.assembly import assemble_agent_tools


def _slot(days: int = 2, hour: int = 10) -> datetime:
    day = (datetime.now(timezone.utc) + timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=timezone.utc)


@pytest.fixture()
def calendar(client, admin, agent, catalogue, fake_google):
    """The agent's Calendar tool, connected through the real OAuth round trip, as the worker builds it."""
    connect_google(client, admin, agent["id"])
    assembled = assemble_agent_tools(uuid.UUID(agent["id"]))
    tool = assembled.instances["Google_calendar"]
    return SimpleNamespace(tool=tool, ctx=SimpleNamespace(userdata=assembled.userdata), google=fake_google, assembled=assembled)


async def test_book_list_and_cancel(calendar):
    tool, ctx = calendar.tool, calendar.ctx
    start = _slot()
    booked = await tool.book_appointment(ctx, "Ada - checkup", start.isoformat(), attendee_email="ada@example.com", notes="first visit")
    assert booked["booked"] is True and booked["already_booked"] is False
    (event,) = calendar.google.state.live_events()
    assert event["attendees"] == [{"email": "ada@example.com"}] and event["summary"] == "Ada - checkup"
    assert event["end"]["dateTime"] == (start + timedelta(minutes=30)).isoformat().replace("+00:00", "Z")
    listed = await tool.list_upcoming_events(ctx, max_results=5, days_ahead=7)
    assert [e["event_id"] for e in listed["events"]] == [booked["event_id"]]
    cancelled = await tool.cancel_appointment(ctx, booked["event_id"])
    assert cancelled["cancelled"] is True and calendar.google.state.live_events() == []
    again = await tool.cancel_appointment(ctx, booked["event_id"])
    assert again["already_cancelled"] is True
    rebooked = await tool.book_appointment(ctx, "Ada - checkup", start.isoformat(), attendee_email="ada@example.com", notes="first visit")
    assert rebooked["already_booked"] is False and rebooked["event_id"] != booked["event_id"]


async def test_availability_and_taken_slot(calendar):
    tool, ctx = calendar.tool, calendar.ctx
    start = _slot(hour=11)
    free = await tool.check_availability(ctx, start.isoformat())
    assert free["available"] is True and free["busy"] == []
    calendar.google.state.add_busy(start.isoformat(), (start + timedelta(hours=1)).isoformat())
    busy = await tool.check_availability(ctx, (start - timedelta(minutes=30)).isoformat(), (start + timedelta(minutes=15)).isoformat())
    assert busy["available"] is False and len(busy["busy"]) == 1
    with pytest.raises(ToolError, match="already taken"):
        await tool.book_appointment(ctx, "Bob", (start + timedelta(minutes=15)).isoformat())
    assert calendar.google.state.live_events() == []


async def test_retried_booking_creates_one_event(calendar):
    tool, ctx = calendar.tool, calendar.ctx
    start = _slot(hour=14).isoformat()
    first = await tool.book_appointment(ctx, "Cy", start, duration_minutes=45)
    second = await tool.book_appointment(ctx, "Cy", start, duration_minutes=45)  # the model retried after a timeout
    assert second["already_booked"] is True and second["event_id"] == first["event_id"]
    assert len(calendar.google.state.live_events()) == 1
    # a different caller asking for the same slot is refused: no double booking
    with pytest.raises(ToolError, match="already taken"):
        await tool.book_appointment(ctx, "Dee", start)


async def test_outside_business_hours_and_bad_input(calendar):
    tool, ctx = calendar.tool, calendar.ctx
    with pytest.raises(ToolError, match="between 09:00 and 17:00"):
        await tool.book_appointment(ctx, "Late", _slot(hour=16).replace(minute=45).isoformat())
    with pytest.raises(ToolError, match="date and time"):
        await tool.check_availability(ctx, "next tuesday")


async def test_only_events_the_agent_booked_can_be_cancelled(calendar):
    tool, ctx = calendar.tool, calendar.ctx
    start = _slot(hour=9)
    calendar.google.state.events["privatemeeting1"] = {
        "id": "privatemeeting1", "status": "confirmed", "summary": "Owner's dentist",
        "start": {"dateTime": start.isoformat()}, "end": {"dateTime": (start + timedelta(hours=1)).isoformat()},
    }
    with pytest.raises(ToolError, match="only cancel appointments that I booked"):
        await tool.cancel_appointment(ctx, "privatemeeting1")
    with pytest.raises(ToolError):
        await tool.cancel_appointment(ctx, "doesnotexist1")
    assert len(calendar.google.state.live_events()) == 1


async def test_expired_token_is_refreshed_and_saved_encrypted(calendar, agent):
    tool, ctx = calendar.tool, calendar.ctx
    runtime = ctx.userdata.tool_runtimes["Google_calendar"]
    old = runtime.secrets["oauth"]["token"]
    calendar.google.state.expire_access_tokens()
    runtime.secrets["oauth"]["expiry"] = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat()
    result = await tool.list_upcoming_events(ctx)
    assert result == {"events": []}
    assert "refresh_token" in calendar.google.state.grants
    with session_scope() as session:
        row = session.get(AgentTool, uuid.UUID(runtime.agent_tool_id))
        stored = decrypt_json(row.sensitive_config)["oauth"]
    assert stored["token"] != old and stored["token"] == runtime.secrets["oauth"]["token"]
    assert stored["token"] not in row.sensitive_config


async def test_access_token_rejected_by_api_is_refreshed(calendar):
    """Google may drop an access token before its expiry: the client library refreshes on 401."""
    tool, ctx = calendar.tool, calendar.ctx
    runtime = ctx.userdata.tool_runtimes["Google_calendar"]
    old = runtime.secrets["oauth"]["token"]
    calendar.google.state.expire_access_tokens()  # our stored expiry still says valid
    assert (await tool.check_availability(ctx, _slot().isoformat()))["available"] is True
    assert runtime.secrets["oauth"]["token"] != old


async def test_revoked_refresh_token_tells_the_model(calendar):
    tool, ctx = calendar.tool, calendar.ctx
    calendar.google.state.revoke_all()
    with pytest.raises(ToolError, match="revoked"):
        await tool.list_upcoming_events(ctx)
    with pytest.raises(ToolError, match="revoked"):
        await tool.book_appointment(ctx, "Eve", _slot().isoformat())


async def test_not_connected_tells_the_model(client, admin, agent, catalogue, fake_google):
    attach(client, admin, agent["id"], "Google_calendar")
    assembled = assemble_agent_tools(uuid.UUID(agent["id"]))
    with pytest.raises(ToolError, match="not connected"):
        await assembled.instances["Google_calendar"].check_availability(SimpleNamespace(userdata=assembled.userdata), _slot().isoformat())
