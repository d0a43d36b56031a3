"""Invitations to join an organization: a link that works once and expires.

Only a hash of the link's token is stored: a leaked database does not hand out
memberships. Accepting is one conditional update (unused, unrevoked, unexpired), so
two clicks on the same link cannot both succeed.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime
from sqlmodel import Field

from voice_platform.models.base import Timestamped, uuid_pk


class Invitation(Timestamped, table=True):
    __tablename__ = "invitations"

    id: uuid.UUID = uuid_pk()
    organization_id: uuid.UUID = Field(foreign_key="organizations.id", nullable=False, index=True, ondelete="CASCADE")
    email: str = Field(max_length=320, nullable=False, index=True)
    role: str = Field(max_length=50, nullable=False)
    token_hash: str = Field(max_length=64, nullable=False, unique=True)
    invited_by_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    expires_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    accepted_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    accepted_by_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
