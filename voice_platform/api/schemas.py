"""Request and response bodies of the REST API.

The business rules (E.164, lengths, allowed voices) are checked in the services, so the
dashboard gets exactly the same checks and messages. The OpenAPI schema still says what they
enforce, so generated clients and fuzzers build requests the API takes: ``declared`` puts a
service's rule into the schema (from the service's own constants) without checking it twice.
"""

from __future__ import annotations

import copy
import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool

from voice_platform.services import agents, auth, rbac, validation
from voice_platform.services.analysis_plan import PLAN_JSON_SCHEMA

T = TypeVar("T")


def declared(**schema: Any) -> dict[str, Any]:
    """``Field`` arguments that write into the OpenAPI schema what the service checks (the
    service keeps the check and its message). ``maxLength`` here is the service's own limit,
    tighter than the generous bound pydantic checks first."""
    return {"json_schema_extra": schema}


def _e164(schema: dict[str, Any]) -> None:
    schema["pattern"] = validation.e164_pattern()  # built on first use: the OpenAPI document's


def _e164_or_empty(schema: dict[str, Any]) -> None:
    schema["pattern"] = "^$|" + validation.e164_pattern()


E164 = {"json_schema_extra": _e164, "examples": ["+14155550100"]}
E164_OR_EMPTY = {"json_schema_extra": _e164_or_empty, "examples": ["+14155550100"],
                 "description": "E.164; empty or null: none"}
REQUIRED_TEXT = validation.NON_BLANK_PATTERN
TEXT = validation.NO_NUL_PATTERN
ROLES = list(rbac.ASSIGNABLE_ROLES)
EMAIL = declared(format="email", **{"not": {"pattern": validation.SPECIAL_USE_EMAIL_PATTERN}})

_NUMBER = re.compile(r"\s*[+-]?\d+(\.\d*)?\s*")


def _written_out(value: Any) -> Any:
    """pydantic also reads a number as a Unix time; the schema says a date (or time) is written out."""
    if isinstance(value, (int, float)) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("Write the date as YYYY-MM-DD (a time as YYYY-MM-DDTHH:MM:SSZ), not a number")
    return value


IsoDate = Annotated[date, BeforeValidator(_written_out)]
IsoDateTime = Annotated[datetime, BeforeValidator(_written_out)]


class SignupIn(BaseModel):
    email: str = Field(max_length=320, **EMAIL)
    password: str = Field(max_length=1024, **declared(minLength=auth.MIN_PASSWORD, maxLength=auth.MAX_PASSWORD))
    full_name: str | None = Field(default=None, max_length=1024, **declared(maxLength=auth.MAX_NAME, pattern=TEXT))
    organization_name: str | None = Field(default=None, max_length=1024, **declared(pattern=TEXT))


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
    full_name: str | None = Field(default=None, max_length=1000, **declared(maxLength=auth.MAX_NAME, pattern=TEXT))


class PasswordChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str | None = Field(
        default=None, max_length=1024,
        description="Required once the account has a password; left out (or empty) to set the first password "
                    "of an account made by Sign in with Google",
    )
    new_password: str = Field(max_length=1024, **declared(minLength=auth.MIN_PASSWORD, maxLength=auth.MAX_PASSWORD))


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    user: UserOut


class SignupOut(TokenOut):
    organization_id: uuid.UUID


_ORG_NAME = declared(maxLength=auth.MAX_ORG_NAME, pattern=REQUIRED_TEXT)
_BUSINESS_DETAILS = declared(maxLength=auth.MAX_BUSINESS_DETAILS, pattern=TEXT)


class OrgIn(BaseModel):
    name: str = Field(max_length=1024, **_ORG_NAME)
    business_details: str | None = Field(default=None, max_length=100_000, **_BUSINESS_DETAILS)


def _time_zones(schema: dict[str, Any]) -> None:
    schema["enum"] = sorted(validation.time_zones())


class OrgUpdate(BaseModel):
    """Only the fields sent change; the name and the time zone cannot be cleared."""

    name: str = Field(default=None, max_length=1024, **_ORG_NAME)  # type: ignore[assignment]
    business_details: str | None = Field(default=None, max_length=100_000, **_BUSINESS_DETAILS)
    timezone: str = Field(default=None, max_length=200, description="IANA name, e.g. Europe/Berlin",  # type: ignore[assignment]
                          json_schema_extra=_time_zones)


class OrgOut(BaseModel):
    id: uuid.UUID
    name: str
    business_details: str | None
    timezone: str
    role: str
    created_at: datetime
    updated_at: datetime


class MemberIn(BaseModel):
    email: str = Field(max_length=1024, **EMAIL)
    role: str = Field(default="member", max_length=50, **declared(enum=ROLES))


class MemberRoleIn(BaseModel):
    role: str = Field(max_length=50, **declared(enum=ROLES))


