"""/api/v1/organizations/{org_id}/api-keys: an organization's API keys (org admins).

The secret comes back once, in the answer to POST; lists show the prefix only.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from voice_platform.api.deps import CurrentUser, SessionDep
from voice_platform.services import api_keys

router = APIRouter(prefix="/organizations/{org_id}/api-keys", tags=["api keys"])
_SCOPED = {401: {"description": "Not signed in"}, 403: {"description": "Not allowed"}, 404: {"description": "Not found"}}


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, description="What the key is for, e.g. 'CRM sync'")
    role: Literal["org_admin", "member"] = Field(default="member", description="member = read-only")


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    prefix: str = Field(description="The key's first characters, to recognise it")
    role: str
    created_by: str | None
    created_at: datetime
    last_used_at: datetime | None = Field(description="Updated at most once a minute")
    revoked_at: datetime | None


class ApiKeyCreatedOut(ApiKeyOut):
    secret: str = Field(description="Send it as 'Authorization: Bearer <secret>'. Shown once: it cannot be retrieved again")


@router.get("", response_model=list[ApiKeyOut], responses=_SCOPED)
def list_keys(org_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> list[ApiKeyOut]:
    return [ApiKeyOut.model_validate(k) for k in api_keys.list_keys(session, user, org_id)]


@router.post("", response_model=ApiKeyCreatedOut, status_code=status.HTTP_201_CREATED, responses=_SCOPED)
def create_key(org_id: uuid.UUID, body: ApiKeyIn, user: CurrentUser, session: SessionDep) -> ApiKeyCreatedOut:
    made = api_keys.create_key(session, user, org_id, name=body.name, role=body.role)
    return ApiKeyCreatedOut(**ApiKeyOut.model_validate(made.key).model_dump(), secret=made.secret)


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_SCOPED)
def revoke_key(org_id: uuid.UUID, key_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> None:
    api_keys.revoke_key(session, user, org_id, key_id)
