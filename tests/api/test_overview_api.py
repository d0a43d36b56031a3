"""The overview counts the organization's phone calls in its own time zone."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from tests.support.api import create_agent, signup, unique_phone


def _call(number: str, started: datetime, *, seconds: float, failed: bool = False, tool_error: bool | None = None):
    from sqlalchemy import update

    from voice_platform.db import session_scope
    from voice_platform.models import CallSession
    from voice_platform.services import calls

    with session_scope() as session:
        routed = calls.open_phone_session(session, call_sid="CA" + uuid.uuid4().hex, from_number="+15550005555",
                                          to_number=number)
        if tool_error is not None:
            calls.record_tool_invocation(session, routed.session_id, tool_name="t", function_name="f", arguments={},
                                         error="boom" if tool_error else None)
        session.execute(update(CallSession).where(CallSession.id == routed.session_id).values(
            started_at=started, ended_at=started + timedelta(seconds=seconds), duration_seconds=seconds,
            status="failed" if failed else "completed"))


def test_overview_numbers(client):
    admin = signup(client, "overview")
    client.put(f"/api/v1/organizations/{admin.org_id}", json={"timezone": "America/Los_Angeles"}, headers=admin.headers)
    busy, quiet = unique_phone(), unique_phone()
    create_agent(client, admin, name="Busy", phone_number=busy)
    create_agent(client, admin, name="Quiet", phone_number=quiet)
    now = datetime.now(timezone.utc)
    la = ZoneInfo("America/Los_Angeles")
    recent = [now - timedelta(minutes=m) for m in (5, 3, 1)]
    today_local = sum(1 for t in recent if t.astimezone(la).date() == now.astimezone(la).date())
    _call(busy, now - timedelta(minutes=5), seconds=90, tool_error=False)
    _call(busy, now - timedelta(minutes=3), seconds=30, tool_error=True, failed=True)
    _call(quiet, now - timedelta(minutes=1), seconds=60)
    _call(quiet, now - timedelta(days=20), seconds=600)  # outside the week and the chart

    body = client.get(f"/api/v1/organizations/{admin.org_id}/overview", headers=admin.headers).json()
    assert body["timezone"] == "America/Los_Angeles"
    assert (body["calls_today"], body["calls_this_week"], body["minutes_this_week"], body["failed_this_week"]) == (today_local, 3, 3.0, 1)
    assert body["busiest_agents"][0] == {"agent": "Busy", "calls": 2}
    assert body["tool_calls_this_week"] == 2 and body["tool_error_rate"] == 0.5
    assert len(body["calls_per_day"]) == 14 and body["calls_per_day"][-1]["calls"] == today_local
    assert sum(d["calls"] for d in body["calls_per_day"]) == 3
