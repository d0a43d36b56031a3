"""Every function the model calls goes through here: bounded, recorded, and never fatal.

Each assembled function is re-declared as a ``RawFunctionTool`` carrying the schema
the registry already built (so starting a session builds no schemas) and calling
the original through LiveKit's own argument binding (``prepare_function_arguments``:
the same validation, ``RunContext`` injection and defaults as a plain call). Around
the call:

- a tool that raises gives the model an error message (``ToolError``) and the call
  goes on; ``ToolError`` raised by the tool itself reaches the model unchanged;
- a tool still running after ``TOOL_TIMEOUT_SECONDS`` is cancelled, with an error to
  the model ("did not answer in time");
- every invocation (function, arguments with secret fields redacted, result or
  error, latency) is written through ``services.calls.record_tool_invocation``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from livekit.agents import RunContext
from livekit.agents.llm import FunctionTool, RawFunctionTool, StopResponse, ToolError, function_tool
from livekit.agents.llm.utils import prepare_function_arguments

from voice_platform import telemetry

log = logging.getLogger(__name__)

RESULT_LIMIT = 4000  # characters of a result kept in the record (the model gets all of it)


@dataclass(frozen=True)
class Invocation:
    """One finished call of a function, as the recorder stores it."""

    tool_name: str
    agent_tool_id: uuid.UUID | None
    function_name: str
    arguments: dict[str, Any]
    secret_fields: tuple[str, ...]
    result: Any
    error: str | None
    duration_ms: float


Recorder = Callable[[Invocation], Awaitable[None]]


@dataclass(frozen=True)
class Owner:
    """Which attached tool a function belongs to (for the record)."""

    tool_name: str
    agent_tool_id: uuid.UUID | None = None
    secret_fields: tuple[str, ...] = ()


def _recordable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (dict, list)):
        text = repr(value)
        return value if len(text) <= RESULT_LIMIT else text[:RESULT_LIMIT]
    return str(value)[:RESULT_LIMIT]


def guard(
    tool: FunctionTool | RawFunctionTool, schema: dict[str, Any], owner: Owner, *,
    timeout: float, record: Recorder | None,
) -> RawFunctionTool:
    """``tool`` as the model sees it (same name, description, parameters), bounded and recorded."""
    name = tool.info.name
    parameters = schema.get("parameters") or {}
    raw_schema = {
        "name": name,
        "description": schema.get("description") or "",
        # a function without arguments is declared without parameters (Gemini refuses an empty object)
        "parameters": parameters if parameters.get("properties") else {},
    }

    async def call(raw_arguments: dict[str, object], context: RunContext) -> Any:
        with telemetry.tracer().start_as_current_span(
                "tool.call", attributes={"tool.name": owner.tool_name, "tool.function": name},
                record_exception=False) as span:
            return await _call(raw_arguments, context, span)

    async def _call(raw_arguments: dict[str, object], context: RunContext, span) -> Any:
        started = time.perf_counter()
        result: Any = None
        error: str | None = None
        try:
            args, kwargs = prepare_function_arguments(fnc=tool, json_arguments=dict(raw_arguments), call_ctx=context)
            result = await asyncio.wait_for(tool(*args, **kwargs), timeout)
            return result
        except (ToolError, StopResponse) as exc:
            error = getattr(exc, "message", None) or exc.__class__.__name__
            raise
        except asyncio.TimeoutError as exc:
            error = f"{name} did not answer within {timeout:g} s"
            log.warning("tool %s timed out after %.1f s", name, timeout)
            raise ToolError(f"{error}. Tell the caller it is not available right now and carry on.") from exc
        except Exception as exc:  # noqa: BLE001 - any failure becomes a message to the model
            error = f"{name} failed: {exc.__class__.__name__}"
            log.warning("tool %s raised %s", name, exc.__class__.__name__, exc_info=True)
            raise ToolError(f"{error}. Tell the caller it did not work and offer another way.") from exc
        finally:
            latency_ms = (time.perf_counter() - started) * 1000
            outcome = "ok" if error is None else ("timeout" if "did not answer" in error else "error")
            span.set_attribute("tool.outcome", outcome)
            span.set_attribute("tool.latency_ms", round(latency_ms, 1))
            labels = {"tool": owner.tool_name, "function": name, "outcome": outcome}
            telemetry.instruments().tool_calls.add(1, labels)
            telemetry.instruments().tool_latency.record(latency_ms, labels)
            if record is not None:
                await record(Invocation(
                    tool_name=owner.tool_name, agent_tool_id=owner.agent_tool_id, function_name=name,
                    arguments=dict(raw_arguments or {}), secret_fields=owner.secret_fields,
                    result=_recordable(result) if error is None else None, error=error,
                    duration_ms=(time.perf_counter() - started) * 1000,
                ))

    call.__name__ = name
    return function_tool(call, raw_schema=raw_schema, flags=tool.info.flags)
