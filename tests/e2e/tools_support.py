"""Support for the agent tools page's browser tests and benchmark.

``start_app`` runs the real app (``reflex run --env prod``) the way
``tests/e2e/conftest.py`` does, plus extra environment (the loopback fake Google
server's URLs), and yields its base URL. The data helpers act through the
services, as a user who did these things earlier would have.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
TOOL = "Google_calendar"
START_DEADLINE_S = float(os.environ.get("E2E_START_DEADLINE", "900"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except Exception:
        return False


@contextmanager
def start_app(database_url: str, log_path: Path, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """The production build on one free port; ``E2E_WEB_WORKDIR`` may give it its own ``.web``."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REFLEX_BUN_PATH": str(ROOT / ".tools/node_modules/bun/bin/bun.exe"),
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "0",
        "PUBLIC_BASE_URL": base,
        "API_BASE_URL": base,
        **(extra_env or {}),
    }
    if os.environ.get("E2E_WEB_WORKDIR"):
        env["REFLEX_WEB_WORKDIR"] = os.environ["E2E_WEB_WORKDIR"]
    command = [str(ROOT / ".venv/bin/reflex"), "run", "--env", "prod", "--frontend-port", str(port),
               "--backend-port", str(port), "--backend-host", "127.0.0.1"]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + START_DEADLINE_S
        while not (_answers(base + "/ping") and _answers(base + "/signin")):
            if proc.poll() is not None:
                raise RuntimeError(f"reflex exited with {proc.returncode}:\n{log_path.read_text()[-4000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"app not ready after {START_DEADLINE_S:.0f}s:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.5)  # polling interval of the start-up wait, bounded by the deadline
        yield base
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


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
