"""Per-function analytics from recorded invocations: calls, error rate, p95, per window."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from tests.support.api import add_member, create_agent, signup, unique_phone


def test_p95_is_nearest_rank():
    from voice_platform.services.tool_analytics import p95

    assert p95([]) is None
    assert p95([5.0]) == 5.0
    assert p95([float(i) for i in range(1, 101)]) == 95.0
    assert p95([1.0, 2.0, 3.0, 1000.0]) == 1000.0


def test_windows_error_rate_and_tenancy(client):
    from sqlalchemy import update

    from voice_platform.db import session_scope
    from voice_platform.models import ToolInvocation, User
    from voice_platform.services import calls, tool_analytics

    admin = signup(client, "analytics")
    member = add_member(client, admin)
    number = unique_phone()
    agent = create_agent(client, admin, phone_number=number)
    now = datetime.now(timezone.utc)
    with session_scope() as session:
        routed = calls.open_phone_session(session, call_sid="CA" + uuid.uuid4().hex, from_number=None, to_number=number)
        for ms, error, age_days in ((100, None, 1), (300, "boom", 2), (900, None, 20), (50, None, 40)):
            row = calls.record_tool_invocation(session, routed.session_id, tool_name="cal", function_name="book",
                                               arguments={}, error=error, duration_ms=ms)
            session.execute(update(ToolInvocation).where(ToolInvocation.id == row.id)
                            .values(created_at=now - timedelta(days=age_days)))
    with session_scope() as session:
        stats = tool_analytics.function_stats(session, session.get(User, uuid.UUID(member.user_id)),
                                              uuid.UUID(agent["id"]), now=now)[("cal", "book")]
    assert (stats[7].calls, stats[7].errors, stats[7].p95_ms) == (2, 1, 300)
    assert (stats[30].calls, stats[30].errors, stats[30].p95_ms) == (3, 1, 900)
    assert tool_analytics.describe(stats[7]) == "2 calls · 50% errors · p95 300 ms"

    outsider = signup(client, "analytics-outsider")
    import pytest

    from voice_platform.errors import NotFound

    with session_scope() as session, pytest.raises(NotFound):
        tool_analytics.function_stats(session, session.get(User, uuid.UUID(outsider.user_id)), uuid.UUID(agent["id"]))
