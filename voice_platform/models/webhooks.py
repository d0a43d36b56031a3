"""Webhooks to the customer's own systems: endpoints, the events they get, one delivery each.

An event is written in the transaction of the change that causes it (``call.analyzed``, ``ping``)
or fanned out from the call row's ``pending_events`` bits, which the statement that starts or
ends a call sets (see ``models/calls.py``). Each endpoint that wants the event gets one
``WebhookDelivery``, sent at least once by a background sender holding the endpoint's lease,
so the deliveries of one endpoint leave in order and never from two processes at once.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, Text
from sqlmodel import Field, SQLModel

from voice_platform.models.base import JSONType, Timestamped, created_at_field, uuid_pk

# delivery status
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


class WebhookEndpoint(Timestamped, table=True):
    __tablename__ = "webhook_endpoints"

    id: uuid.UUID = uuid_pk()
    organization_id: uuid.UUID = Field(foreign_key="organizations.id", nullable=False, index=True, ondelete="CASCADE")
    # NULL: every agent of the organization; else only this agent's calls.
    agent_id: uuid.UUID | None = Field(default=None, foreign_key="voice_agents.id", ondelete="CASCADE")
    url: str = Field(max_length=2000, nullable=False)
    description: str = Field(default="", max_length=500, nullable=False)
    events: list[str] = Field(default_factory=list, sa_type=JSONType, nullable=False)
    # Fernet token of the "whsec_..." signing secret: shown once, never returned again.
    secret_encrypted: str = Field(sa_type=Text, nullable=False)
    enabled: bool = Field(default=True, nullable=False)
    # Why it was switched off (e.g. failing for 3 days); NULL while enabled or switched off by hand.
    disabled_reason: str | None = Field(default=None, max_length=300)
    # Start of the current run of failed attempts; NULL after a success.
    failing_since: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # The process sending this endpoint's deliveries may do so until then (one sender at a time).
    lease_until: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class WebhookEvent(SQLModel, table=True):
    """One event as the receivers get it (``payload`` is the exact JSON body, frozen when made)."""

    __tablename__ = "webhook_events"
    # The webhook loop deletes events past WEBHOOK_RETENTION_DAYS, oldest first.
    __table_args__ = (Index("ix_webhook_events_created_at", "created_at"),)

    id: uuid.UUID = uuid_pk()  # the public id is "evt_" + id.hex, the receivers' idempotency key
    organization_id: uuid.UUID = Field(foreign_key="organizations.id", nullable=False, index=True, ondelete="CASCADE")
    type: str = Field(max_length=40, nullable=False)
    call_session_id: uuid.UUID | None = Field(default=None, foreign_key="call_sessions.id", index=True,
                                              ondelete="SET NULL")
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    created_at: datetime = created_at_field()


class WebhookDelivery(SQLModel, table=True):
    __tablename__ = "webhook_deliveries"
    # The sender reads an endpoint's open deliveries oldest first; the deliveries list newest first.
    __table_args__ = (Index("ix_webhook_deliveries_endpoint_status_created", "endpoint_id", "status", "created_at"),)

    id: uuid.UUID = uuid_pk()
    endpoint_id: uuid.UUID = Field(foreign_key="webhook_endpoints.id", nullable=False, ondelete="CASCADE")
    event_id: uuid.UUID = Field(foreign_key="webhook_events.id", nullable=False, index=True, ondelete="CASCADE")
    status: str = Field(default=PENDING, max_length=10, nullable=False)
    attempts: int = Field(default=0, nullable=False)
    response_status: int | None = Field(default=None)
    duration_ms: float | None = Field(default=None)
    last_error: str | None = Field(default=None, max_length=500)
    next_attempt_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    delivered_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = created_at_field()
