"""Users, organizations and the RBAC catalogue (roles, permissions, memberships).

A membership gives a user exactly one role in one organization. The
platform-wide ``platform_admin`` role is carried on the user (``is_platform_admin``)
because it is not tied to any organization.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, UniqueConstraint
from sqlmodel import Field, SQLModel

from voice_platform.models.base import Timestamped, uuid_pk


class Organization(Timestamped, table=True):
    __tablename__ = "organizations"

    id: uuid.UUID = uuid_pk()
    name: str = Field(max_length=200, nullable=False)
    business_details: str | None = Field(default=None, max_length=5000)
    # IANA name; agents book in it and are told "today" in it.
    timezone: str = Field(default="UTC", max_length=64, nullable=False)


class User(Timestamped, table=True):
    __tablename__ = "users"

    id: uuid.UUID = uuid_pk()
    # Stored lower-cased by the service, so the unique index is case-insensitive.
    email: str = Field(max_length=320, nullable=False, unique=True, index=True)
    full_name: str | None = Field(default=None, max_length=200)
    password_hash: str = Field(max_length=255, nullable=False)
    is_active: bool = Field(default=True, nullable=False)
    is_platform_admin: bool = Field(default=False, nullable=False)
    # Bumped on sign-out so every token issued before stops working.
    token_version: int = Field(default=0, nullable=False)
    # Google's stable account id ("sub"), set when the user links Google while signed in (or
    # signs up with it); only a linked account can be entered through Google.
    google_subject: str | None = Field(default=None, max_length=255, unique=True)
    # The linked Google account's e-mail when it was linked (shown as "Linked as ..."); never used to sign in.
    google_email: str | None = Field(default=None, max_length=320)


class Role(SQLModel, table=True):
    __tablename__ = "roles"

    id: uuid.UUID = uuid_pk()
    name: str = Field(max_length=50, unique=True, nullable=False)
    rank: int = Field(nullable=False, description="higher outranks lower")
    description: str | None = Field(default=None, max_length=500)


class Permission(SQLModel, table=True):
    __tablename__ = "permissions"

    id: uuid.UUID = uuid_pk()
    name: str = Field(max_length=100, unique=True, nullable=False)
    description: str | None = Field(default=None, max_length=500)


class RolePermission(SQLModel, table=True):
    __tablename__ = "role_permissions"

    role_id: uuid.UUID = Field(foreign_key="roles.id", primary_key=True, ondelete="CASCADE")
    permission_id: uuid.UUID = Field(foreign_key="permissions.id", primary_key=True, ondelete="CASCADE")


class Membership(Timestamped, table=True):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "organization_id", name="uq_membership_user_org"),)

    id: uuid.UUID = uuid_pk()
    user_id: uuid.UUID = Field(foreign_key="users.id", nullable=False, index=True, ondelete="CASCADE")
    organization_id: uuid.UUID = Field(
        foreign_key="organizations.id", nullable=False, index=True, ondelete="CASCADE"
    )
    role_id: uuid.UUID = Field(foreign_key="roles.id", nullable=False, ondelete="RESTRICT")


class SigninThrottle(SQLModel, table=True):
    """Sign-in attempts per e-mail in the current window, shared by every backend process.

    The block's end is derived (``window_started_at`` + the lockout), so it is not stored.
    """

    __tablename__ = "signin_throttles"

    email: str = Field(primary_key=True, max_length=320)
    attempts: int = Field(default=0, nullable=False)
    window_started_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
