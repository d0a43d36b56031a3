"""What platform administrators see across every organization: the tool catalogue and the organizations.

Read-only on purpose: the catalogue is the code's (the registry sync writes it at start-up,
and a tool switched off by hand would be switched back on by the next sync), and an
organization is opened through the organization switcher, which lists every organization
for a platform admin. Everyone else is refused (403).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, select

from voice_platform.models import AgentTool, Membership, Organization, PlatformTool, User, VoiceAgent
from voice_platform.services.rbac import require_platform

MAX_LIMIT = 200


@dataclass(frozen=True)
class CatalogueTool:
    id: uuid.UUID
    name: str
    description: str
    is_active: bool
    functions: list[str]
    agents: int  # agents with the tool attached and switched on
    last_synced: datetime | None  # when a sync last changed the row


@dataclass(frozen=True)
class OrganizationStats:
    id: uuid.UUID
    name: str
    members: int
    agents: int
    created_at: datetime | None


@dataclass(frozen=True)
class OrganizationPage:
    items: list[OrganizationStats]
    total: int
    offset: int
    limit: int


def tool_catalogue(session: Session, actor: User) -> list[CatalogueTool]:
    require_platform(actor, "platform:tools")
    using = (select(AgentTool.tool_id, func.count().label("agents")).where(AgentTool.is_enabled == True)  # noqa: E712
             .group_by(AgentTool.tool_id).subquery())
    rows = session.exec(
        select(PlatformTool, func.coalesce(using.c.agents, 0))
        .outerjoin(using, using.c.tool_id == PlatformTool.id).order_by(PlatformTool.name)
    ).all()
    return [
        CatalogueTool(id=tool.id, name=tool.name, description=tool.description, is_active=tool.is_active,
                      functions=sorted(f.get("name", "") for f in (tool.tool_functions_schema or {}).get("functions", [])),
                      agents=int(agents), last_synced=tool.updated_at or tool.created_at)
        for tool, agents in rows
    ]


def organizations(
    session: Session, actor: User, *, search: str | None = None, offset: int = 0, limit: int = 50,
) -> OrganizationPage:
    """Every organization with its member and agent counts (two grouped subqueries, one query)."""
    require_platform(actor, "platform:tools")
    limit = max(1, min(limit, MAX_LIMIT))
    members = (select(Membership.organization_id, func.count().label("n")).group_by(Membership.organization_id)
               .subquery())
    agents = (select(VoiceAgent.organization_id, func.count().label("n")).group_by(VoiceAgent.organization_id)
              .subquery())
    where = []
    if search and search.strip():
        where.append(func.lower(Organization.name).contains(search.strip().lower()[:100]))
    total = session.exec(select(func.count()).select_from(Organization).where(*where)).one()
    rows = session.exec(
        select(Organization, func.coalesce(members.c.n, 0), func.coalesce(agents.c.n, 0))
        .outerjoin(members, members.c.organization_id == Organization.id)
        .outerjoin(agents, agents.c.organization_id == Organization.id)
        .where(*where).order_by(Organization.name, Organization.id).offset(offset).limit(limit)
    ).all()
    items = [OrganizationStats(id=o.id, name=o.name, members=int(m), agents=int(a), created_at=o.created_at)
             for o, m, a in rows]
    return OrganizationPage(items=items, total=int(total), offset=offset, limit=limit)
