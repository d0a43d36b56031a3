"""Per-agent tool configuration: the one place its rules live (API and dashboard share it).

Reads need ``tool:read``, writes ``tool:configure``, always on the agent's own
organization (another tenant's ids are NotFound). Function names come from the
catalogue row's ``tool_functions_schema`` (synced from code, or listed from a custom
tool), never from livekit. The catalogue is the code tools (``organization_id`` NULL)
plus, for each organization, its own custom tools: another organization's custom tool
is never listed and attaching it is NotFound.
Secrets are write-only: they go into the encrypted ``sensitive_config`` and views
only say which are set. Services never commit; the caller's scope does.
Every write is recorded in the audit log, a secret only as "changed".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from voice_platform.errors import Conflict, NotFound, ValidationFailed
from voice_platform.models import AgentTool, Membership, PlatformTool, User, VoiceAgent
from voice_platform.security import decrypt_json, encrypt_json
from voice_platform.services import audit
from voice_platform.services.rbac import api_key_of, permissions_of, require
from voice_platform.services.tool_config import FunctionView, clean_config, function_names, function_views
from voice_platform.settings import get_settings

AGENT_NOT_FOUND = "Agent not found"
AGENT_TOOL_NOT_FOUND = "Tool attachment not found"
TOOL_NOT_FOUND = "Tool not found"
OAUTH_KEY = "oauth"  # sensitive_config key holding OAuth tokens


@dataclass(frozen=True)
class PlatformToolView:
    id: uuid.UUID
    name: str
    description: str
    requires_auth: bool
    auth_type: str | None
    config_schema: dict[str, Any]
    secret_fields: list[str]
    is_active: bool
    tool_functions_schema: dict[str, Any]  # raw {"functions": [{"name", "description", "parameters"}]}
    display_name: str = ""  # what people see: a custom tool's title, else the name
    kind: str = "code"  # code | http | mcp
    organization_id: uuid.UUID | None = None  # a custom tool's owner; None: a code tool


@dataclass(frozen=True)
class AgentToolView:
    id: uuid.UUID
    agent_id: uuid.UUID
    tool_id: uuid.UUID
    tool_name: str
    config: dict[str, Any]  # never contains secret fields
    is_enabled: bool
    unselected_functions: list[str]  # stale names already filtered out
    enabled_functions: list[str]
    secrets_set: list[str]  # which declared secret fields have a value
    has_credentials: bool  # OAuth tokens are stored
    connected_account: str | None


@dataclass(frozen=True)
class AgentToolEntry:
    """One row of the agent's tools page: a catalogue tool and, if attached, its attachment."""

    tool: PlatformToolView
    attachment: AgentToolView | None
    functions: list[FunctionView]  # ``enabled`` reflects the attachment (all on when detached)


@dataclass(frozen=True)
class AgentToolsPage:
    agent_id: uuid.UUID
    organization_id: uuid.UUID
    can_configure: bool
    oauth_configured: bool  # Google client settings present: the Connect button works
    entries: list[AgentToolEntry] = field(default_factory=list)


# -- views ------------------------------------------------------------------------
def platform_tool_view(tool: PlatformTool) -> PlatformToolView:
    return PlatformToolView(
        id=tool.id, name=tool.name, description=tool.description, requires_auth=tool.requires_auth,
        auth_type=tool.auth_type, config_schema=tool.config_schema, secret_fields=list(tool.secret_fields or []),
        is_active=tool.is_active, tool_functions_schema=tool.tool_functions_schema,
        display_name=tool.title or tool.name, kind=tool.kind or "code", organization_id=tool.organization_id,
    )


