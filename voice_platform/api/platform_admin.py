"""/api/v1/admin: the platform admin's views across organizations (403 for everyone else).

Read-only: no PUT /tools/{id}, because the registry sync would switch a deactivated tool that is
still in the code back on at the next start-up (see services.platform_admin).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from voice_platform.api.deps import CurrentUser, SessionDep
from voice_platform.api.schemas import PageOut
from voice_platform.services import platform_admin

router = APIRouter(prefix="/admin", tags=["platform admin"])
_RESPONSES = {401: {"description": "Not signed in"}, 403: {"description": "Not a platform administrator"}}


class CatalogueToolOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    is_active: bool
    functions: list[str]
    agents: int = Field(description="Agents with the tool attached")
    agents_enabled: int = Field(description="Of those, agents with the tool switched on")
    last_changed: datetime | None = Field(
        description="When a registry sync last changed the tool (it writes only differences), not when it last ran")


class OrganizationStatsOut(BaseModel):
    id: uuid.UUID
    name: str
    members: int
    agents: int
    created_at: datetime | None


@router.get("/tools", response_model=list[CatalogueToolOut], responses=_RESPONSES)
def tools(user: CurrentUser, session: SessionDep) -> list[CatalogueToolOut]:
    return [CatalogueToolOut(**vars(t)) for t in platform_admin.tool_catalogue(session, user)]


@router.get("/organizations", response_model=PageOut[OrganizationStatsOut], responses=_RESPONSES)
def organizations(
    user: CurrentUser, session: SessionDep,
    q: Annotated[str | None, Query(max_length=100, description="Name contains")] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PageOut[OrganizationStatsOut]:
    page = platform_admin.organizations(session, user, search=q, offset=offset, limit=limit)
    return PageOut[OrganizationStatsOut](items=[OrganizationStatsOut(**vars(o)) for o in page.items],
                                         total=page.total, offset=page.offset, limit=page.limit)
