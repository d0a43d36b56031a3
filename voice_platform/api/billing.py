"""Billing: the plans, an organization's subscription and usage, its billing events, changing plan."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from voice_platform.api.deps import CurrentUser, SessionDep
from voice_platform.api.schemas import PageOut, declared
from voice_platform.models import Plan
from voice_platform.services import billing

router = APIRouter(tags=["billing"])
ERRORS = {401: {"description": "Not signed in"}, 404: {"description": "Not found"}}


class PlanOut(BaseModel):
    id: str
    name: str
    monthly_price_cents: int
    included_minutes: int
    overage_cents_per_minute: int
    minute_cap: int | None = Field(description="Calls are refused once a period reaches it; null: no cap")
    max_concurrent_calls: int
    max_agents: int


class DayOut(BaseModel):
    day: date
    minutes: int


class BillingOut(BaseModel):
    plan: PlanOut
    status: str
    period_start: datetime
    period_end: datetime
    minutes_used: int
    included_minutes: int
    overage_minutes: int
    overage_cents: int
    projected_minutes: int = Field(description="This period's minutes if usage goes on at its pace so far")
    projected_overage_cents: int
    active_calls: int
    agents: int
    usage_per_day: list[DayOut]
    can_manage: bool


class PlanIn(BaseModel):
    plan: str = Field(min_length=1, max_length=32, **declared(enum=list(billing.PLAN_IDS)))


class BillingEventOut(BaseModel):
    id: uuid.UUID
    event_type: str
    quantity: float
    amount_cents: int
    call_session_id: uuid.UUID | None
    payload: dict[str, Any]
    created_at: datetime


def _plan(plan: Plan) -> PlanOut:
    return PlanOut.model_validate(plan, from_attributes=True)


def _billing(s: billing.BillingSummary) -> BillingOut:
    return BillingOut(
        plan=_plan(s.plan), status=s.subscription.status, period_start=s.subscription.current_period_start,
        period_end=s.subscription.current_period_end, minutes_used=s.minutes_used,
        included_minutes=s.included_minutes, overage_minutes=s.overage_minutes, overage_cents=s.overage_cents,
        projected_minutes=s.projected_minutes, projected_overage_cents=s.projected_overage_cents,
        active_calls=s.active_calls, agents=s.agents,
        usage_per_day=[DayOut(day=d.day, minutes=d.minutes) for d in s.days], can_manage=s.can_manage,
    )


@router.get("/billing/plans", response_model=list[PlanOut], responses={401: ERRORS[401]})
def list_plans(user: CurrentUser, session: SessionDep) -> list[PlanOut]:
    return [_plan(p) for p in billing.plans(session)]


@router.get("/organizations/{org_id}/billing", response_model=BillingOut, responses=ERRORS)
def get_billing(org_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> BillingOut:
    return _billing(billing.summary(session, user, org_id))


@router.put("/organizations/{org_id}/billing/plan", response_model=BillingOut,
            responses={**ERRORS, 402: {"description": "The organization has more agents than the plan allows"},
                       403: {"description": "Only org admins change the plan"},
                       422: {"description": "Unknown plan"}})
def change_plan(org_id: uuid.UUID, body: PlanIn, user: CurrentUser, session: SessionDep) -> BillingOut:
    billing.change_plan(session, user, org_id, body.plan)
    return _billing(billing.summary(session, user, org_id))


@router.get("/organizations/{org_id}/billing/events", response_model=PageOut[BillingEventOut], responses=ERRORS)
def list_events(
    org_id: uuid.UUID, user: CurrentUser, session: SessionDep,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0, limit: Annotated[int, Query(ge=1, le=200)] = 25,
) -> PageOut[BillingEventOut]:
    page = billing.events(session, user, org_id, offset=offset, limit=limit)
    return PageOut[BillingEventOut](
        items=[BillingEventOut.model_validate(e, from_attributes=True) for e in page.items],
        total=page.total, offset=page.offset, limit=page.limit,
    )