def agent_tool_view(agent_tool: AgentTool, tool: PlatformTool) -> AgentToolView:
    known = function_names(tool.tool_functions_schema)
    unselected = [n for n in agent_tool.unselected_functions or [] if n in known]
    secrets = decrypt_json(agent_tool.sensitive_config)
    secret_fields = list(tool.secret_fields or [])
    return AgentToolView(
        id=agent_tool.id, agent_id=agent_tool.agent_id, tool_id=tool.id, tool_name=tool.name,
        config={k: v for k, v in (agent_tool.config or {}).items() if k not in secret_fields},
        is_enabled=agent_tool.is_enabled, unselected_functions=unselected,
        enabled_functions=[n for n in known if n not in unselected],
        secrets_set=[f for f in secret_fields if secrets.get(f) not in (None, "")],
        has_credentials=_has_tokens(secrets.get(OAUTH_KEY)),
        connected_account=agent_tool.connected_account,
    )


def _has_tokens(tokens: dict[str, Any] | None) -> bool:
    return bool(tokens and (tokens.get("refresh_token") or tokens.get("token")))


# -- lookups ------------------------------------------------------------------------
def _agent(session: Session, actor: User, agent_id: uuid.UUID, permission: str) -> VoiceAgent:
    agent = session.get(VoiceAgent, agent_id)
    if agent is None:
        raise NotFound(AGENT_NOT_FOUND)
    require(session, actor, permission, agent.organization_id, not_found=AGENT_NOT_FOUND)
    return agent


def _attachment(session: Session, actor: User, agent_tool_id: uuid.UUID, permission: str) -> tuple[AgentTool, PlatformTool]:
    agent_tool = session.get(AgentTool, agent_tool_id)
    agent = session.get(VoiceAgent, agent_tool.agent_id) if agent_tool else None
    if agent_tool is None or agent is None:
        raise NotFound(AGENT_TOOL_NOT_FOUND)
    require(session, actor, permission, agent.organization_id, not_found=AGENT_TOOL_NOT_FOUND)
    if permission == "tool:configure":  # writers read-modify-write the row: lock it, then re-read it
        locked = select(AgentTool).where(AgentTool.id == agent_tool.id).with_for_update()
        agent_tool = session.exec(locked.execution_options(populate_existing=True)).first()
        if agent_tool is None:
            raise NotFound(AGENT_TOOL_NOT_FOUND)
    return agent_tool, session.get(PlatformTool, agent_tool.tool_id)


def find_tool(session: Session, *, tool_id: uuid.UUID | None = None, tool_name: str | None = None) -> PlatformTool:
    """A catalogue row by id or name (NotFound otherwise; a NUL can name nothing PostgreSQL stores)."""
    if tool_id is None and (not tool_name or "\x00" in tool_name):
        raise NotFound(TOOL_NOT_FOUND)
    tool = session.get(PlatformTool, tool_id) if tool_id else session.exec(select(PlatformTool).where(PlatformTool.name == tool_name)).first()
    if tool is None:
        raise NotFound(TOOL_NOT_FOUND)
    return tool


def visible_to(organization_ids: list[uuid.UUID]) -> Any:
    """The catalogue rows these organizations see: every code tool and their own custom tools."""
    shared = PlatformTool.organization_id.is_(None)  # type: ignore[union-attr]
    return shared | PlatformTool.organization_id.in_(organization_ids) if organization_ids else shared  # type: ignore[union-attr]


def _actor_organizations(session: Session, actor: User) -> list[uuid.UUID]:
    if api_key_of(actor) is not None:
        return [actor.organization_id]  # type: ignore[attr-defined]
    return list(session.exec(select(Membership.organization_id).where(Membership.user_id == actor.id)).all())


# -- catalogue ------------------------------------------------------------------------
def list_platform_tools(session: Session, actor: User, *, only_active: bool = True) -> list[PlatformToolView]:
    """The code tools, and the custom tools of the organizations the actor belongs to (an API
    key: its own). Code tools first, then custom tools by title."""
    query = select(PlatformTool).where(visible_to(_actor_organizations(session, actor)))
    if only_active:
        query = query.where(PlatformTool.is_active == True)  # noqa: E712
    rows = session.exec(query).all()
    rows = sorted(rows, key=lambda t: (t.organization_id is not None, (t.title or t.name).lower(), t.name))
    return [platform_tool_view(t) for t in rows]


