"""Plans, each organization's subscription, and the billing events recorded against it.

A plan is a row (seeded by the migration), so the webhook's single statement can join it
for the organization's limits. The subscription carries two counters kept in the same
transaction as the change that moves them:

- ``minutes_used``: minutes metered in the current period (reset when the period rolls over);
- ``active_calls``: phone calls holding a concurrency slot. A slot is taken in the statement
  that inserts the session and given back by the transition that closes it, so the counter
  is exact under concurrent webhooks (the row lock serialises them).

Every ended call is one ``BillingEvent`` whose ``external_id`` is ``call:<session id>``
(unique): metering twice is impossible even if two closers raced.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index
from sqlmodel import Field, SQLModel

from voice_platform.models.base import JSONType, Timestamped, created_at_field, uuid_pk

# BillingEvent.event_type
CALL_MINUTES = "call_minutes"
PLAN_CHANGED = "plan_changed"
PERIOD_STARTED = "period_started"


class Plan(SQLModel, table=True):
    __tablename__ = "plans"

    id: str = Field(primary_key=True, max_length=32)  # free | starter | pro
    name: str = Field(max_length=100, nullable=False)
    position: int = Field(default=0, nullable=False)  # order on the billing page
    monthly_price_cents: int = Field(default=0, nullable=False)
    included_minutes: int = Field(nullable=False)
    overage_cents_per_minute: int = Field(default=0, nullable=False)
    # Calls are refused once a period's minutes reach this; None = no cap (overage is billed).
    minute_cap: int | None = Field(default=None)
    max_concurrent_calls: int = Field(nullable=False)
    max_agents: int = Field(nullable=False)


class Subscription(Timestamped, table=True):
    __tablename__ = "subscriptions"

    id: uuid.UUID = uuid_pk()
    organization_id: uuid.UUID = Field(
        foreign_key="organizations.id", nullable=False, unique=True, ondelete="CASCADE"
    )
    plan: str = Field(default="free", max_length=32, nullable=False, foreign_key="plans.id", ondelete="RESTRICT")
    status: str = Field(default="active", max_length=20, nullable=False)
    current_period_start: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    current_period_end: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    minutes_used: int = Field(default=0, nullable=False)
    active_calls: int = Field(default=0, nullable=False)
    # The payment provider's id for this subscription, when one is plugged in.
    external_id: str | None = Field(default=None, max_length=100, unique=True)


class BillingEvent(SQLModel, table=True):
    __tablename__ = "billing_events"
    __table_args__ = (Index("ix_billing_events_org_created", "organization_id", "created_at"),)

    id: uuid.UUID = uuid_pk()
    organization_id: uuid.UUID = Field(foreign_key="organizations.id", nullable=False, ondelete="CASCADE")
    subscription_id: uuid.UUID | None = Field(default=None, foreign_key="subscriptions.id", ondelete="SET NULL")
    call_session_id: uuid.UUID | None = Field(default=None, foreign_key="call_sessions.id", ondelete="SET NULL")
    event_type: str = Field(max_length=50, nullable=False)
    quantity: float = Field(default=0, nullable=False)
    amount_cents: int = Field(default=0, nullable=False)
    # Idempotency key: ``call:<session id>`` for metering, or the payment provider's event id.
    external_id: str | None = Field(default=None, max_length=100, unique=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    created_at: datetime = created_at_field()
