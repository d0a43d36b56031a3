"""The numbers on the landing page: how the organization's phone agents are doing.

Days are the organization's days (its time zone), so "today" on the dashboard is
the business's today. Test chats are left out: they are not calls.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, select

from voice_platform.models import CallSession, Organization, ToolInvocation, User, VoiceAgent
from voice_platform.models.base import aware, utcnow
from voice_platform.models.calls import PHONE
from voice_platform.services.rbac import require

CHART_DAYS = 14


@dataclass(frozen=True)
class Overview:
    calls_today: int
    calls_this_week: int
    minutes_this_week: float
    failed_this_week: int
    busiest_agents: list[tuple[str, int]]
    tool_calls_this_week: int
    tool_error_rate: float | None  # None: no tool calls
    calls_per_day: list[tuple[str, int]]  # (ISO day, count), oldest first
    timezone: str


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(timezone.utc)


def _calls_per_local_day(session: Session, phone, since: datetime, zone: ZoneInfo) -> dict[date, int]:
    """Calls per day in the organization's time zone. PostgreSQL groups in SQL (one row per day);
    SQLite (the embedded default, small data) has no time zones, so the rows are grouped here."""
    recent = (*phone, CallSession.started_at >= since)
    if session.get_bind().dialect.name == "postgresql":
        local_day = func.date(func.timezone(zone.key, CallSession.started_at))
        return dict(session.exec(select(local_day, func.count()).where(*recent).group_by(local_day)).all())
    per_day: dict[date, int] = {}
    for moment in session.exec(select(CallSession.started_at).where(*recent)).all():
        local = aware(moment).astimezone(zone).date()
        per_day[local] = per_day.get(local, 0) + 1
    return per_day


def overview(session: Session, actor: User, org_id: uuid.UUID, *, now: datetime | None = None) -> Overview:
    require(session, actor, "call:read", org_id)
    org = session.get(Organization, org_id)
    zone = ZoneInfo(org.timezone if org else "UTC")
    today = (now or utcnow()).astimezone(zone).date()
    week_start = _local_midnight(today - timedelta(days=6), zone)
    chart_start = _local_midnight(today - timedelta(days=CHART_DAYS - 1), zone)
    phone = (CallSession.organization_id == org_id, CallSession.kind == PHONE)

    per_day = _calls_per_local_day(session, phone, chart_start, zone)
    week = (*phone, CallSession.started_at >= week_start)
    count, seconds, failed = session.exec(
        select(func.count(), func.coalesce(func.sum(CallSession.duration_seconds), 0.0),
               func.count().filter(CallSession.status == "failed")).where(*week)
    ).one()
    busiest = session.exec(
        select(VoiceAgent.name, func.count().label("n"))
        .join(CallSession, CallSession.agent_id == VoiceAgent.id)
        .where(*week).group_by(VoiceAgent.id, VoiceAgent.name).order_by(func.count().desc(), VoiceAgent.name).limit(5)
    ).all()
    tools, errors = session.exec(
        select(func.count(), func.count().filter(ToolInvocation.error.is_not(None)))
        .join(CallSession, CallSession.id == ToolInvocation.call_session_id).where(*week)
    ).one()
    return Overview(
        calls_today=per_day.get(today, 0),
        calls_this_week=count,
        minutes_this_week=round(float(seconds) / 60.0, 1),
        failed_this_week=failed,
        busiest_agents=[(name, n) for name, n in busiest],
        tool_calls_this_week=tools,
        tool_error_rate=(errors / tools) if tools else None,
        calls_per_day=[((today - timedelta(days=i)).isoformat(), per_day.get(today - timedelta(days=i), 0))
                       for i in range(CHART_DAYS - 1, -1, -1)],
        timezone=zone.key,
    )
