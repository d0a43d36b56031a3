"""Phone numbers an organization owns: the inventory agents are assigned from.

Which number reaches which agent has one source of truth: ``voice_agents.phone_number``,
a foreign key to ``phone_numbers.e164`` (released number -> the agent loses it).
"""

from __future__ import annotations

import uuid

from sqlmodel import Field

from voice_platform.models.base import Timestamped, uuid_pk

TWILIO = "twilio"  # bought or imported through the Twilio REST API; its webhooks point at us
MANUAL = "manual"  # typed in; the admin configures the provider's webhooks by hand


class PhoneNumber(Timestamped, table=True):
    __tablename__ = "phone_numbers"

    id: uuid.UUID = uuid_pk()
    organization_id: uuid.UUID = Field(
        foreign_key="organizations.id", nullable=False, index=True, ondelete="CASCADE"
    )
    e164: str = Field(max_length=16, nullable=False, unique=True)
    source: str = Field(default=MANUAL, max_length=10, nullable=False)
    # Twilio's IncomingPhoneNumber SID (PN...), for updates and release.
    provider_sid: str | None = Field(default=None, max_length=64, unique=True)
    friendly_name: str | None = Field(default=None, max_length=64)
