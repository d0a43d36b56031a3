"""An organization's webhook endpoints: the one place their rules live (API and dashboard alike).

Org admins manage them (``org:manage``); members get PermissionDenied and another tenant's ids
NotFound. The signing secret is made here and handed back twice only (create, rotate): it is
stored Fernet-encrypted, never returned again, never in the audit log. A URL must pass the SSRF
guard when it is saved (and the sender's requests pass it again). Sending is
``webhook_outbox`` / ``webhook_sender``; this module only queues (test ping, redelivery).
Services never commit; the caller's scope does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func
from sqlmodel import Session, select

from voice_platform.errors import Conflict, NotFound, ValidationFailed
from voice_platform.models import VoiceAgent, WebhookDelivery, WebhookEndpoint, WebhookEvent
from voice_platform.models.base import aware, utcnow
from voice_platform.models.webhooks import PENDING
from voice_platform.security import encrypt_text
from voice_platform.services import audit, outbound, validation, wakeups, webhook_outbox
from voice_platform.services.rbac import require
from voice_platform.services.webhook_sender import new_secret

PERMISSION = "org:manage"
NOT_FOUND = "Webhook not found"
DELIVERY_NOT_FOUND = "Delivery not found"
SWITCHED_OFF = "This webhook is switched off; switch it on first"
EVENT_TYPES = webhook_outbox.EVENT_TYPES
MAX_URL, MAX_DESCRIPTION = 2000, 500
MAX_ENDPOINTS = 20  # per organization: every event is fanned out to each
DELIVERIES_SHOWN = 100
FIELDS = ("url", "events", "agent_id", "description")


@dataclass(frozen=True)
class EndpointView:
    id: uuid.UUID
    url: str
    events: list[str]
    agent_id: uuid.UUID | None
    description: str
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Created:
    endpoint: EndpointView
    secret: str  # shown this once


@dataclass(frozen=True)
class DeliveryView:
    id: uuid.UUID
    event_id: str  # "evt_...": the webhook-id the receiver got
    event_type: str
    status: str
    attempts: int
    response_status: int | None
    duration_ms: float | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime


def view_of(endpoint: WebhookEndpoint) -> EndpointView:
    return EndpointView(
        id=endpoint.id, url=endpoint.url, events=list(endpoint.events or []), agent_id=endpoint.agent_id,
        description=endpoint.description, enabled=endpoint.enabled, disabled_reason=endpoint.disabled_reason,
        failing_since=aware(endpoint.failing_since), created_at=aware(endpoint.created_at),
        updated_at=aware(endpoint.updated_at),
    )


def _delivery_view(delivery: WebhookDelivery, event: WebhookEvent) -> DeliveryView:
    return DeliveryView(
        id=delivery.id, event_id=webhook_outbox.public_id(event.id), event_type=event.type, status=delivery.status,
        attempts=delivery.attempts, response_status=delivery.response_status, duration_ms=delivery.duration_ms,
        last_error=delivery.last_error, next_attempt_at=aware(delivery.next_attempt_at) if delivery.status == PENDING else None,
        created_at=aware(delivery.created_at),
    )


# -- validation -------------------------------------------------------------------------------
def _url(value: object) -> str:
    """An http(s) URL without credentials (they would be a secret stored in clear). Only its form:
    ``outbound.check_url`` judges where it leads, last, after every cheaper check."""
    url = validation.text(value, "url", max_length=MAX_URL, required=True)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError as exc:
        raise ValidationFailed(f"The URL is not valid: {exc}", field="url") from exc
    if parts.scheme.lower() not in outbound.SCHEMES or not parts.hostname:
        raise ValidationFailed("The URL must start with http:// or https:// and name a host", field="url")
    if "@" in parts.netloc:
        raise ValidationFailed("The URL may not contain a user name or password; verify our signature instead",
                               field="url")
    return url


def _events(value: object) -> list[str]:
    if not isinstance(value, list) or not value:
        raise ValidationFailed(f"events must list at least one of: {', '.join(EVENT_TYPES)}", field="events")
    for event in value:
        if event not in EVENT_TYPES:
            hint = " (ping is sent only by the Test button)" if event == webhook_outbox.PING else ""
            raise ValidationFailed(f"{event!r} is not an event; choose from {', '.join(EVENT_TYPES)}{hint}",
                                   field="events")
    return [event for event in EVENT_TYPES if event in value]  # one order, no duplicates


def _agent(session: Session, org_id: uuid.UUID, value: object) -> uuid.UUID | None:
    """None (every agent) or an agent of this organization; any other id is "not found"."""
    if value is None:
        return None
    try:
        agent_id = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError as exc:
        raise ValidationFailed("agent_id must be an agent's id or null", field="agent_id") from exc
    agent = session.get(VoiceAgent, agent_id)
    if agent is None or agent.organization_id != org_id:
        raise NotFound("Agent not found")
    return agent_id


def _description(value: object) -> str:
    return validation.text(value, "description", max_length=MAX_DESCRIPTION)


def _only_known(data: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationFailed(f"Unknown field: {unknown[0]}", field=unknown[0])


# -- reads ------------------------------------------------------------------------------------
def _find(session: Session, actor: Any, org_id: uuid.UUID, endpoint_id: uuid.UUID, *, lock: bool = False) -> WebhookEndpoint:
    require(session, actor, PERMISSION, org_id, not_found=NOT_FOUND)
    query = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.organization_id == org_id)
    endpoint = session.exec(query.with_for_update() if lock else query).first()
    if endpoint is None:
        raise NotFound(NOT_FOUND)
    return endpoint


def list_endpoints(session: Session, actor: Any, org_id: uuid.UUID) -> list[EndpointView]:
    require(session, actor, PERMISSION, org_id)
    rows = session.exec(select(WebhookEndpoint).where(WebhookEndpoint.organization_id == org_id)
                        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)).all()
    return [view_of(e) for e in rows]


def get_endpoint(session: Session, actor: Any, org_id: uuid.UUID, endpoint_id: uuid.UUID) -> EndpointView:
    return view_of(_find(session, actor, org_id, endpoint_id))


def list_deliveries(session: Session, actor: Any, org_id: uuid.UUID, endpoint_id: uuid.UUID,
                    limit: int = DELIVERIES_SHOWN) -> list[DeliveryView]:
    """The endpoint's latest deliveries, newest first."""
    endpoint = _find(session, actor, org_id, endpoint_id)
    rows = session.exec(
        select(WebhookDelivery, WebhookEvent).join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()).limit(max(1, min(limit, DELIVERIES_SHOWN)))
    ).all()
    return [_delivery_view(d, e) for d, e in rows]


