"""Support for the agent tools page's browser tests and benchmark.

``start_app`` runs the real app (``reflex run --env prod``) outside pytest (the
benchmark) through the e2e conftest's ``running_app``. The data helpers act
through the services, as a user who did these things earlier would have.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
TOOL = "Google_calendar"


@contextmanager
def start_app(database_url: str, log_path: Path, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """The production build on a free port (``tests/e2e/conftest.running_app``); yields its base URL."""
    from tests.e2e.conftest import running_app

    with running_app(database_url, log_path, extra_env) as app:
        yield app.base_url


# -- data, through the services ------------------------------------------------------------
def sync_catalogue() -> None:
    """Per-test truncation empties platform_tools; put the code's tools back."""
    from voice_platform.db import session_scope
    from voice_platform.tools.registry import sync_with_db

    with session_scope() as session:
        sync_with_db(session)


def admin_with_agent(org_name: str = "Tools Org") -> tuple[str, uuid.UUID, uuid.UUID]:
    """(e-mail, organization id, agent id) of a fresh org admin with one agent."""
    from voice_platform.db import session_scope
    from voice_platform.services import agents, auth

    email = f"tools-{uuid.uuid4().hex[:10]}@example.com"
    with session_scope() as session:
        signed, org = auth.signup(session, email=email, password=PASSWORD, organization_name=org_name)
        agent = agents.create_agent(session, signed.user, org.id, {"name": "Front desk"})
        return email, org.id, agent.id


def add_member(admin_email: str, org_id: uuid.UUID, role: str = "member") -> str:
    from sqlmodel import select

    from voice_platform.db import session_scope
    from voice_platform.models import User
    from voice_platform.services import auth, organizations

    email = f"member-{uuid.uuid4().hex[:10]}@example.com"
    with session_scope() as session:
        auth.signup(session, email=email, password=PASSWORD, organization_name="Member's own org")
        admin = session.exec(select(User).where(User.email == admin_email)).one()
        organizations.add_member(session, admin, org_id, email=email, role=role)
    return email


def attach(admin_email: str, agent_id: uuid.UUID, tool_name: str = TOOL) -> uuid.UUID:
    from sqlmodel import select

    from voice_platform.db import session_scope
    from voice_platform.models import User
    from voice_platform.services import tools

    with session_scope() as session:
        admin = session.exec(select(User).where(User.email == admin_email)).one()
        return tools.attach_tool(session, admin, agent_id, tool_name=tool_name).id


def agent_tool_row(agent_id: uuid.UUID, tool_name: str = TOOL):
    """(unselected_functions, is_enabled, connected_account, config) straight from the table, or None."""
    from sqlmodel import select

    from voice_platform.db import session_scope
    from voice_platform.models import AgentTool, PlatformTool

    with session_scope() as session:
        row = session.exec(
            select(AgentTool).join(PlatformTool, PlatformTool.id == AgentTool.tool_id)
            .where(AgentTool.agent_id == agent_id, PlatformTool.name == tool_name)
        ).first()
        if row is None:
            return None
        return list(row.unselected_functions or []), row.is_enabled, row.connected_account, dict(row.config or {})


def function_names(tool_name: str = TOOL) -> list[str]:
    from sqlmodel import select

    from voice_platform.db import session_scope
    from voice_platform.models import PlatformTool
    from voice_platform.services.tool_config import function_names as names

    with session_scope() as session:
        tool = session.exec(select(PlatformTool).where(PlatformTool.name == tool_name)).one()
        return names(tool.tool_functions_schema)
