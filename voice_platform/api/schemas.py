"""Request and response bodies of the REST API.

Shapes and types only: the business rules (E.164, lengths, allowed voices) live
in the services, so the dashboard gets exactly the same checks.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class SignupIn(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)
    full_name: str | None = Field(default=None, max_length=1024)
    organization_name: str | None = Field(default=None, max_length=1024)


class SigninIn(BaseModel):
    email: str = Field(max_length=1024)
    password: str = Field(max_length=1024)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    email: str
    full_name: str | None
    is_platform_admin: bool
    created_at: datetime


class ProfileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    full_name: str | None = Field(default=None, max_length=1000)


class PasswordChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str | None = Field(
        default=None, max_length=1024,
        description="Required once the account has a password; left out (or empty) to set the first password "
                    "of an account made by Sign in with Google",
    )
    new_password: str = Field(max_length=1024)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    user: UserOut


class SignupOut(TokenOut):
    organization_id: uuid.UUID


class OrgIn(BaseModel):
    name: str = Field(max_length=1024)
    business_details: str | None = Field(default=None, max_length=100_000)


class OrgUpdate(BaseModel):
    name: str | None = Field(default=None, max_length=1024)
    business_details: str | None = Field(default=None, max_length=100_000)
    timezone: str | None = Field(default=None, max_length=200, description="IANA name, e.g. Europe/Berlin")


class OrgOut(BaseModel):
    id: uuid.UUID
    name: str
    business_details: str | None
    timezone: str
    role: str
    created_at: datetime
    updated_at: datetime


class MemberIn(BaseModel):
    email: str = Field(max_length=1024)
    role: str = Field(default="member", max_length=50)


class MemberRoleIn(BaseModel):
    role: str = Field(max_length=50)


class MemberOut(BaseModel):
    user_id: uuid.UUID
    email: str
    full_name: str | None
    role: str


class AgentIn(BaseModel):
    organization_id: uuid.UUID
    name: str = Field(max_length=100_000)
    phone_number: str | None = Field(default=None, max_length=100)
    system_prompt: str = Field(default="", max_length=1_000_000)
    greeting: str = Field(default="", max_length=1_000_000)
    voice: str | None = Field(default=None, max_length=100)
    model: str | None = Field(default=None, max_length=200)
    language: str | None = Field(default=None, max_length=100)
    is_active: bool | None = None
    transfer_number: str | None = Field(default=None, max_length=100, description="E.164; enables transfer_call")
    record_calls: bool | None = None
    recording_notice: str | None = Field(default=None, max_length=100_000)


class AgentUpdate(BaseModel):
    name: str | None = Field(default=None, max_length=100_000)
    phone_number: str | None = Field(default=None, max_length=100)
    system_prompt: str | None = Field(default=None, max_length=1_000_000)
    greeting: str | None = Field(default=None, max_length=1_000_000)
    voice: str | None = Field(default=None, max_length=100)
    model: str | None = Field(default=None, max_length=200)
    language: str | None = Field(default=None, max_length=100)
    is_active: bool | None = None
    transfer_number: str | None = Field(default=None, max_length=100, description="E.164; enables transfer_call")
    record_calls: bool | None = None
    recording_notice: str | None = Field(default=None, max_length=100_000)


class AgentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    phone_number: str | None
    system_prompt: str
    greeting: str
    voice: str
    model: str
    language: str
    is_active: bool
    transfer_number: str | None
    record_calls: bool
    recording_notice: str | None
    created_at: datetime
    updated_at: datetime


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int


class HealthOut(BaseModel):
    status: str
    database: str