# -- writes -----------------------------------------------------------------------------------
def _audit_state(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """What the audit log compares: never the secret."""
    return {"url": endpoint.url, "events": list(endpoint.events or []),
            "agent_id": str(endpoint.agent_id) if endpoint.agent_id else None,
            "description": endpoint.description, "enabled": endpoint.enabled}


def _record(session: Session, actor: Any, endpoint: WebhookEndpoint, action: str, summary: str, **changes: Any) -> None:
    audit.record(session, actor, endpoint.organization_id, action, target_type="webhook", target_id=endpoint.id,
                 summary=f"{summary} (webhook {endpoint.url[:200]})", **changes)


def create_endpoint(session: Session, actor: Any, org_id: uuid.UUID, data: dict[str, Any]) -> Created:
    """``data``: url, events, agent_id (None: every agent), description. The secret comes back once."""
    require(session, actor, PERMISSION, org_id)
    _only_known(data, FIELDS)
    events = _events(data.get("events"))
    agent_id = _agent(session, org_id, data.get("agent_id"))
    description = _description(data.get("description"))
    url = _url(data.get("url"))
    count = session.exec(select(func.count(WebhookEndpoint.id)).where(WebhookEndpoint.organization_id == org_id)).one()
    if count >= MAX_ENDPOINTS:
        raise ValidationFailed(f"An organization has at most {MAX_ENDPOINTS} webhooks; delete one first", field="url")
    outbound.check_url(url)
    secret = new_secret()
    endpoint = WebhookEndpoint(organization_id=org_id, url=url, events=events, agent_id=agent_id,
                               description=description, secret_encrypted=encrypt_text(secret))
    session.add(endpoint)
    session.flush()
    _record(session, actor, endpoint, "webhook.created", "Added", after=_audit_state(endpoint))
    return Created(view_of(endpoint), secret)


def update_endpoint(session: Session, actor: Any, org_id: uuid.UUID, endpoint_id: uuid.UUID,
                    changes: dict[str, Any]) -> EndpointView:
    """Partial: the keys present change (``agent_id: None`` means every agent). Switching it on
    again clears why it was off and its failing run; its waiting deliveries then go."""
    endpoint = _find(session, actor, org_id, endpoint_id, lock=True)
    _only_known(changes, (*FIELDS, "enabled"))
    before = _audit_state(endpoint)
    if "events" in changes:
        endpoint.events = _events(changes["events"])
    if "agent_id" in changes:
        endpoint.agent_id = _agent(session, org_id, changes["agent_id"])
    if "description" in changes:
        endpoint.description = _description(changes["description"])
    if "enabled" in changes:
        enabled = validation.boolean(changes["enabled"], "enabled")
        if enabled != endpoint.enabled:
            endpoint.enabled, endpoint.disabled_reason, endpoint.failing_since = enabled, None, None
            if enabled:
                wakeups.after_commit(session, wakeups.WEBHOOKS)
    if "url" in changes:
        url = _url(changes["url"])
        if url != endpoint.url:
            outbound.check_url(url)
            endpoint.url = url
    session.add(endpoint)
    session.flush()
    old, new = audit.diff(before, _audit_state(endpoint))
    if new:
        _record(session, actor, endpoint, "webhook.updated", "Changed", before=old, after=new)
    return view_of(endpoint)


def delete_endpoint(session: Session, actor: Any, org_id: uuid.UUID, endpoint_id: uuid.UUID) -> None:
    """The endpoint goes with its deliveries (the database cascades); events other endpoints got stay."""
    endpoint = _find(session, actor, org_id, endpoint_id, lock=True)
    _record(session, actor, endpoint, "webhook.deleted", "Deleted", before=_audit_state(endpoint))
    session.delete(endpoint)
    session.flush()


def rotate_secret(session: Session, actor: Any, org_id: uuid.UUID, endpoint_id: uuid.UUID) -> str:
    """A new secret, returned this once; from now on every attempt (queued ones too) is signed with it."""
    endpoint = _find(session, actor, org_id, endpoint_id, lock=True)
    secret = new_secret()
    endpoint.secret_encrypted = encrypt_text(secret)
    session.add(endpoint)
    session.flush()
    _record(session, actor, endpoint, "webhook.secret_rotated", "Rotated the signing secret")
    return secret


def send_test(session: Session, actor: Any, org_id: uuid.UUID, endpoint_id: uuid.UUID) -> tuple[str, uuid.UUID]:
    """Queue a ``ping`` to this endpoint; (its event id, its delivery id)."""
    endpoint = _find(session, actor, org_id, endpoint_id)
    if not endpoint.enabled:
        raise Conflict(SWITCHED_OFF)
    event, delivery = webhook_outbox.ping(session, endpoint)
    return webhook_outbox.public_id(event.id), delivery.id


def redeliver(session: Session, actor: Any, org_id: uuid.UUID, endpoint_id: uuid.UUID,
              delivery_id: uuid.UUID) -> DeliveryView:
    """Send the same event again (same ``webhook-id``). A delivery still pending is made due now;
    a delivered or failed one gets a new delivery at the end of the endpoint's queue."""
    endpoint = _find(session, actor, org_id, endpoint_id)
    if not endpoint.enabled:
        raise Conflict(SWITCHED_OFF)
    found = session.exec(
        select(WebhookDelivery, WebhookEvent).join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint.id).with_for_update()
    ).first()
    if found is None:
        raise NotFound(DELIVERY_NOT_FOUND)
    delivery, event = found
    if delivery.status == PENDING:
        delivery.next_attempt_at = utcnow()
    else:
        now = webhook_outbox.stamp()
        delivery = WebhookDelivery(endpoint_id=endpoint.id, event_id=event.id, next_attempt_at=now, created_at=now)
    session.add(delivery)
    session.flush()
    wakeups.after_commit(session, wakeups.WEBHOOKS)
    return _delivery_view(delivery, event)
