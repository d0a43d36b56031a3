"""The contract every tool class fulfils, and the per-call data it runs with.

A tool is a class whose ``@function_tool`` methods (LiveKit's own decorator) are
the functions the model may call. Its ``metadata`` is a class attribute, not an
instance property as in the seed, so the registry can read it without building
an instance (a tool needs a runtime with config and secrets to be useful).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from livekit.agents import RunContext
from livekit.agents.llm import ToolError


@dataclass(frozen=True)
class ToolMetadata:
    name: str
    description: str
    requires_auth: bool = False
    auth_type: str | None = None  # "oauth2" or None
    # For oauth2: {"provider": "google", "scopes": [...]}; read by the OAuth service from the DB.
    auth_config: dict[str, Any] = field(default_factory=dict)
    # JSON Schema of the per-agent config form; secret fields are listed below and never shown.
    config_schema: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    secret_fields: tuple[str, ...] = ()


@dataclass
class ToolRuntime:
    """What one attached tool needs during a call: built by the worker from ``agent_tools``.

    ``secrets`` is the decrypted ``sensitive_config`` (OAuth tokens under ``"oauth"``,
    declared secret fields by name). ``persist_secrets`` saves a changed copy back
    (encrypted) — the Calendar tool calls it after refreshing an access token.
    """

    tool_name: str
    agent_tool_id: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, Any] = field(default_factory=dict)
    persist_secrets: Callable[[dict[str, Any]], None] | None = None

    def __repr__(self) -> str:  # secrets must never reach a log line
        return f"ToolRuntime(tool_name={self.tool_name!r}, agent_tool_id={self.agent_tool_id!r}, secrets=<{len(self.secrets)} keys>)"


class BaseTool:
    """Subclass, set ``metadata`` and decorate async methods with ``@function_tool()``.

    At call time a method asks ``self.runtime(context)``: the session's userdata
    (``context.userdata.tool_runtimes[name]``) wins, so one AgentSession can carry
    every attached tool's config; the instance's own runtime is the fallback.
    """

    metadata: ClassVar[ToolMetadata]

    def __init__(self, runtime: ToolRuntime | None = None) -> None:
        self._runtime = runtime or ToolRuntime(tool_name=self.metadata.name)

    @classmethod
    def tool_name(cls) -> str:
        return cls.metadata.name

    def runtime(self, context: RunContext | None = None) -> ToolRuntime:
        if context is not None:
            try:
                runtimes = getattr(context.userdata, "tool_runtimes", None)
            except ValueError:  # AgentSession without userdata
                runtimes = None
            if runtimes and self.metadata.name in runtimes:
                return runtimes[self.metadata.name]
        return self._runtime

    def config_value(self, runtime: ToolRuntime, key: str) -> Any:
        """The configured value, else the schema's default: defaults live in one place."""
        if runtime.config.get(key) not in (None, ""):
            return runtime.config[key]
        return self.metadata.config_schema.get("properties", {}).get(key, {}).get("default")

    def require_secret(self, runtime: ToolRuntime, key: str) -> Any:
        value = runtime.secrets.get(key)
        if not value:
            raise ToolError(f"{self.metadata.name} is not set up: the '{key}' setting is missing.")
        return value
