"""/api/v1/organizations/{org_id}/do-not-call: numbers the organization never dials.

Thin: permissions, E.164 and the list's rules are in ``services/do_not_call.py``. A number in the
path is E.164 with its "+" (URL-encoded as %2B or not: both reach the same entry).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, Field

from voice_platform.api.deps import CurrentUser, SessionDep
from voice_platform.api.schemas import E164
from voice_platform.services import do_not_call as service

router = APIRouter(prefix="/organizations/{org_id}/do-not-call", tags=["do not call"])
_SCOPED = {401: {"description": "Not signed in"}, 403: {"description": "Not allowed"},
           404: {"description": "Not found"}, 422: {"description": "Not an E.164 number"}}


class DoNotCallIn(BaseModel):
    number: str = Field(max_length=32, **E164)


class DoNotCallOut(BaseModel):
    number: str
    source: str
    call_session_id: uuid.UUID | None
    created_at: datetime


def _out(entry: service.Entry) -> DoNotCallOut:
    return DoNotCallOut(number=entry.number, source=entry.source, call_session_id=entry.call_session_id,
                        created_at=entry.created_at)


@router.get("", response_model=list[DoNotCallOut], responses=_SCOPED)
def list_numbers(org_id: uuid.UUID, user: CurrentUser, session: SessionDep,
                 q: Annotated[str | None, Query(max_length=20, description="Number contains")] = None,
                 ) -> list[DoNotCallOut]:
    return [_out(e) for e in service.list_numbers(session, user, org_id, search=q)]


@router.post("", response_model=DoNotCallOut, status_code=status.HTTP_201_CREATED,
             responses={**_SCOPED, 200: {"description": "Already on the list (unchanged)", "model": DoNotCallOut}})
def add_number(org_id: uuid.UUID, body: DoNotCallIn, user: CurrentUser, session: SessionDep,
               response: Response) -> DoNotCallOut:
    entry, created = service.add(session, user, org_id, body.number)
    if not created:
        response.status_code = status.HTTP_200_OK
    return _out(entry)


@router.delete("/{number}", status_code=status.HTTP_204_NO_CONTENT, responses=_SCOPED)
def remove_number(org_id: uuid.UUID, number: Annotated[str, Path(max_length=32, **E164)], user: CurrentUser, session: SessionDep) -> None:
    service.remove(session, user, org_id, number)
