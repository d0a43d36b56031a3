"""/api/v1/organizations/{org_id}/webhooks: where an organization's call events are sent, signed.

Thin: every rule (org admins only, tenant scope, validation, the SSRF guard, the secret) is in
``services/webhooks.py``. The secret is answered twice only: on create and on rotate.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from voice_platform.api.deps import CurrentUser, SessionDep
from voice_platform.api.schemas import TEXT, declared
from voice_platform.services import webhooks as service

router = APIRouter(prefix="/organizations/{org_id}/webhooks", tags=["webhooks"])
_SCOPED = {401: {"description": "Not signed in"}, 403: {"description": "Not an admin of the organization"},
           404: {"description": "Not found"}}
_WRITE = {**_SCOPED, 422: {"description": "Invalid input, or a URL the SSRF guard refuses"}}
_QUEUE = {**_SCOPED, 409: {"description": "The webhook is switched off"}}

EventType = Literal["call.started", "call.ended", "call.analyzed"]
_URL = declared(maxLength=service.MAX_URL, pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#@]+([/?#][^\x00]*)?$")
_DESCRIPTION = declared(maxLength=service.MAX_DESCRIPTION, pattern=TEXT)
_EVENTS = "What to send: call.started (the agent answered), call.ended, call.analyzed"
_AGENT = "Only this agent's calls; null: every agent of the organization"


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=100_000, description="http(s) URL that receives a POST per event", **_URL)
    events: list[EventType] = Field(min_length=1, description=_EVENTS)
    agent_id: uuid.UUID | None = Field(default=None, description=_AGENT)
    description: str = Field(default="", max_length=100_000, **_DESCRIPTION)


class WebhookUpdate(BaseModel):
    """Only the fields sent change; ``"agent_id": null`` means every agent."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, max_length=100_000, **_URL)
    events: list[EventType] | None = Field(default=None, min_length=1, description=_EVENTS)
    agent_id: uuid.UUID | None = Field(default=None, description=_AGENT)
    description: str | None = Field(default=None, max_length=100_000, **_DESCRIPTION)
    enabled: bool | None = Field(default=None, description="Switching it on again sends what waited")


class WebhookOut(BaseModel):
    id: uuid.UUID
    url: str
    events: list[str]
    agent_id: uuid.UUID | None
    description: str
    enabled: bool
    disabled_reason: str | None = Field(description="Why it was switched off automatically (null otherwise)")
    failing_since: datetime | None = Field(description="Start of the current run of failed deliveries")
    created_at: datetime
    updated_at: datetime


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(description="whsec_...: verifies our signatures. Shown this once; store it now")


class SecretOut(BaseModel):
    secret: str = Field(description="The new whsec_... secret, shown this once; it signs from now on")


class TestOut(BaseModel):
    event_id: str = Field(description="evt_...: the webhook-id the ping carries")
    delivery_id: uuid.UUID


class DeliveryOut(BaseModel):
    id: uuid.UUID
    event_id: str = Field(description="evt_...: the webhook-id header, the same on every retry")
    event_type: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    response_status: int | None
    duration_ms: float | None
    last_error: str | None
    next_attempt_at: datetime | None = Field(description="When a pending delivery is tried next")
    created_at: datetime


def _out(view: service.EndpointView) -> WebhookOut:
    return WebhookOut.model_validate(view, from_attributes=True)


@router.post("", response_model=WebhookCreatedOut, status_code=status.HTTP_201_CREATED, responses=_WRITE)
def create_webhook(org_id: uuid.UUID, body: WebhookIn, user: CurrentUser, session: SessionDep) -> WebhookCreatedOut:
    created = service.create_endpoint(session, user, org_id, body.model_dump())
    return WebhookCreatedOut(**_out(created.endpoint).model_dump(), secret=created.secret)


@router.get("", response_model=list[WebhookOut], responses=_SCOPED)
def list_webhooks(org_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> list[WebhookOut]:
    return [_out(v) for v in service.list_endpoints(session, user, org_id)]


@router.get("/{webhook_id}", response_model=WebhookOut, responses=_SCOPED)
def get_webhook(org_id: uuid.UUID, webhook_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> WebhookOut:
    return _out(service.get_endpoint(session, user, org_id, webhook_id))


@router.put("/{webhook_id}", response_model=WebhookOut, responses=_WRITE)
def update_webhook(org_id: uuid.UUID, webhook_id: uuid.UUID, body: WebhookUpdate, user: CurrentUser,
                   session: SessionDep) -> WebhookOut:
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None or k == "agent_id"}
    return _out(service.update_endpoint(session, user, org_id, webhook_id, changes))


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_SCOPED)
def delete_webhook(org_id: uuid.UUID, webhook_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> None:
    service.delete_endpoint(session, user, org_id, webhook_id)


@router.post("/{webhook_id}/rotate-secret", response_model=SecretOut, responses=_SCOPED)
def rotate_secret(org_id: uuid.UUID, webhook_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> SecretOut:
    return SecretOut(secret=service.rotate_secret(session, user, org_id, webhook_id))


@router.post("/{webhook_id}/test", response_model=TestOut, status_code=status.HTTP_202_ACCEPTED, responses=_QUEUE)
def test_webhook(org_id: uuid.UUID, webhook_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> TestOut:
    """Queue a ``ping`` event to this endpoint; follow it in its deliveries."""
    event_id, delivery_id = service.send_test(session, user, org_id, webhook_id)
    return TestOut(event_id=event_id, delivery_id=delivery_id)


@router.get("/{webhook_id}/deliveries", response_model=list[DeliveryOut], responses=_SCOPED)
def list_deliveries(org_id: uuid.UUID, webhook_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> list[DeliveryOut]:
    """The latest 100, newest first."""
    return [DeliveryOut.model_validate(d, from_attributes=True)
            for d in service.list_deliveries(session, user, org_id, webhook_id)]


@router.post("/{webhook_id}/deliveries/{delivery_id}/redeliver", response_model=DeliveryOut,
             status_code=status.HTTP_202_ACCEPTED, responses=_QUEUE)
def redeliver(org_id: uuid.UUID, webhook_id: uuid.UUID, delivery_id: uuid.UUID, user: CurrentUser,
              session: SessionDep) -> DeliveryOut:
    """Send the same event again, with the same webhook-id (a pending delivery is tried now)."""
    return DeliveryOut.model_validate(service.redeliver(session, user, org_id, webhook_id, delivery_id),
                                      from_attributes=True)
