"""How each of an agent's functions behaved on calls: calls, error rate, p95 latency.

Computed from the recorded tool invocations of the agent's sessions (calls and test
chats). The p95 is taken in Python so SQLite and PostgreSQL agree; one agent's
invocations over 30 days are small enough for that.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from voice_platform.models import CallSession, ToolInvocation, User
from voice_platform.models.base import aware, utcnow
from voice_platform.services.agents import get_agent

WINDOWS = (7, 30)


@dataclass(frozen=True)
class FunctionStats:
    calls: int
    errors: int
    p95_ms: float | None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.calls if self.calls else None


def p95(values: list[float]) -> float | None:
    """Nearest-rank 95th percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def function_stats(
    session: Session, actor: User, agent_id: uuid.UUID, *, now: datetime | None = None
) -> dict[tuple[str, str], dict[int, FunctionStats]]:
    """{(tool, function): {7: stats, 30: stats}} for the agent (permission ``tool:read``)."""
    get_agent(session, actor, agent_id, permission="tool:read")
    now = now or utcnow()
    since = now - timedelta(days=max(WINDOWS))
    rows = session.exec(
        select(ToolInvocation.tool_name, ToolInvocation.function_name, ToolInvocation.error,
               ToolInvocation.duration_ms, ToolInvocation.created_at)
        .join(CallSession, CallSession.id == ToolInvocation.call_session_id)
        .where(CallSession.agent_id == agent_id, ToolInvocation.created_at >= since)
    ).all()
    grouped: dict[tuple[str, str], list[tuple[bool, float | None, datetime]]] = {}
    for tool, function, error, duration, created in rows:
        grouped.setdefault((tool, function), []).append((error is not None, duration, aware(created)))
    out: dict[tuple[str, str], dict[int, FunctionStats]] = {}
    for key, items in grouped.items():
        out[key] = {}
        for days in WINDOWS:
            window = [i for i in items if i[2] >= now - timedelta(days=days)]
            out[key][days] = FunctionStats(
                calls=len(window), errors=sum(1 for failed, _d, _c in window if failed),
                p95_ms=p95([d for _f, d, _c in window if d is not None]),
            )
    return out


def describe(stats: FunctionStats | None) -> str:
    if stats is None or not stats.calls:
        return "no calls"
    parts = [f"{stats.calls} call{'s' if stats.calls != 1 else ''}", f"{stats.error_rate:.0%} errors"]
    if stats.p95_ms is not None:
        parts.append(f"p95 {stats.p95_ms:.0f} ms")
    return " · ".join(parts)
