"""Account plumbing: API keys, the audit log, password resets and Google sign-in states.

Secrets are stored as SHA-256 hashes only (API keys, reset tokens): a leaked database
hands out nothing. The audit log is append-only by convention of the code: no service
updates or deletes its rows.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, Text
from sqlmodel import Field, SQLModel

from voice_platform.models.base import JSONType, created_at_field, uuid_pk


class ApiKey(SQLModel, table=True):
    """A key for the REST API, scoped to one organization and one role (org_admin or member)."""

    __tablename__ = "api_keys"

    id: uuid.UUID = uuid_pk()
    organization_id: uuid.UUID = Field(foreign_key="organizations.id", nullable=False, index=True, ondelete="CASCADE")
    name: str = Field(max_length=100, nullable=False)
    # The first characters of the key ("vp_" + 8), shown in lists so a key can be recognised.
    prefix: str = Field(max_length=16, nullable=False, index=True)
    key_hash: str = Field(max_length=64, nullable=False, unique=True)
    role: str = Field(max_length=50, nullable=False)
    created_by_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = created_at_field()
    last_used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class AuditEvent(SQLModel, table=True):
    """One change an admin made, written by the service that made it, in the same transaction."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_org_created", "organization_id", "created_at"),)

    id: uuid.UUID = uuid_pk()
    organization_id: uuid.UUID = Field(foreign_key="organizations.id", nullable=False, ondelete="CASCADE")
    actor_user_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    actor_api_key_id: uuid.UUID | None = Field(default=None, foreign_key="api_keys.id", ondelete="SET NULL")
    # Who, as shown (an e-mail or "API key <name>"): kept when the user or key is gone.
    actor_label: str = Field(max_length=320, nullable=False)
    action: str = Field(max_length=60, nullable=False, index=True)  # e.g. agent.updated
    target_type: str = Field(max_length=40, nullable=False)
    target_id: str | None = Field(default=None, max_length=64)
    summary: str = Field(max_length=500, nullable=False)
    # {"before": {...}, "after": {...}} for configuration; a secret appears only as "changed".
    changes: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    created_at: datetime = created_at_field()


class PasswordReset(SQLModel, table=True):
    """A password-reset link: works once, expires; only the token's hash is stored."""

    __tablename__ = "password_resets"

    id: uuid.UUID = uuid_pk()
    user_id: uuid.UUID = Field(foreign_key="users.id", nullable=False, index=True, ondelete="CASCADE")
    token_hash: str = Field(max_length=64, nullable=False, unique=True)
    created_at: datetime = created_at_field()
    expires_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # The e-mail carrying the link: sent when ``mailed_at`` is set; until then ``mail_lease_until``
    # is how long the process that took the send may take before another one sends it instead
    # (a process that stopped mid-send must not lose the mail).
    mailed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    mail_lease_until: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class SigninState(SQLModel, table=True):
    """One pending "Sign in with Google" (or "link Google" from the account page): single use, PKCE."""

    __tablename__ = "signin_states"

    nonce: str = Field(primary_key=True, max_length=64)
    purpose: str = Field(max_length=10, nullable=False)  # signin | link
    user_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="CASCADE")  # link only
    code_verifier_encrypted: str | None = Field(default=None, sa_type=Text)
    next_path: str | None = Field(default=None, max_length=500)
    expires_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    consumed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