def agent_tools_page(session: Session, actor: User, agent_id: uuid.UUID) -> AgentToolsPage:
    """Everything the agent's tools page renders: each active tool (and any inactive one still attached)."""
    agent = _agent(session, actor, agent_id, "tool:read")
    attached = {at.tool_id: at for at in session.exec(select(AgentTool).where(AgentTool.agent_id == agent.id)).all()}
    tools = session.exec(select(PlatformTool).where(visible_to([agent.organization_id]))).all()
    tools = sorted(tools, key=lambda t: (t.organization_id is not None, (t.title or t.name).lower(), t.name))
    entries = []
    for tool in tools:
        at = attached.get(tool.id)
        if not tool.is_active and at is None:
            continue
        view = agent_tool_view(at, tool) if at else None
        entries.append(AgentToolEntry(
            tool=platform_tool_view(tool), attachment=view,
            functions=function_views(tool.tool_functions_schema, view.unselected_functions if view else []),
        ))
    can_configure = "tool:configure" in permissions_of(session, actor, agent.organization_id)
    return AgentToolsPage(agent.id, agent.organization_id, can_configure, get_settings().google_oauth_configured, entries)


def list_agent_tools(session: Session, actor: User, agent_id: uuid.UUID) -> list[AgentToolView]:
    agent = _agent(session, actor, agent_id, "tool:read")
    rows = session.exec(
        select(AgentTool, PlatformTool).join(PlatformTool, PlatformTool.id == AgentTool.tool_id)
        .where(AgentTool.agent_id == agent.id).order_by(PlatformTool.name)
    ).all()
    return [agent_tool_view(at, tool) for at, tool in rows]


# -- writes ----------------------------------------------------------------------------
def _audit_state(agent_tool: AgentTool, tool: PlatformTool) -> tuple[dict[str, Any], list[str]]:
    """The attachment as the audit log compares it: flat ``config.<key>`` entries, secrets by value
    (``audit.record`` turns each into "changed"; their values never reach the log)."""
    secret_fields = list(tool.secret_fields or [])
    secrets = decrypt_json(agent_tool.sensitive_config)
    state: dict[str, Any] = {"is_enabled": agent_tool.is_enabled,
                             "unselected_functions": list(agent_tool.unselected_functions or [])}
    for key, value in sorted((agent_tool.config or {}).items()):
        if key not in secret_fields:
            state[f"config.{key}"] = value
    for key in secret_fields:
        state[f"config.{key}"] = secrets.get(key)
    return state, [f"config.{key}" for key in secret_fields]


def _record(session: Session, actor: User, agent_tool: AgentTool, tool: PlatformTool, action: str, summary: str,
            *, before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
            secret_fields: list[str] | None = None) -> None:
    agent = session.get(VoiceAgent, agent_tool.agent_id)
    assert agent is not None  # the attachment was just found through it
    audit.record(session, actor, agent.organization_id, action, target_type="agent_tool", target_id=agent_tool.id,
                 summary=f"{summary} ({tool.title or tool.name} on agent {agent.name!r})", before=before, after=after,
                 secret_fields=secret_fields or ())


def _record_changes(session: Session, actor: User, agent_tool: AgentTool, tool: PlatformTool, action: str,
                    summary: str, before: dict[str, Any]) -> None:
    """One entry with the keys that changed, none when nothing did."""
    after, secret_fields = _audit_state(agent_tool, tool)
    old, new = audit.diff(before, after)
    if new:
        _record(session, actor, agent_tool, tool, action, summary, before=old, after=new, secret_fields=secret_fields)


