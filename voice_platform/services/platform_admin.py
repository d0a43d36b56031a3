"""What platform administrators see across every organization: the tool catalogue and the organizations.

Only platform admins (``User.is_platform_admin``, permission ``platform:tools``) are answered;
everyone else gets PermissionDenied, which the API maps to 403. We chose 403, not the tenant
rule's 404: these views belong to no organization, so there is nothing a refusal could reveal.

Read-only on purpose. The catalogue's source is the code: ``ToolRegistry.desired_row`` puts
``is_active=True`` into every tool that is still in the code, so ``sync_with_db`` at the next
start-up would quietly switch a tool that an admin had turned off back on. So there is no
``set_tool_active`` here. Switching a tool off for everyone needs the sync to keep an admin's
choice (a column of its own), and adding that column is outside this page's scope.

An organization is opened through the organization switcher, which lists every organization for
a platform admin (``organizations.list_organizations``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func
from sqlmodel import Session, select

from voice_platform.models import AgentTool, Membership, Organization, PlatformTool, User, VoiceAgent
from voice_platform.models.base import aware
from voice_platform.services.rbac import require_platform

MAX_LIMIT = 200
PERMISSION = "platform:tools"


@dataclass(frozen=True)
class CatalogueTool:
    id: uuid.UUID
    name: str
    description: str
    is_active: bool
    functions: list[str]
    agents: int  # agents with the tool attached
    agents_enabled: int  # ... of which have it switched on
    # When the row last changed (the sync writes only differences, so this is when the code last
    # changed the tool, not when a sync last ran; that time is not recorded anywhere).
    last_changed: datetime | None


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
    """Every catalogue tool, active or not, with how many agents carry it (one grouped subquery)."""
    require_platform(actor, PERMISSION)
    using = (
        select(
            AgentTool.tool_id,
            func.count().label("attached"),
            func.sum(case((AgentTool.is_enabled == True, 1), else_=0)).label("enabled"),  # noqa: E712
        )
        .group_by(AgentTool.tool_id)
        .subquery()
    )
    rows = session.exec(
        select(PlatformTool, func.coalesce(using.c.attached, 0), func.coalesce(using.c.enabled, 0))
        .outerjoin(using, using.c.tool_id == PlatformTool.id)
        .order_by(PlatformTool.name)
    ).all()
    return [
        CatalogueTool(
            id=tool.id, name=tool.name, description=tool.description, is_active=tool.is_active,
            functions=sorted(f.get("name", "") for f in (tool.tool_functions_schema or {}).get("functions", [])),
            agents=int(attached), agents_enabled=int(enabled),
            last_changed=aware(tool.updated_at or tool.created_at),
        )
        for tool, attached, enabled in rows
    ]


def organizations(
    session: Session, actor: User, *, search: str | None = None, offset: int = 0, limit: int = 50,
) -> OrganizationPage:
    """Every organization with its member and agent counts (two grouped subqueries, one query).

    ``search`` matches anywhere in the name, case-insensitively; ``%`` and ``_`` are literal.
    """
    require_platform(actor, PERMISSION)
    limit = max(1, min(limit, MAX_LIMIT))
    offset = max(0, offset)
    members = (select(Membership.organization_id, func.count().label("n"))
               .group_by(Membership.organization_id).subquery())
    agents = (select(VoiceAgent.organization_id, func.count().label("n"))
              .group_by(VoiceAgent.organization_id).subquery())
    where = []
    term = (search or "").strip().lower()[:100]
    if term:
        where.append(func.lower(Organization.name).contains(term, autoescape=True))
    total = session.exec(select(func.count()).select_from(Organization).where(*where)).one()
    rows = session.exec(
        select(Organization, func.coalesce(members.c.n, 0), func.coalesce(agents.c.n, 0))
        .outerjoin(members, members.c.organization_id == Organization.id)
        .outerjoin(agents, agents.c.organization_id == Organization.id)
        .where(*where)
        .order_by(func.lower(Organization.name), Organization.id)
        .offset(offset)
        .limit(limit)
    ).all()
    items = [OrganizationStats(id=o.id, name=o.name, members=int(m), agents=int(a), created_at=aware(o.created_at))
             for o, m, a in rows]
    return OrganizationPage(items=items, total=int(total), offset=offset, limit=limit)
