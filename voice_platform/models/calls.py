"""Call sessions, their transcript turns and the tool invocations made during them.

One ``CallSession`` per call, opened by whoever sees the call first (Twilio's
incoming webhook for phone calls, the API for a test chat, the worker when the
webhook's row is missing) and closed once. Turns are rows, not a JSON list on the
session, so each one is written as it happens (a crashed worker leaves the
partial transcript) without rewriting the whole conversation.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from voice_platform.models.base import JSONType, Timestamped, created_at_field, uuid_pk

# kind
PHONE = "phone"
TEST = "test"
# direction of a phone call (a test chat is inbound: someone talks to the agent)
INBOUND, OUTBOUND = "inbound", "outbound"
# status: pending (webhook answered) -> active (worker claimed it) -> completed | failed
PENDING, ACTIVE, COMPLETED, FAILED = "pending", "active", "completed", "failed"
OPEN_STATUSES = (PENDING, ACTIVE)
# pending_events bits: the webhook events a call's change owes its organization's endpoints.
EVENT_STARTED, EVENT_ENDED = 1, 2
# analysis_status: NULL until the call ends; pending -> done | failed | skipped
ANALYSIS_PENDING, ANALYSIS_DONE, ANALYSIS_FAILED, ANALYSIS_SKIPPED = "pending", "done", "failed", "skipped"


class CallSession(Timestamped, table=True):
    __tablename__ = "call_sessions"
    # The calls list (newest first) and the overview (a week, a fortnight) read an organization's
    # calls by start time: one index serves both (bench/bench_dashboard.py), and an organization's
    # deletion (its leading column). Every read of this table is an organization's, an id or a
    # CallSid, so there is no index on status or start time alone: each index is paid on every
    # incoming call's insert (bench_webhook).
    # The two partial indexes hold only the calls that owe work (webhook events to fan out, an
    # analysis to run), so the background loops find them without scanning, and a call that owes
    # nothing costs no index entry.
    __table_args__ = (
        Index("ix_call_sessions_org_started", "organization_id", "started_at"),
        Index("ix_call_sessions_pending_events", "id", postgresql_where=text("pending_events <> 0"),
              sqlite_where=text("pending_events <> 0")),
        Index("ix_call_sessions_analysis_pending", "id", postgresql_where=text("analysis_status = 'pending'"),
              sqlite_where=text("analysis_status = 'pending'")),
        # Outbound calls opened and not yet placed with Twilio (no CallSid): the dialer's sweep of
        # the never-placed ones reads only these, never the whole table; an incoming call has its
        # CallSid from the start and never enters it.
        Index("ix_call_sessions_undialed", "started_at",
              postgresql_where=text("status = 'pending' AND provider_call_id IS NULL"),
              sqlite_where=text("status = 'pending' AND provider_call_id IS NULL")),
    )

    id: uuid.UUID = uuid_pk()
    organization_id: uuid.UUID = Field(
        foreign_key="organizations.id", nullable=False, ondelete="CASCADE"
    )
    agent_id: uuid.UUID = Field(foreign_key="voice_agents.id", nullable=False, index=True, ondelete="CASCADE")
    kind: str = Field(default=PHONE, max_length=10, nullable=False)
    direction: str = Field(default=INBOUND, max_length=10, nullable=False, sa_column_kwargs={"server_default": INBOUND})
    # An outbound call's {{placeholders}} values ({"name": "Ada", ...}); NULL for inbound calls.
    variables: dict[str, Any] | None = Field(default=None, sa_type=JSONType, nullable=True)
    # The campaign contact an outbound call dials for (NULL: a single call or an inbound one).
    campaign_contact_id: uuid.UUID | None = Field(default=None, foreign_key="campaign_contacts.id", index=True,
                                                  ondelete="SET NULL")
    # Twilio's answering-machine detection: human | machine_start | machine_end_beep | fax | unknown ...
    answered_by: str | None = Field(default=None, max_length=30)
    # A warm transfer's stages: [{"stage", "at", ...}], and its outcome.
    transfer: dict[str, Any] | None = Field(default=None, sa_type=JSONType, nullable=True)
    # Twilio's CallSid: a retried webhook finds its session by it.
    provider_call_id: str | None = Field(default=None, max_length=64, unique=True)
    from_number: str | None = Field(default=None, max_length=32)
    to_number: str | None = Field(default=None, max_length=32)
    room_name: str | None = Field(default=None, max_length=128)
    status: str = Field(default=PENDING, max_length=20, nullable=False)
    started_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # Set once, when a worker takes the call: a session id is single-use.
    answered_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    ended_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    duration_seconds: float | None = Field(default=None)
    # caller_hangup | agent_ended | transferred | error | dial_failed | no_answer | busy | ...
    end_reason: str | None = Field(default=None, max_length=40)
    error: str | None = Field(default=None, sa_type=Text)
    # Webhook start -> greeting sent, split into our part (job -> session ready) and the model's.
    setup_ours_ms: float | None = Field(default=None)
    setup_model_ms: float | None = Field(default=None)
    recording_sid: str | None = Field(default=None, max_length=64)
    recording_url: str | None = Field(default=None, max_length=500)
    recording_duration_seconds: float | None = Field(default=None)
    # W3C traceparent of the webhook's span, so the worker's spans join the call's one trace.
    trace_context: str | None = Field(default=None, max_length=64)
    # Webhook events owed (EVENT_* bits), set by the very statement that starts or ends the call:
    # the event is as durable as the change; a background loop fans it out and clears the bit.
    # (A server default: the incoming webhook's hand-compiled INSERT names only the columns it sets.)
    pending_events: int = Field(default=0, nullable=False, sa_column_kwargs={"server_default": "0"})
    # Post-call analysis: set to pending by the statement that ends the call.
    analysis_status: str | None = Field(default=None, max_length=10)
    # {"summary", "data", "success", "success_reason", "sentiment", "model", "error"}
    analysis: dict[str, Any] | None = Field(default=None, sa_type=JSONType, nullable=True)
    # Copied out of ``analysis`` so the calls list can filter by it.
    analysis_success: bool | None = Field(default=None)
    analysis_attempts: int = Field(default=0, nullable=False, sa_column_kwargs={"server_default": "0"})
    analysis_lease_until: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class CallTurn(SQLModel, table=True):
    """One utterance of the conversation, in order (``position`` counts from 0 per session)."""

    __tablename__ = "call_turns"
    __table_args__ = (UniqueConstraint("call_session_id", "position", name="uq_call_turn_position"),)

    id: uuid.UUID = uuid_pk()
    call_session_id: uuid.UUID = Field(
        foreign_key="call_sessions.id", nullable=False, index=True, ondelete="CASCADE"
    )
    position: int = Field(nullable=False)
    role: str = Field(max_length=16, nullable=False)  # user | assistant | system
    text: str = Field(sa_type=Text, nullable=False)
    created_at: datetime = created_at_field()


class ToolInvocation(SQLModel, table=True):
    __tablename__ = "tool_invocations"

    id: uuid.UUID = uuid_pk()
    call_session_id: uuid.UUID = Field(
        foreign_key="call_sessions.id", nullable=False, index=True, ondelete="CASCADE"
    )
    agent_tool_id: uuid.UUID | None = Field(default=None, foreign_key="agent_tools.id", ondelete="SET NULL")
    tool_name: str = Field(max_length=100, nullable=False)
    function_name: str = Field(max_length=100, nullable=False)
    # Secret fields are redacted by the service before they get here.
    arguments: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    result: Any = Field(default=None, sa_type=JSONType, nullable=True)
    error: str | None = Field(default=None, sa_type=Text)
    duration_ms: float | None = Field(default=None)
    created_at: datetime = created_at_field()
