"""Finds the tool classes in code and keeps ``platform_tools`` in step with them.

Discovery is introspection only: every ``BaseTool`` subclass in the implementations
package, every ``@function_tool`` method found by LiveKit's ``find_function_tools``,
and each function's JSON schema from LiveKit's own builder
(``build_legacy_openai_schema``, which reads the signature and the docstring's
``Args:``), so what the dashboard shows is exactly what the model is offered.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import pkgutil
from dataclasses import dataclass, field
from typing import Any

from livekit.agents.llm import FunctionTool, RawFunctionTool, find_function_tools
from livekit.agents.llm.utils import build_legacy_openai_schema
from sqlalchemy import text
from sqlmodel import Session, select

from voice_platform.models import PlatformTool
from voice_platform.tools.base import BaseTool

log = logging.getLogger(__name__)
IMPLEMENTATIONS = "voice_platform.tools.implementations"
_SYNC_LOCK_KEY = 0x7001  # pg advisory lock: two backend processes starting together sync one at a time


@dataclass(frozen=True)
class SyncReport:
    inserted: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def writes(self) -> int:
        return len(self.inserted) + len(self.updated) + len(self.deactivated)


def function_schema(tool: FunctionTool | RawFunctionTool) -> dict[str, Any]:
    """``{"name", "description", "parameters"}`` as LiveKit would send it to the model."""
    if isinstance(tool, RawFunctionTool):
        raw = tool.info.raw_schema
        return {"name": raw["name"], "description": raw.get("description") or "", "parameters": raw["parameters"]}
    built = build_legacy_openai_schema(tool, internally_tagged=True)
    return {"name": built["name"], "description": built["description"], "parameters": built["parameters"]}


class ToolRegistry:
    """One per process (``default_registry``); the bench builds extra ones over generated packages."""

    def __init__(self, packages: tuple[str, ...] = (IMPLEMENTATIONS,)) -> None:
        self._packages = packages
        self._classes: dict[str, type[BaseTool]] | None = None
        # per class: (attribute name, function name) of its function tools, and their schemas
        self._members: dict[type[BaseTool], list[tuple[str, str]]] = {}
        self._schemas: dict[type[BaseTool], list[dict[str, Any]]] = {}

    # -- discovery ---------------------------------------------------------
    def tool_classes(self) -> dict[str, type[BaseTool]]:
        if self._classes is None:
            self._classes = self._discover()
        return self._classes

    def _discover(self) -> dict[str, type[BaseTool]]:
        found: dict[str, type[BaseTool]] = {}
        for package_name in self._packages:
            package = importlib.import_module(package_name)
            modules = [package] + [
                importlib.import_module(f"{package_name}.{info.name}")
                for info in pkgutil.iter_modules(package.__path__)
            ]
            for module in modules:
                for _, cls in inspect.getmembers(module, inspect.isclass):
                    if issubclass(cls, BaseTool) and cls is not BaseTool and cls.__module__ == module.__name__:
                        name = cls.metadata.name
                        if name in found and found[name] is not cls:
                            raise RuntimeError(f"two tool classes are named {name!r}: {found[name]} and {cls}")
                        found[name] = cls
        return dict(sorted(found.items()))

    def get_tool_class(self, name: str) -> type[BaseTool] | None:
        return self.tool_classes().get(name)

    # -- functions ---------------------------------------------------------
    def _function_members(self, cls: type[BaseTool]) -> list[tuple[str, str]]:
        if cls not in self._members:
            members = []
            for attr, value in inspect.getmembers(cls):
                if isinstance(value, (FunctionTool, RawFunctionTool)):
                    members.append((attr, value.info.name))
            # find_function_tools is LiveKit's own test of "is a tool"; keep ours equal to it
            assert sorted(n for _, n in members) == sorted(t.info.name for t in find_function_tools(cls))
            self._members[cls] = members
        return self._members[cls]

    def function_schemas(self, name_or_cls: str | type[BaseTool]) -> list[dict[str, Any]]:
        cls = self._resolve(name_or_cls)
        if cls not in self._schemas:
            instance = cls()  # bound methods: LiveKit drops ``self``; RunContext is dropped by the builder
            schemas = [function_schema(t) for t in find_function_tools(instance)]
            self._schemas[cls] = sorted(schemas, key=lambda s: s["name"])
        return self._schemas[cls]

    def function_names(self, name_or_cls: str | type[BaseTool]) -> list[str]:
        return sorted(n for _, n in self._function_members(self._resolve(name_or_cls)))

    def get_tool_functions(
        self, name: str, tool_instance: BaseTool, unselected: list[str] | tuple[str, ...] = ()
    ) -> list[FunctionTool | RawFunctionTool]:
        """The bound function tools the agent may call: all but the switched-off ones.

        Names in ``unselected`` the tool does not have (stale) simply match nothing.
        """
        cls = self._resolve(name)
        if not isinstance(tool_instance, cls):
            raise TypeError(f"{tool_instance!r} is not a {cls.__name__}")
        off = set(unselected)
        return [getattr(tool_instance, attr) for attr, fn in self._function_members(cls) if fn not in off]

    def _resolve(self, name_or_cls: str | type[BaseTool]) -> type[BaseTool]:
        if isinstance(name_or_cls, str):
            cls = self.get_tool_class(name_or_cls)
            if cls is None:
                raise KeyError(f"no tool named {name_or_cls!r} in code")
            return cls
        return name_or_cls

    # -- database ----------------------------------------------------------
    def desired_row(self, cls: type[BaseTool]) -> dict[str, Any]:
        meta = cls.metadata
        values = {
            "description": meta.description,
            "config_schema": meta.config_schema,
            "tool_functions_schema": {"functions": self.function_schemas(cls)},
            "requires_auth": meta.requires_auth,
            "auth_type": meta.auth_type,
            "auth_config": meta.auth_config,
            "secret_fields": list(meta.secret_fields),
            "is_active": True,
        }
        return json.loads(json.dumps(values))  # what the JSON columns will give back: lists, not tuples

    def sync_with_db(self, session: Session) -> SyncReport:
        """Upsert every tool in code; mark the ones gone from code inactive. Writes only differences.

        Runs inside the caller's transaction (one transaction for the whole catalogue);
        a second run with the same code issues no INSERT or UPDATE at all.
        """
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SYNC_LOCK_KEY})
        # Only the code tools' rows: a custom tool (organization_id set) is an organization's, not code's.
        code_rows = select(PlatformTool).where(PlatformTool.organization_id.is_(None))  # type: ignore[union-attr]
        rows = {row.name: row for row in session.exec(code_rows).all()}
        inserted, updated, deactivated, unchanged = [], [], [], []
        for name, cls in self.tool_classes().items():
            desired = self.desired_row(cls)
            row = rows.get(name)
            if row is None:
                session.add(PlatformTool(name=name, **desired))
                inserted.append(name)
                continue
            changed = False
            for key, value in desired.items():
                if getattr(row, key) != value:
                    setattr(row, key, value)
                    changed = True
            (updated if changed else unchanged).append(name)
        for name, row in rows.items():
            if name not in self.tool_classes() and row.is_active:
                row.is_active = False  # never deleted: agents keep their config
                deactivated.append(name)
        session.flush()
        report = SyncReport(inserted, updated, deactivated, unchanged)
        log.info("tool registry sync: %d inserted, %d updated, %d deactivated", len(inserted), len(updated), len(deactivated))
        return report


default_registry = ToolRegistry()


def get_tool_class(name: str) -> type[BaseTool] | None:
    return default_registry.get_tool_class(name)


def get_tool_functions(name: str, tool_instance: BaseTool, unselected: list[str] | tuple[str, ...] = ()):
    return default_registry.get_tool_functions(name, tool_instance, unselected)


def sync_with_db(session: Session) -> SyncReport:
    return default_registry.sync_with_db(session)
