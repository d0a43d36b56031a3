"""/api/v1/agents: voice agent CRUD, scoped to the caller's organizations."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from voice_platform.api.deps import CurrentUser, SessionDep
from voice_platform.api.schemas import AgentIn, AgentOut, AgentUpdate, PageOut
from voice_platform.services import agents as agent_service

router = APIRouter(prefix="/agents", tags=["agents"])
_SCOPED = {
    401: {"description": "Not signed in"},
    403: {"description": "Not allowed"},
    404: {"description": "Not found"},
    409: {"description": "Phone number taken, or two analysis fields with one name"},
}


@router.post("", response_model=AgentOut, status_code=status.HTTP_201_CREATED, responses=_SCOPED)
def create_agent(body: AgentIn, user: CurrentUser, session: SessionDep) -> AgentOut:
    data = body.model_dump(exclude={"organization_id"}, exclude_none=True)
    data.setdefault("name", body.name)
    agent = agent_service.create_agent(session, user, body.organization_id, data)
    return AgentOut.model_validate(agent)


@router.get("/organization/{org_id}", response_model=PageOut[AgentOut], responses=_SCOPED)
def list_agents(
    org_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    q: Annotated[str | None, Query(max_length=100, description="Name or phone number contains")] = None,
) -> PageOut[AgentOut]:
    page = agent_service.list_agents(session, user, org_id, offset=offset, limit=limit, search=q)
    return PageOut[AgentOut](
        items=[AgentOut.model_validate(a) for a in page.items], total=page.total, offset=page.offset, limit=page.limit
    )


@router.get("/{agent_id}", response_model=AgentOut, responses=_SCOPED)
def get_agent(agent_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> AgentOut:
    return AgentOut.model_validate(agent_service.get_agent(session, user, agent_id))


@router.put("/{agent_id}", response_model=AgentOut, responses=_SCOPED)
def update_agent(agent_id: uuid.UUID, body: AgentUpdate, user: CurrentUser, session: SessionDep) -> AgentOut:
    agent = agent_service.update_agent(session, user, agent_id, body.model_dump(exclude_unset=True))
    return AgentOut.model_validate(agent)


@router.delete("/{agent_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_SCOPED)
def delete_agent(agent_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> None:
    agent_service.delete_agent(session, user, agent_id)