class MemberOut(BaseModel):
    user_id: uuid.UUID
    email: str
    full_name: str | None
    role: str


_AGENT_NAME = declared(maxLength=agents.MAX_NAME, pattern=REQUIRED_TEXT)
_PROMPT = declared(maxLength=agents.MAX_PROMPT, pattern=TEXT)
_GREETING = declared(maxLength=agents.MAX_GREETING, pattern=TEXT)
_VOICE = declared(enum=list(agents.VOICES))
_MODEL = declared(enum=list(agents.MODELS))
_LANGUAGE = declared(pattern=agents.LANGUAGE_PATTERN, examples=["en-US", "fr"])
_NOTICE = declared(maxLength=agents.MAX_NOTICE, pattern=TEXT)


def _analysis_plan(schema: dict[str, Any]) -> None:
    """The plan's own JSON Schema (``services.analysis_plan``), which the service enforces."""
    schema.clear()
    schema["anyOf"] = [copy.deepcopy(PLAN_JSON_SCHEMA), {"type": "null"}]
    schema["description"] = PLAN_JSON_SCHEMA["description"]


_PLAN = {"json_schema_extra": _analysis_plan}
VoicemailAction = Literal["hangup", "leave_message", "continue"]
TransferMode = Literal["cold", "warm"]
_VOICEMAIL_MESSAGE = declared(maxLength=agents.MAX_VOICEMAIL_MESSAGE, pattern=TEXT)
_HOLD_MUSIC = declared(maxLength=agents.MAX_HOLD_MUSIC_URL, pattern=agents.HOLD_MUSIC_PATTERN,
                       description="An MP3 or WAV file a caller on hold hears during a warm transfer; "
                                   "null: Twilio's hold music", examples=["https://example.com/hold.mp3"])


class AgentIn(BaseModel):
    organization_id: uuid.UUID
    name: str = Field(max_length=100_000, **_AGENT_NAME)
    phone_number: str | None = Field(default=None, max_length=100, **E164_OR_EMPTY)
    system_prompt: str = Field(default="", max_length=1_000_000, **_PROMPT)
    greeting: str = Field(default="", max_length=1_000_000, **_GREETING)
    voice: str | None = Field(default=None, max_length=100, **_VOICE)
    model: str | None = Field(default=None, max_length=200, **_MODEL)
    language: str | None = Field(default=None, max_length=100, **_LANGUAGE)
    is_active: StrictBool | None = None
    transfer_number: str | None = Field(default=None, max_length=100, **E164_OR_EMPTY)
    record_calls: StrictBool | None = None
    recording_notice: str | None = Field(default=None, max_length=100_000, **_NOTICE)
    analysis_plan: dict[str, Any] | None = Field(default=None, **_PLAN)
    voicemail_action: VoicemailAction | None = Field(
        default=None, description="An outbound call answered by a machine: hang up, leave voicemail_message, "
                                  "or let the agent talk")
    voicemail_message: str | None = Field(default=None, max_length=100_000, **_VOICEMAIL_MESSAGE)
    transfer_mode: TransferMode | None = Field(
        default=None, description="transfer_call: cold puts the caller through; warm briefs the person first")
    hold_music_url: str | None = Field(default=None, max_length=100_000, **_HOLD_MUSIC)


class AgentUpdate(BaseModel):
    """Only the fields sent change; ``null`` clears a field that may be empty (not the name)."""

    name: str = Field(default=None, max_length=100_000, **_AGENT_NAME)  # type: ignore[assignment]
    phone_number: str | None = Field(default=None, max_length=100, **E164_OR_EMPTY)
    system_prompt: str | None = Field(default=None, max_length=1_000_000, **_PROMPT)
    greeting: str | None = Field(default=None, max_length=1_000_000, **_GREETING)
    voice: str | None = Field(default=None, max_length=100, **_VOICE)
    model: str | None = Field(default=None, max_length=200, **_MODEL)
    language: str | None = Field(default=None, max_length=100, **_LANGUAGE)
    is_active: StrictBool | None = None
    transfer_number: str | None = Field(default=None, max_length=100, **E164_OR_EMPTY)
    record_calls: StrictBool | None = None
    recording_notice: str | None = Field(default=None, max_length=100_000, **_NOTICE)
    analysis_plan: dict[str, Any] | None = Field(default=None, **_PLAN)
    voicemail_action: VoicemailAction | None = None
    voicemail_message: str | None = Field(default=None, max_length=100_000, **_VOICEMAIL_MESSAGE)
    transfer_mode: TransferMode | None = None
    hold_music_url: str | None = Field(default=None, max_length=100_000, **_HOLD_MUSIC)


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
    analysis_plan: dict[str, Any] | None = Field(default=None, **_PLAN)
    voicemail_action: str = "hangup"
    voicemail_message: str | None = None
    transfer_mode: str = "cold"
    hold_music_url: str | None = None
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
