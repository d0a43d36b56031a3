"""Subscriptions and the usage/billing events recorded against them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime
from sqlmodel import Field, SQLModel

from voice_platform.models.base import JSONType, Timestamped, created_at_field, uuid_pk


class Subscription(Timestamped, table=True):
    __tablename__ = "subscriptions"

    id: uuid.UUID = uuid_pk()
    organization_id: uuid.UUID = Field(
        foreign_key="organizations.id", nullable=False, unique=True, ondelete="CASCADE"
    )
    plan: str = Field(default="free", max_length=50, nullable=False)
    status: str = Field(default="active", max_length=20, nullable=False)
    included_minutes: int = Field(default=60, nullable=False)
    current_period_start: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    current_period_end: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    external_id: str | None = Field(default=None, max_length=100, unique=True)


class BillingEvent(SQLModel, table=True):
    __tablename__ = "billing_events"

    id: uuid.UUID = uuid_pk()
    organization_id: uuid.UUID = Field(
        foreign_key="organizations.id", nullable=False, index=True, ondelete="CASCADE"
    )
    subscription_id: uuid.UUID | None = Field(default=None, foreign_key="subscriptions.id", ondelete="SET NULL")
    call_session_id: uuid.UUID | None = Field(default=None, foreign_key="call_sessions.id", ondelete="SET NULL")
    event_type: str = Field(max_length=50, nullable=False)
    quantity: float = Field(default=0, nullable=False)
    amount_cents: int = Field(default=0, nullable=False)
    # Idempotency key from the payment provider or our own producer.
    external_id: str | None = Field(default=None, max_length=100, unique=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    created_at: datetime = created_at_field()
