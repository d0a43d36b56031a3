"""The registry describes functions exactly as LiveKit does, and syncs the catalogue idempotently."""

from __future__ import annotations

from contextlib import contextmanager

from livekit.agents.llm import find_function_tools
from livekit.agents.llm.utils import build_legacy_openai_schema
from sqlalchemy import event
from sqlmodel import select

from tests.tools.conftest import IMPLEMENTATIONS, SAMPLE_PACKAGE
from tests.tools.sample_tools.weather import WeatherTool
from voice_platform.db import get_engine, session_scope
from voice_platform.models import PlatformTool
from voice_platform.tools.base import ToolRuntime
from voice_platform.tools.registry import ToolRegistry, default_registry


@contextmanager
def count_writes():
    writes: list[str] = []

    def listener(_conn, _cursor, statement, *_args):
        if statement.lstrip().split(" ", 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}:
            writes.append(statement)

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield writes
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def test_discovers_tool_classes_and_their_function_tools():
    registry = ToolRegistry(packages=(IMPLEMENTATIONS, SAMPLE_PACKAGE))
    assert set(registry.tool_classes()) == {"Call_control", "Google_calendar", "Test_weather"}
    assert registry.function_names("Test_weather") == ["current_conditions", "forecast"]
    assert default_registry.function_names("Google_calendar") == [
        "book_appointment", "cancel_appointment", "check_availability", "list_upcoming_events",
    ]


def test_schemas_equal_livekits_own_builder_and_omit_run_context():
    registry = ToolRegistry(packages=(SAMPLE_PACKAGE,))
    ours = {s["name"]: s for s in registry.function_schemas("Test_weather")}
    for tool in find_function_tools(WeatherTool()):
        built = build_legacy_openai_schema(tool, internally_tagged=True)
        assert ours[tool.info.name] == {k: built[k] for k in ("name", "description", "parameters")}
    params = ours["forecast"]["parameters"]
    assert set(params["properties"]) == {"city", "days", "country", "units"}  # no context
    assert params["required"] == ["city"]
    assert params["properties"]["days"] == {"default": 3, "description": "How many days ahead.", "title": "Days", "type": "integer"}
    assert params["properties"]["country"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert params["properties"]["units"]["enum"] == ["metric", "imperial"]
    assert params["properties"]["city"]["description"] == "The city name."
    assert ours["forecast"]["description"].strip() == "Forecast for a city."


def test_get_tool_functions_leaves_out_switched_off_and_ignores_stale_names():
    registry = ToolRegistry(packages=(SAMPLE_PACKAGE,))
    tool = WeatherTool(ToolRuntime(tool_name="Test_weather"))
    names = [f.info.name for f in registry.get_tool_functions("Test_weather", tool, ["forecast", "gone_function"])]
    assert names == ["current_conditions"]


def test_sync_inserts_then_second_run_writes_nothing(test_database):
    registry = ToolRegistry(packages=(IMPLEMENTATIONS, SAMPLE_PACKAGE))
    with session_scope() as session:
        first = registry.sync_with_db(session)
    assert sorted(first.inserted) == ["Call_control", "Google_calendar", "Test_weather"]
    with count_writes() as writes, session_scope() as session:
        second = registry.sync_with_db(session)
    assert second.writes == 0 and sorted(second.unchanged) == ["Call_control", "Google_calendar", "Test_weather"]
    assert writes == []
    with session_scope() as session:
        row = session.exec(select(PlatformTool).where(PlatformTool.name == "Google_calendar")).one()
        assert [f["name"] for f in row.tool_functions_schema["functions"]] == default_registry.function_names("Google_calendar")
        assert row.auth_type == "oauth2" and row.requires_auth


def test_tool_removed_from_code_becomes_inactive_not_deleted(test_database):
    with session_scope() as session:
        ToolRegistry(packages=(IMPLEMENTATIONS, SAMPLE_PACKAGE)).sync_with_db(session)
    with session_scope() as session:
        report = ToolRegistry(packages=(IMPLEMENTATIONS,)).sync_with_db(session)
    assert report.deactivated == ["Test_weather"]
    with session_scope() as session:
        row = session.exec(select(PlatformTool).where(PlatformTool.name == "Test_weather")).one()
        assert row.is_active is False
    with count_writes() as writes, session_scope() as session:
        ToolRegistry(packages=(IMPLEMENTATIONS,)).sync_with_db(session)
    assert writes == []  # staying inactive is not a write either


def test_changed_code_updates_the_row(test_database):
    with session_scope() as session:
        default_registry.sync_with_db(session)
        row = session.exec(select(PlatformTool).where(PlatformTool.name == "Google_calendar")).one()
        row.description = "old text"
    with session_scope() as session:
        report = default_registry.sync_with_db(session)
    assert report.updated == ["Google_calendar"]


def test_backend_startup_syncs_the_catalogue(test_database, monkeypatch):
    from voice_platform import startup

    monkeypatch.setattr(startup, "_done", False)
    startup.on_startup()
    with session_scope() as session:
        names = session.exec(select(PlatformTool.name).where(PlatformTool.is_active == True)).all()  # noqa: E712
    assert "Google_calendar" in names
