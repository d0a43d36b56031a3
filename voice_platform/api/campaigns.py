"""/api/v1/organizations/{org_id}/campaigns: an agent calling a list of contacts.

Thin: every rule is in ``services/campaigns.py`` and ``services/campaign_rules.py`` (the dashboard
uses the same). The schema declares what those enforce (``declared``). Contacts that are not
valid are refused together, 422, each one named: ``detail`` in FastAPI's shape (``loc`` ends with
the contact's index) and ``rejected``: ``[{"index", "to", "reason"}]``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from voice_platform.api.deps import CurrentUser, SessionDep
from voice_platform.api.errors import ErrorJSONResponse
from voice_platform.api.schemas import E164, REQUIRED_TEXT, TEXT, declared
from voice_platform.models.base import aware
from voice_platform.models.outbound import CONTACT_STATES
from voice_platform.services import campaign_rules as rules, campaigns as service, outbound_calls
from voice_platform.services.placeholders import NAME_PATTERN

router = APIRouter(prefix="/organizations/{org_id}/campaigns", tags=["campaigns"])
_SCOPED = {401: {"description": "Not signed in"}, 403: {"description": "Not allowed"},
           404: {"description": "Not found"}}
_CHANGE = {**_SCOPED, 409: {"description": "Not possible in the campaign's status, or the agent is switched off"},
           422: {"description": "The agent has no phone number to call from"}}

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ContactState = Literal[CONTACT_STATES]  # type: ignore[valid-type]
Scalar = StrictStr | StrictBool | StrictInt | StrictFloat | None


def _whole(value: Any) -> Any:
    """JSON Schema's integer: 5 and 5.0, never "5" or true (the schema would call those invalid)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Whole = Annotated[StrictInt, BeforeValidator(_whole)]


def _variables(schema: dict[str, Any]) -> None:
    """What ``outbound_calls.validate_variables`` takes: a flat object of scalars, placeholder names."""
    schema.clear()
    schema.update(anyOf=[{
        "type": "object", "maxProperties": outbound_calls.MAX_VARIABLES,
        "propertyNames": {"pattern": NAME_PATTERN},
        "additionalProperties": {"anyOf": [
            {"type": "string", "maxLength": outbound_calls.MAX_VALUE_LENGTH, "pattern": TEXT},
            {"type": "number"}, {"type": "boolean"}, {"type": "null"}]},
    }, {"type": "null"}], description="{{placeholder}} values for this contact's call", examples=[{"name": "Ada"}])


class WindowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: list[Day] = Field(min_length=1, max_length=7)
    start: str = Field(max_length=5, **declared(pattern=rules.START_PATTERN, examples=["09:00"]))
    end: str = Field(max_length=5, **declared(pattern=rules.END_PATTERN, examples=["17:00"],
                                               description="24:00 for the end of the day; before start: past midnight; "
                                                           "must differ from start"))


class RetryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    attempts: Whole = Field(default=0, **declared(minimum=0, maximum=rules.MAX_RETRY_ATTEMPTS),
                                description="Calls again after no answer or busy (a voicemail is never retried)")
    delay_minutes: Whole = Field(default=60, **declared(minimum=rules.MIN_RETRY_DELAY,
                                                            maximum=rules.MAX_RETRY_DELAY))


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str = Field(max_length=64, **E164)
    variables: dict[str, Scalar] | None = Field(default=None, json_schema_extra=_variables)


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=10_000, **declared(maxLength=rules.MAX_NAME, pattern=REQUIRED_TEXT))
    agent_id: uuid.UUID
    contacts: list[ContactIn] = Field(min_length=1, max_length=rules.MAX_CONTACTS,
                                      description="Called in this order; no number twice")
    window: WindowIn | None = Field(default=None, description="Default: mon-fri 09:00-17:00, in the "
                                                              "organization's time zone")
    max_concurrent: Whole = Field(default=1, **declared(minimum=1), description=(
        "Calls at once; at most the plan's concurrent calls minus one (kept free for inbound calls)"))
    retry: RetryIn | None = None


