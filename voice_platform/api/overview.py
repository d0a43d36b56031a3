"""/api/v1/organizations/{org_id}/overview: the landing page's numbers, for API clients too."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import BaseModel

from voice_platform.api.deps import CurrentUser, SessionDep
from voice_platform.services import overview as overview_service

router = APIRouter(prefix="/organizations", tags=["organizations"])


class AgentCount(BaseModel):
    agent: str
    calls: int


class DayCount(BaseModel):
    day: str
    calls: int


class OverviewOut(BaseModel):
    calls_today: int
    calls_this_week: int
    minutes_this_week: float
    failed_this_week: int
    busiest_agents: list[AgentCount]
    tool_calls_this_week: int
    tool_error_rate: float | None
    calls_per_day: list[DayCount]
    timezone: str


@router.get("/{org_id}/overview", response_model=OverviewOut,
            responses={401: {"description": "Not signed in"}, 404: {"description": "Not found"}})
def get_overview(org_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> OverviewOut:
    o = overview_service.overview(session, user, org_id)
    return OverviewOut(
        calls_today=o.calls_today, calls_this_week=o.calls_this_week, minutes_this_week=o.minutes_this_week,
        failed_this_week=o.failed_this_week,
        busiest_agents=[AgentCount(agent=a, calls=n) for a, n in o.busiest_agents],
        tool_calls_this_week=o.tool_calls_this_week, tool_error_rate=o.tool_error_rate,
        calls_per_day=[DayCount(day=d, calls=n) for d, n in o.calls_per_day], timezone=o.timezone,
    )
