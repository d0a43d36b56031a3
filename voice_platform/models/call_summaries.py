"""E-mailed call summaries: who subscribed to which organization's calls, and the mails to send.

A ``CallSummaryMail`` row is written in the transaction that stores a phone call's analysis, one
per subscriber; a background sender takes each with a lease (like the password-reset mails), so
a process that stops mid-send neither loses nor doubles it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, UniqueConstraint
from sqlmodel import Field, SQLModel

from voice_platform.models.base import JSONType, Timestamped, created_at_field, uuid_pk

# mail status
PENDING, SENT, FAILED = "pending", "sent", "failed"


class CallSummarySubscription(Timestamped, table=True):
    __tablename__ = "call_summary_subscriptions"
    __table_args__ = (UniqueConstraint("user_id", "organization_id", name="uq_call_summary_subscription"),)

    id: uuid.UUID = uuid_pk()
    user_id: uuid.UUID = Field(foreign_key="users.id", nullable=False, index=True, ondelete="CASCADE")
    organization_id: uuid.UUID = Field(foreign_key="organizations.id", nullable=False, index=True, ondelete="CASCADE")
    # NULL: every agent of the organization; else a list of agent ids (strings).
    agent_ids: list[str] | None = Field(default=None, sa_type=JSONType, nullable=True)


class CallSummaryMail(SQLModel, table=True):
    __tablename__ = "call_summary_mails"

    id: uuid.UUID = uuid_pk()
    call_session_id: uuid.UUID = Field(foreign_key="call_sessions.id", nullable=False, index=True, ondelete="CASCADE")
    user_id: uuid.UUID = Field(foreign_key="users.id", nullable=False, index=True, ondelete="CASCADE")
    status: str = Field(default=PENDING, max_length=10, nullable=False)
    attempts: int = Field(default=0, nullable=False)
    lease_until: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    sent_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    error: str | None = Field(default=None, max_length=500)
    created_at: datetime = created_at_field()
