"""Calling out: campaigns and their contacts, the do-not-call list, the dialer's lease.

A campaign dials its contacts through the same path as a single outbound call; each contact
is claimed by one conditional UPDATE (``queued`` -> ``calling``) before Twilio is asked, so a
restart neither loses nor double-dials it. One dialer runs at a time however many web processes
there are: it holds the ``dialer`` row of ``background_leases``.

A number on an organization's do-not-call list is never dialed by that organization, whether
by a single outbound call or a campaign; it is added by a person (page or API) or by the agent
itself when a callee asks not to be called again (the call-control tool's ``do_not_call``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from voice_platform.models.base import JSONType, Timestamped, created_at_field, uuid_pk

# campaign status: draft -> running <-> paused -> completed | cancelled
DRAFT, RUNNING, PAUSED, COMPLETED, CANCELLED = "draft", "running", "paused", "completed", "cancelled"
# contact state
QUEUED, CALLING = "queued", "calling"
CONTACT_FINAL = ("completed", "voicemail", "no_answer", "busy", "failed", "do_not_call", "cancelled")
CONTACT_STATES = (QUEUED, CALLING, *CONTACT_FINAL)


class DoNotCallNumber(SQLModel, table=True):
    __tablename__ = "do_not_call_numbers"
    __table_args__ = (UniqueConstraint("organization_id", "number", name="uq_do_not_call_number"),)

    id: uuid.UUID = uuid_pk()
    organization_id: uuid.UUID = Field(foreign_key="organizations.id", nullable=False, index=True, ondelete="CASCADE")
    number: str = Field(max_length=16, nullable=False)  # E.164
    # Who put it there: a user's e-mail, or "agent" with the call it came from.
    source: str = Field(default="", max_length=200, nullable=False)
    call_session_id: uuid.UUID | None = Field(default=None, foreign_key="call_sessions.id", ondelete="SET NULL")
    created_at: datetime = created_at_field()


class Campaign(Timestamped, table=True):
    __tablename__ = "campaigns"

    id: uuid.UUID = uuid_pk()
    organization_id: uuid.UUID = Field(foreign_key="organizations.id", nullable=False, index=True, ondelete="CASCADE")
    agent_id: uuid.UUID = Field(foreign_key="voice_agents.id", nullable=False, index=True, ondelete="CASCADE")
    name: str = Field(max_length=120, nullable=False)
    status: str = Field(default=DRAFT, max_length=12, nullable=False)
    # {"days": ["mon", ...], "start": "09:00", "end": "17:00"} in the organization's time zone
    window: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    max_concurrent: int = Field(default=1, nullable=False)
    retry_attempts: int = Field(default=0, nullable=False)  # extra attempts after no answer / busy
    retry_delay_minutes: int = Field(default=60, nullable=False)
    created_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    started_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    finished_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class CampaignContact(SQLModel, table=True):
    __tablename__ = "campaign_contacts"
    # The dialer's question: this campaign's contacts due now, in order.
    __table_args__ = (Index("ix_campaign_contacts_due", "campaign_id", "state", "next_attempt_at"),)

    id: uuid.UUID = uuid_pk()
    campaign_id: uuid.UUID = Field(foreign_key="campaigns.id", nullable=False, ondelete="CASCADE")
    position: int = Field(nullable=False)  # order of the upload
    to_number: str = Field(max_length=16, nullable=False)
    variables: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    state: str = Field(default=QUEUED, max_length=12, nullable=False)
    attempts: int = Field(default=0, nullable=False)  # calls placed so far
    next_attempt_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # The latest call's id (no foreign key: calls point at their contact, not the other way round).
    last_call_id: uuid.UUID | None = Field(default=None)
    last_error: str | None = Field(default=None, max_length=300)
    updated_at: datetime = created_at_field()


class BackgroundLease(SQLModel, table=True):
    """Who runs a piece of singleton background work (e.g. the campaign dialer), until when."""

    __tablename__ = "background_leases"

    name: str = Field(primary_key=True, max_length=40)
    holder: str = Field(max_length=100, nullable=False)
    lease_until: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