def _apply(agent_tool: AgentTool, tool: PlatformTool, changes: dict[str, Any]) -> None:
    """Validate and apply config / is_enabled / unselected_functions; always drop stale names."""
    unknown = set(changes) - {"config", "is_enabled", "unselected_functions"}
    if unknown:
        raise ValidationFailed(f"Unknown field(s): {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    known = function_names(tool.tool_functions_schema)
    if changes.get("unselected_functions") is not None:
        names = changes["unselected_functions"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValidationFailed("unselected_functions must be a list of function names", field="unselected_functions")
        bad = [n for n in names if n not in known]
        if bad:
            raise ValidationFailed(f"{tool.title or tool.name} has no function named {bad[0]!r}", field="unselected_functions")
        agent_tool.unselected_functions = list(dict.fromkeys(names))
    else:
        kept = [n for n in agent_tool.unselected_functions or [] if n in known]
        if kept != list(agent_tool.unselected_functions or []):
            agent_tool.unselected_functions = kept
    if changes.get("is_enabled") is not None:
        if not isinstance(changes["is_enabled"], bool):
            raise ValidationFailed("is_enabled must be true or false", field="is_enabled")
        agent_tool.is_enabled = changes["is_enabled"]
    if changes.get("config") is not None:
        secrets = decrypt_json(agent_tool.sensitive_config)
        config, secrets = clean_config(tool.config_schema, list(tool.secret_fields or []), changes["config"], secrets)
        agent_tool.config = config
        agent_tool.sensitive_config = encrypt_json(secrets) if secrets else None


def attach_tool(
    session: Session, actor: User, agent_id: uuid.UUID, *, tool_id: uuid.UUID | None = None,
    tool_name: str | None = None, config: dict[str, Any] | None = None, is_enabled: bool = True,
    unselected_functions: list[str] | None = None,
) -> AgentToolView:
    agent = _agent(session, actor, agent_id, "tool:configure")
    tool = find_tool(session, tool_id=tool_id, tool_name=tool_name)
    if tool.organization_id is not None and tool.organization_id != agent.organization_id:
        raise NotFound(TOOL_NOT_FOUND)  # another organization's custom tool does not exist here
    if not tool.is_active:
        raise ValidationFailed(f"{tool.title or tool.name} is no longer available", field="tool_id")
    if session.exec(select(AgentTool.id).where(AgentTool.agent_id == agent.id, AgentTool.tool_id == tool.id)).first():
        raise Conflict(f"{tool.title or tool.name} is already attached to this agent", field="tool_id")
    agent_tool = AgentTool(agent_id=agent.id, tool_id=tool.id, config={}, unselected_functions=[])
    _apply(agent_tool, tool, {"config": config or {}, "is_enabled": is_enabled, "unselected_functions": unselected_functions or []})
    session.add(agent_tool)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent attach won
        raise Conflict(f"{tool.title or tool.name} is already attached to this agent", field="tool_id") from exc
    after, secret_fields = _audit_state(agent_tool, tool)
    _record(session, actor, agent_tool, tool, "tool.attached", "Attached", after=after, secret_fields=secret_fields)
    return agent_tool_view(agent_tool, tool)


def update_agent_tool(session: Session, actor: User, agent_tool_id: uuid.UUID, changes: dict[str, Any]) -> AgentToolView:
    """Partial update: only keys present (and not None) change. Config keys for secrets:
    a value replaces the stored one, ``None``/"" clears it, absence keeps it."""
    agent_tool, tool = _attachment(session, actor, agent_tool_id, "tool:configure")
    before, _secret_fields = _audit_state(agent_tool, tool)
    _apply(agent_tool, tool, changes)
    session.add(agent_tool)
    session.flush()
    _record_changes(session, actor, agent_tool, tool, "tool.configured", "Changed the settings", before)
    return agent_tool_view(agent_tool, tool)


def set_function_enabled(
    session: Session, actor: User, agent_tool_id: uuid.UUID, function_name: str, enabled: bool
) -> AgentToolView:
    """The dashboard switch: enabled means the name is NOT in unselected_functions."""
    agent_tool, tool = _attachment(session, actor, agent_tool_id, "tool:configure")
    known = function_names(tool.tool_functions_schema)
    if function_name not in known:
        raise ValidationFailed(f"{tool.title or tool.name} has no function named {function_name!r}", field="unselected_functions")
    current = [n for n in agent_tool.unselected_functions or [] if n in known and n != function_name]
    was_enabled = function_name not in (agent_tool.unselected_functions or [])
    _apply(agent_tool, tool, {"unselected_functions": current if enabled else current + [function_name]})
    session.add(agent_tool)
    session.flush()
    if was_enabled != enabled:
        _record(session, actor, agent_tool, tool, "tool.function_switched",
                f"Switched {function_name} {'on' if enabled else 'off'}",
                before={"function": function_name, "enabled": was_enabled},
                after={"function": function_name, "enabled": enabled})
    return agent_tool_view(agent_tool, tool)


def detach_tool(session: Session, actor: User, agent_tool_id: uuid.UUID) -> dict[str, Any] | None:
    """Delete the attachment and its encrypted secrets; returns the OAuth tokens it held so the
    caller revokes them at the provider (a detached tool must not keep a live grant)."""
    agent_tool, tool = _attachment(session, actor, agent_tool_id, "tool:configure")
    removed = decrypt_json(agent_tool.sensitive_config).get(OAUTH_KEY)
    before, secret_fields = _audit_state(agent_tool, tool)
    if agent_tool.connected_account:
        before["connected_account"] = agent_tool.connected_account
    _record(session, actor, agent_tool, tool, "tool.detached", "Detached", before=before, secret_fields=secret_fields)
    session.delete(agent_tool)
    session.flush()
    return removed


def disconnect(session: Session, actor: User, agent_tool_id: uuid.UUID) -> tuple[AgentToolView, dict[str, Any] | None]:
    """Forget the OAuth tokens. Returns the view and the removed tokens so the caller may revoke them."""
    agent_tool, tool = _attachment(session, actor, agent_tool_id, "tool:configure")
    secrets = decrypt_json(agent_tool.sensitive_config)
    removed = secrets.pop(OAUTH_KEY, None)
    account = agent_tool.connected_account
    agent_tool.sensitive_config = encrypt_json(secrets) if secrets else None
    agent_tool.connected_account = None
    session.add(agent_tool)
    session.flush()
    if removed is not None or account is not None:
        _record(session, actor, agent_tool, tool, "tool.account_disconnected",
                f"Disconnected {account or 'the connected account'}",
                before={"connected_account": account}, after={"connected_account": None})
    return agent_tool_view(agent_tool, tool), removed


# -- used by the OAuth callback and the worker (no actor: the caller has already decided) ---
def store_oauth_tokens(session: Session, agent_id: uuid.UUID, tool: PlatformTool, tokens: dict[str, Any], account: str | None) -> AgentTool:
    agent_tool = session.exec(select(AgentTool).where(AgentTool.agent_id == agent_id, AgentTool.tool_id == tool.id)).first()
    if agent_tool is None:
        agent_tool = AgentTool(agent_id=agent_id, tool_id=tool.id, config={}, unselected_functions=[])
    secrets = decrypt_json(agent_tool.sensitive_config)
    secrets[OAUTH_KEY] = tokens
    agent_tool.sensitive_config = encrypt_json(secrets)
    agent_tool.connected_account = account
    session.add(agent_tool)
    session.flush()
    return agent_tool


def store_tool_secrets(session: Session, agent_tool_id: uuid.UUID, secrets: dict[str, Any]) -> None:
    """The worker saves a refreshed token; only the OAuth part is taken, under a row lock."""
    query = select(AgentTool).where(AgentTool.id == agent_tool_id).with_for_update()
    agent_tool = session.exec(query).first()
    if agent_tool is None:
        return  # detached during the call: nothing to keep
    stored = decrypt_json(agent_tool.sensitive_config)
    if OAUTH_KEY in secrets and OAUTH_KEY in stored:
        stored[OAUTH_KEY] = secrets[OAUTH_KEY]
        agent_tool.sensitive_config = encrypt_json(stored)
        session.add(agent_tool)
        session.flush()