class CampaignEditIn(BaseModel):
    """A draft's settings, each one left out unchanged; its contacts stay as uploaded."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(default=None, max_length=10_000, **declared(maxLength=rules.MAX_NAME, pattern=REQUIRED_TEXT))
    agent_id: uuid.UUID = None
    window: WindowIn | None = Field(default=None, description="null: mon-fri 09:00-17:00")
    max_concurrent: Whole = Field(default=None, **declared(minimum=1))
    retry: RetryIn | None = Field(default=None, description="null: no retries")


class WindowOut(BaseModel):
    days: list[str]
    start: str
    end: str


class RetryOut(BaseModel):
    attempts: int
    delay_minutes: int


class CountsOut(BaseModel):
    queued: int
    calling: int
    completed: int
    voicemail: int
    no_answer: int
    busy: int
    failed: int
    do_not_call: int
    cancelled: int


class CampaignOut(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    agent_id: uuid.UUID
    name: str
    status: str
    window: WindowOut
    timezone: str
    in_window: bool
    max_concurrent: int
    retry: RetryOut
    counts: CountsOut
    total: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ContactCallOut(BaseModel):
    id: uuid.UUID
    status: str
    end_reason: str | None
    answered_by: str | None
    started_at: datetime | None
    ended_at: datetime | None
    duration_seconds: float | None


class ContactOut(BaseModel):
    id: uuid.UUID
    position: int
    to: str
    variables: dict[str, Any]
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    last_call_id: uuid.UUID | None
    calls: list[ContactCallOut]


class CampaignDetailOut(CampaignOut):
    contacts: list[ContactOut]
    contacts_offset: int
    contacts_limit: int


def _out(shown: service.CampaignView) -> dict[str, Any]:
    c = shown.campaign
    return dict(id=c.id, organization_id=c.organization_id, agent_id=c.agent_id, name=c.name, status=c.status,
                window=c.window, timezone=shown.timezone, in_window=shown.in_window, max_concurrent=c.max_concurrent,
                retry={"attempts": c.retry_attempts, "delay_minutes": c.retry_delay_minutes}, counts=shown.counts,
                total=shown.total, created_at=aware(c.created_at), started_at=aware(c.started_at),
                finished_at=aware(c.finished_at))


def _contact(item: service.ContactView) -> ContactOut:
    c = item.contact
    return ContactOut(id=c.id, position=c.position, to=c.to_number, variables=c.variables or {}, state=c.state,
                      attempts=c.attempts, next_attempt_at=aware(c.next_attempt_at), last_error=c.last_error,
                      last_call_id=c.last_call_id,
                      calls=[ContactCallOut(id=k.id, status=k.status, end_reason=k.end_reason, answered_by=k.answered_by,
                                            started_at=aware(k.started_at), ended_at=aware(k.ended_at),
                                            duration_seconds=k.duration_seconds) for k in item.calls])


@router.post("", response_model=CampaignOut, status_code=status.HTTP_201_CREATED,
             responses={**_SCOPED, 409: {"description": "The agent is switched off"},
                        422: {"description": "Not valid; rejected contacts are listed with their index"}})
def create_campaign(org_id: uuid.UUID, body: CampaignIn, user: CurrentUser, session: SessionDep):
    try:
        campaign = service.create(session, user, org_id, body.model_dump())
    except rules.ContactsRejected as exc:
        return ErrorJSONResponse({
            "detail": [{"loc": ["body", "contacts", r["index"]], "msg": r["reason"], "type": "value_error"}
                       for r in exc.rejected],
            "rejected": exc.rejected,
        }, status_code=422)
    session.flush()
    return _out(service.view(session, user, org_id, campaign.id))


@router.get("", response_model=list[CampaignOut], responses=_SCOPED)
def list_campaigns(org_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> list[dict[str, Any]]:
    return [_out(v) for v in service.list_campaigns(session, user, org_id)]


@router.get("/{campaign_id}", response_model=CampaignDetailOut, responses=_SCOPED)
def get_campaign(
    org_id: uuid.UUID, campaign_id: uuid.UUID, user: CurrentUser, session: SessionDep,
    offset: Annotated[int, Query(ge=0, le=rules.MAX_CONTACTS, description="Contacts to skip")] = 0,
    limit: Annotated[int, Query(ge=1, le=rules.MAX_CONTACTS, description="Contacts to show")] = service.CONTACT_PAGE,
    state: Annotated[ContactState | None, Query(description="Only contacts in this state")] = None,
) -> CampaignDetailOut:
    found = service.detail(session, user, org_id, campaign_id, offset=offset, limit=limit, state=state)
    return CampaignDetailOut(**_out(found.view), contacts=[_contact(c) for c in found.contacts],
                             contacts_offset=found.offset, contacts_limit=found.limit)


@router.put("/{campaign_id}", response_model=CampaignOut,
            responses={**_SCOPED, 409: {"description": "Not a draft any more, or the agent is switched off"},
                       422: {"description": "Not valid, or the agent has no phone number"}})
def edit_campaign(org_id: uuid.UUID, campaign_id: uuid.UUID, body: CampaignEditIn, user: CurrentUser,
                  session: SessionDep) -> dict[str, Any]:
    """Edit a draft's settings (only the fields sent); a started campaign is not editable."""
    return _out(service.edit(session, user, org_id, campaign_id, body.model_dump(exclude_unset=True)))


def _action(action: str):
    def change(org_id: uuid.UUID, campaign_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
        return _out(service.change(session, user, org_id, campaign_id, action))

    change.__name__ = f"{action}_campaign"
    change.__doc__ = {"start": "Start dialing a draft campaign (inside its window).",
                      "pause": "Stop dialing; calls in flight finish.",
                      "resume": "Dial again after a pause.",
                      "cancel": "Cancel: queued contacts are cancelled; calls in flight finish."}[action]
    return change


for _name in service.ACTIONS:
    router.add_api_route(f"/{{campaign_id}}/{_name}", _action(_name), methods=["POST"], response_model=CampaignOut,
                         responses=_CHANGE)
