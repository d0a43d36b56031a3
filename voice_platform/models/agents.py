"""Voice agents: what answers a phone number."""

from __future__ import annotations

import uuid

from typing import Any

from sqlmodel import Field

from voice_platform.models.base import JSONType, Timestamped, uuid_pk


class VoiceAgent(Timestamped, table=True):
    __tablename__ = "voice_agents"

    id: uuid.UUID = uuid_pk()
    organization_id: uuid.UUID = Field(
        foreign_key="organizations.id", nullable=False, index=True, ondelete="CASCADE"
    )
    name: str = Field(max_length=120, nullable=False)
    # E.164, unique across the platform: an incoming call is routed by it.
    # The number must be in the organization's phone_numbers inventory (see models/numbers.py).
    phone_number: str | None = Field(
        default=None, max_length=16, unique=True, index=True, foreign_key="phone_numbers.e164", ondelete="SET NULL"
    )
    system_prompt: str = Field(default="", max_length=20000, nullable=False)
    greeting: str = Field(default="", max_length=1000, nullable=False)
    voice: str = Field(default="Puck", max_length=50, nullable=False)
    model: str = Field(default="gemini-2.5-flash-native-audio-preview-09-2025", max_length=100, nullable=False)
    language: str = Field(default="en-US", max_length=20, nullable=False)
    is_active: bool = Field(default=True, nullable=False)
    # Where transfer_call sends the caller (E.164); the function is offered only when set.
    transfer_number: str | None = Field(default=None, max_length=16)
    # Off by default: recording a call needs the caller told, in most places by law.
    record_calls: bool = Field(default=False, nullable=False)
    recording_notice: str | None = Field(default=None, max_length=500)
    # What the post-call analysis extracts: {"summary_prompt", "success_rubric", "fields": [...]};
    # NULL: the default plan (a summary and the caller's sentiment).
    analysis_plan: dict[str, Any] | None = Field(default=None, sa_type=JSONType, nullable=True)
    # An outbound call answered by a machine: hangup | leave_message | continue (talk to it).
    voicemail_action: str = Field(default="hangup", max_length=20, nullable=False,
                                  sa_column_kwargs={"server_default": "hangup"})
    voicemail_message: str | None = Field(default=None, max_length=1000)
    # transfer_call: cold (the caller is put through) | warm (the person hears a briefing first).
    transfer_mode: str = Field(default="cold", max_length=10, nullable=False, sa_column_kwargs={"server_default": "cold"})
    # What a caller on hold during a warm transfer hears (an MP3 or WAV file Twilio fetches); null: Twilio's music.
    hold_music_url: str | None = Field(default=None, max_length=500)
