"""Builds what an agent may call: its enabled tools, configured and holding their secrets.

The runtime calls ``assemble_agent_tools(agent_id)`` once per conversation, passes
``.function_tools`` to ``Agent(tools=...)`` and ``.userdata`` to
``AgentSession(userdata=...)``; a tool reaches its own runtime through
``context.userdata.tool_runtimes[name]``. Only enabled attachments of active
catalogue tools count, switched-off functions are left out (the model never sees
them), and stale names in ``unselected_functions`` match nothing.

Custom tools (HTTP endpoints, MCP servers) are read in the same transaction and become
``custom_functions`` (``runtime.custom_tools``): declared from their stored schemas, named so
that no two functions of the agent share a name, and calling through ``custom_calls``, the
conversation's state that its carrier closes at the end.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from livekit.agents.llm import FunctionTool, RawFunctionTool
from sqlmodel import Session, select

from voice_platform.db import session_scope
from voice_platform.models import AgentTool, PlatformTool
from voice_platform.runtime.circuit_breaker import CallLimit
from voice_platform.runtime.custom_tools import CustomFunction, CustomToolCalls, custom_function_tools, limit_key
from voice_platform.security import TokenInvalid, decrypt_json
from voice_platform.services import calls as call_service
from voice_platform.services import custom_tools as custom_tool_service
from voice_platform.services import tools as tool_service
from voice_platform.tools.base import BaseTool, ToolRuntime
from voice_platform.tools.registry import ToolRegistry, default_registry

log = logging.getLogger(__name__)
SessionFactory = Callable[[], AbstractContextManager[Session]]


@dataclass
class Userdata:
    """Per-call data reached from any tool as ``context.userdata``."""

    agent_id: uuid.UUID
    tool_runtimes: dict[str, ToolRuntime] = field(default_factory=dict)
    call_session_id: uuid.UUID | None = None
    # The call-control tool's per-call data (tools/implementations/call_control.py), set by
    # whoever carries the conversation: the worker for a phone call, the test chat for text.
    call_control: Any = None


@dataclass
class AssembledTools:
    userdata: Userdata
    instances: dict[str, BaseTool]
    function_tools: list[FunctionTool | RawFunctionTool]
    # function name -> (tool name, agent_tools.id): whose function it is, for the record
    origins: dict[str, tuple[str, uuid.UUID]] = field(default_factory=dict)
    custom_functions: list[CustomFunction] = field(default_factory=list)
    custom_calls: CustomToolCalls = field(default_factory=CustomToolCalls)

    @property
    def function_names(self) -> list[str]:
        return sorted([t.info.name for t in self.function_tools] + [f.schema["name"] for f in self.custom_functions])


def _persister(agent_tool_id: uuid.UUID, session_factory: SessionFactory) -> Callable[[dict[str, Any]], None]:
    """Refreshed OAuth tokens are written back in their own short transaction."""

    def persist(secrets: dict[str, Any]) -> None:
        with session_factory() as session:
            tool_service.store_tool_secrets(session, agent_tool_id, secrets)

    return persist


def _calls_so_far(session: Session, session_id: uuid.UUID | None,
                  custom: list[custom_tool_service.RunnableCustomTool]) -> Counter:
    """Custom-function calls already recorded in this conversation: a test chat rebuilds the
    conversation for every message, and its call limit counts the whole conversation."""
    if session_id is None or not custom:
        return Counter()
    by_attachment = {t.agent_tool_id: t for t in custom}
    return Counter(
        limit_key(by_attachment[i.agent_tool_id], i.function_name)
        for i in call_service.tool_invocations(session, session_id) if i.agent_tool_id in by_attachment
    )


def assemble_agent_tools(
    agent_id: uuid.UUID,
    *,
    session_factory: SessionFactory = session_scope,
    registry: ToolRegistry = default_registry,
    session_id: uuid.UUID | None = None,
) -> AssembledTools:
    with session_factory() as session:
        rows = session.exec(
            select(AgentTool, PlatformTool)
            .join(PlatformTool, PlatformTool.id == AgentTool.tool_id)
            .where(AgentTool.agent_id == agent_id, AgentTool.is_enabled == True, PlatformTool.is_active == True)  # noqa: E712
            .order_by(PlatformTool.name)
        ).all()
        loaded = [(at.id, tool.name, dict(at.config or {}), at.sensitive_config, list(at.unselected_functions or []))
                  for at, tool in rows if tool.kind == "code"]
        catalogue_names = {tool.id: tool.name for _at, tool in rows if tool.kind != "code"}
        try:
            custom = custom_tool_service.runnable_for_agent(session, agent_id) if catalogue_names else []
        except TokenInvalid:
            log.error("headers of agent %s's custom tools cannot be decrypted; they are left out", agent_id)
            custom = []
        so_far = _calls_so_far(session, session_id, custom)
    userdata = Userdata(agent_id=agent_id)
    instances: dict[str, BaseTool] = {}
    functions: list[FunctionTool | RawFunctionTool] = []
    origins: dict[str, tuple[str, uuid.UUID]] = {}
    for agent_tool_id, name, config, ciphertext, unselected in loaded:
        cls = registry.get_tool_class(name)
        if cls is None:  # in the DB but not in this worker's code (deploy skew): skip, never crash
            log.warning("agent %s has tool %s which this worker does not implement", agent_id, name)
            continue
        try:
            secrets = decrypt_json(ciphertext)
        except TokenInvalid:
            log.error("secrets of agent_tool %s cannot be decrypted; the tool runs without them", agent_tool_id)
            secrets = {}
        runtime = ToolRuntime(
            tool_name=name, agent_tool_id=str(agent_tool_id), config=config, secrets=secrets,
            persist_secrets=_persister(agent_tool_id, session_factory),
        )
        instance = cls(runtime)
        userdata.tool_runtimes[name] = runtime
        instances[name] = instance
        offered = registry.get_tool_functions(name, instance, unselected)
        functions.extend(offered)
        origins.update({f.info.name: (name, agent_tool_id) for f in offered})
    custom_calls = CustomToolCalls(limit=CallLimit(already=so_far))
    custom_functions = custom_function_tools(custom, custom_calls, catalogue_names=catalogue_names,
                                             taken=[f.info.name for f in functions])
    return AssembledTools(userdata=userdata, instances=instances, function_tools=functions, origins=origins,
                          custom_functions=custom_functions, custom_calls=custom_calls)
