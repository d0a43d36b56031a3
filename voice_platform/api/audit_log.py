"""/api/v1/organizations/{org_id}/audit-log: what the organization's admins changed (read-only).

There is no write endpoint: entries are written by the services that make the changes.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from voice_platform.api.deps import CurrentUser, SessionDep
from voice_platform.api.schemas import IsoDateTime
from voice_platform.services import audit

router = APIRouter(prefix="/organizations/{org_id}/audit-log", tags=["audit log"])
_SCOPED = {401: {"description": "Not signed in"}, 403: {"description": "Not allowed"}, 404: {"description": "Not found"},
           422: {"description": "Invalid filter"}}


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    created_at: datetime
    actor: str = Field(description="The user's e-mail or 'API key <name>'")
    actor_user_id: uuid.UUID | None
    actor_api_key_id: uuid.UUID | None
    action: str = Field(description="e.g. agent.updated")
    target_type: str
    target_id: str | None
    summary: str
    changes: dict[str, Any] = Field(description='{"before": {...}, "after": {...}}; a secret appears only as "changed"')


class AuditPageOut(BaseModel):
    items: list[AuditEventOut]
    total: int
    offset: int
    limit: int


def _out(event) -> AuditEventOut:
    return AuditEventOut(id=event.id, created_at=event.created_at, actor=event.actor_label,
                         actor_user_id=event.actor_user_id, actor_api_key_id=event.actor_api_key_id,
                         action=event.action, target_type=event.target_type, target_id=event.target_id,
                         summary=event.summary, changes=event.changes or {})


@router.get("", response_model=AuditPageOut, responses=_SCOPED)
def list_events(
    org_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    action: str | None = Query(default=None, max_length=60, description="An action (agent.updated) or a family (agent)"),
    actor: str | None = Query(default=None, max_length=320, description="Part of the actor's e-mail or key name"),
    since: IsoDateTime | None = Query(default=None, description="From this time on (inclusive)"),
    until: IsoDateTime | None = Query(default=None, description="Before this time"),
    offset: int = Query(default=0, ge=0, le=1_000_000),
    limit: int = Query(default=50, ge=1, le=audit.MAX_LIMIT),
) -> AuditPageOut:
    """Newest first."""
    page = audit.list_events(session, user, org_id, action=action, actor_query=actor, since=since, until=until,
                             offset=offset, limit=limit)
    return AuditPageOut(items=[_out(e) for e in page.items], total=page.total, offset=page.offset, limit=page.limit)
