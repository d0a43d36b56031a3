"""Custom tools (an organization's HTTP endpoints and MCP servers) as functions the model can call.

The declarations come from the schemas stored when the tool was registered, with the agent's
switches already applied (``services.custom_tools.runnable_for_agent``): nothing here talks to
a customer's server before Gemini's ``setup`` is sent. Each function becomes a
``RawFunctionTool`` that the agent wraps with ``tool_calls.guard`` exactly like a code tool's,
so timeouts, recording (redacted), ``tool.call`` spans and metrics have one path.

Around each call, in this order: the conversation's call limit, the process-wide circuit
breaker (``circuit_breaker``), then the request through the SSRF guard (``services.outbound``)
or the conversation's MCP session (``mcp_sessions``). Header values are secrets: they go into
the outgoing request and nowhere else; a server that echoes one back has it replaced before
its answer reaches the model or the record.

The admin's Test button (``run_once``) runs the same execution, without breaker or limit.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from livekit.agents.llm import RawFunctionTool, ToolError, function_tool

from voice_platform.errors import ValidationFailed
from voice_platform.runtime import circuit_breaker
from voice_platform.runtime.circuit_breaker import CallLimit, CircuitBreaker, ServiceUnavailable
from voice_platform.runtime.mcp_sessions import McpConnection
from voice_platform.runtime.tool_calls import Owner
from voice_platform.services import outbound
from voice_platform.services.custom_tools import PLACEHOLDER, RunnableCustomTool, RunnableFunction, require_function

RESPONSE_LIMIT = 16 * 1024  # bytes of an answer the model gets
EXCERPT_LIMIT = 300  # characters of an error answer quoted to the model
TIMEOUT_GRACE_SECONDS = 1.0  # the guard's own deadline trails the tool's, so the tool's clearer error wins
NAME_LIMIT = 64  # Gemini's limit on a function name
QUERY_METHODS = ("GET", "DELETE")
REDACTED = "[redacted]"
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")


class BadArguments(ToolError):
    """The model's arguments cannot make a request (nothing was sent: the service is not to blame)."""


@dataclass
class TestRun:
    output: Any
    is_error: bool
    duration_ms: float


@dataclass(frozen=True)
class CustomFunction:
    """One custom function as the agent declares it, ready for ``tool_calls.guard``."""

    tool: RawFunctionTool
    schema: dict[str, Any]  # {"name": what the model sees, "description", "parameters"}
    owner: Owner  # the catalogue name (what analytics group by) and the attachment
    function_name: str  # the tool's own name for it: what is recorded and what the server is asked for
    timeout: float


# -- executing one call ---------------------------------------------------------------------
def _scrub(value: Any, secrets: Iterable[str]) -> Any:
    """``value`` with every secret header value replaced (a server may echo its request back)."""
    secrets = [s for s in secrets if len(s) >= 4]
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {_scrub(k, secrets): _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    return value


def _cut(text: str, limit: int = RESPONSE_LIMIT) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[:limit].decode(errors="ignore") + " …[cut]"


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _request_parts(tool: RunnableCustomTool, arguments: dict[str, Any]) -> tuple[str, str, list | None, Any]:
    """(method, url, query, JSON body): path placeholders filled (URL-encoded), the rest in the query
    string (GET, DELETE) or the JSON body (POST, PUT, PATCH)."""
    method = (tool.method or "GET").upper()
    used: set[str] = set()

    def fill(match: re.Match) -> str:
        name = match.group(1)
        if arguments.get(name) is None:
            raise BadArguments(f"{name} is required to call {tool.name}")
        used.add(name)
        return quote(_plain(arguments[name]), safe="")

    url = PLACEHOLDER.sub(fill, tool.url)
    rest = {k: v for k, v in arguments.items() if k not in used}
    if method in QUERY_METHODS:
        query = [(k, _plain(i)) for k, v in rest.items() if v is not None for i in (v if isinstance(v, list) else [v])]
        if not query:
            return method, url, None, None
        # httpx replaces a URL's query with ``params``: the template's own query goes first, kept
        return method, url, parse_qsl(urlsplit(url).query, keep_blank_values=True) + query, None
    return method, url, None, rest


def _text(response: outbound.OutboundResponse) -> str:
    match = re.search(r"charset=([\w-]+)", response.content_type or "", re.I)
    try:
        return response.body.decode(match.group(1) if match else "utf-8", errors="replace")
    except LookupError:
        return response.body.decode("utf-8", errors="replace")


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_LIMIT else flat[:EXCERPT_LIMIT] + "…"


async def _call_http(tool: RunnableCustomTool, arguments: dict[str, Any]) -> Any:
    method, url, query, body = _request_parts(tool, arguments)
    try:
        response = await outbound.request(method, url, headers=tool.headers, params=query, json=body,
                                          timeout=tool.timeout_seconds)
    except outbound.OutboundRefused as exc:
        raise ServiceUnavailable(f"{tool.name} may not be called: {exc.message}. Tell the caller it is not "
                                 "available.") from None
    except outbound.OutboundFailed as exc:
        raise ServiceUnavailable(f"{tool.name} could not be reached: {exc.message}. Tell the caller it is not "
                                 "available right now and offer another way.") from None
    text = _scrub(_text(response), tool.headers.values())
    status = response.status_code
    if not 200 <= status < 300:
        message = f"{tool.name} answered HTTP {status}" + (f": {_excerpt(text)}" if text.strip() else "")
        if status >= 500 or status == 429:
            raise ServiceUnavailable(message)
        raise ToolError(message)
    if not text.strip():
        return f"Done (HTTP {status}, no content)"
    if "json" in (response.content_type or "").lower() and not response.truncated:
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        else:
            if len(json.dumps(parsed, ensure_ascii=False).encode()) <= RESPONSE_LIMIT:
                return parsed
    return _cut(text)


def _mcp_failure(tool: RunnableCustomTool, exc: BaseException) -> ToolError:
    """What the model is told when an MCP call raised; a dead or silent server is unavailability."""
    from mcp.shared.exceptions import MCPError
    from mcp_types import CONNECTION_CLOSED, INTERNAL_ERROR, REQUEST_TIMEOUT

    seen, todo = [], [exc]
    while todo:  # anyio task groups wrap the transport's exception in groups
        current = todo.pop(0)
        seen.append(current)
        todo.extend(getattr(current, "exceptions", ()) or ())
        if current.__cause__ is not None:
            todo.append(current.__cause__)
    for item in seen:
        if isinstance(item, outbound.OutboundRefused):
            return ServiceUnavailable(f"{tool.name} may not be called: {item.message}.")
    for item in seen:
        if isinstance(item, (TimeoutError, asyncio.TimeoutError)) or (
                isinstance(item, MCPError) and item.code == REQUEST_TIMEOUT):
            return ServiceUnavailable(f"{tool.name} did not answer within {tool.timeout_seconds:g} s. Tell the caller "
                                      "it is not available right now.")
    for item in seen:
        if isinstance(item, MCPError):
            message = _excerpt(_scrub(item.message, tool.headers.values()))
            if item.code in (CONNECTION_CLOSED, INTERNAL_ERROR):
                return ServiceUnavailable(f"{tool.name} failed: {message}")
            return ToolError(f"{tool.name} refused the call: {message}")
    return ServiceUnavailable(f"{tool.name} could not be reached ({type(exc).__name__}). Tell the caller it is "
                              "not available right now and offer another way.")


def _mcp_answer(tool: RunnableCustomTool, result: Any) -> Any:
    parts = [getattr(p, "text", None) or f"[{getattr(p, 'type', 'content')}]" for p in result.content or []]
    text = _scrub("\n".join(parts), tool.headers.values())
    if result.is_error:
        raise ToolError(f"{tool.name} reported an error: {_excerpt(text) or 'no details'}")
    structured = getattr(result, "structured_content", None)
    if structured is not None:
        structured = _scrub(structured, tool.headers.values())
        if len(json.dumps(structured, ensure_ascii=False, default=str).encode()) <= RESPONSE_LIMIT:
            return structured
    return _cut(text) if text else "Done (no content)"


async def _call_mcp(tool: RunnableCustomTool, connection: McpConnection, function: str, arguments: dict[str, Any]) -> Any:
    try:
        async with asyncio.timeout(tool.timeout_seconds):
            client = await connection.session()
            result = await client.call_tool(function, arguments, read_timeout_seconds=tool.timeout_seconds)
    except Exception as exc:  # noqa: BLE001 - sorted into what the model is told
        failure = _mcp_failure(tool, exc)
        if isinstance(failure, ServiceUnavailable):
            await connection.reset()  # the next call starts a fresh session
        raise failure from None
    return _mcp_answer(tool, result)


async def execute(tool: RunnableCustomTool, function: str, arguments: dict[str, Any], *,
                  mcp: McpConnection | None = None) -> Any:
    """One call of ``function``: its answer (JSON value or text), or ``ToolError`` saying what went wrong."""
    if tool.kind == "http":
        return await _call_http(tool, dict(arguments or {}))
    if tool.kind == "mcp":
        if mcp is None:
            raise ValueError("an MCP call needs the conversation's connection")
        return await _call_mcp(tool, mcp, function, dict(arguments or {}))
    raise ToolError(f"{tool.name} cannot be called (unknown kind {tool.kind!r})")


# -- one conversation -----------------------------------------------------------------------
class CustomToolCalls:
    """One conversation's custom-tool state: its MCP sessions and how often each function ran.

    ``aclose()`` must be awaited when the conversation ends (the worker's call and the test
    chat's exchange do), so MCP sessions are ended rather than left to the server's timeout.
    """

    def __init__(self, *, breaker: CircuitBreaker | None = None, limit: CallLimit | None = None) -> None:
        self.breaker = breaker or circuit_breaker.breaker
        self.limit = limit or CallLimit()
        self._mcp: dict[uuid.UUID, McpConnection] = {}

    def connection(self, tool: RunnableCustomTool) -> McpConnection:
        if tool.custom_tool_id not in self._mcp:
            self._mcp[tool.custom_tool_id] = McpConnection(tool.url, tool.headers, timeout=tool.timeout_seconds)
        return self._mcp[tool.custom_tool_id]

    async def call(self, tool: RunnableCustomTool, function: str, arguments: dict[str, Any]) -> Any:
        label = f"{function} ({tool.name})"
        self.limit.take(limit_key(tool, function), label)
        key = (tool.tool_id, function)
        self.breaker.check(key, label)
        try:
            result = await execute(tool, function, arguments,
                                   mcp=self.connection(tool) if tool.kind == "mcp" else None)
        except BadArguments:
            raise
        except ServiceUnavailable:
            self.breaker.failed(key)
            raise
        except ToolError:
            self.breaker.succeeded(key)  # it answered (a refusal is not an outage)
            raise
        except Exception:
            self.breaker.failed(key)
            raise
        self.breaker.succeeded(key)
        return result

    async def aclose(self) -> None:
        connections, self._mcp = list(self._mcp.values()), {}
        await asyncio.gather(*(c.aclose() for c in connections), return_exceptions=True)


def limit_key(tool: RunnableCustomTool, function: str) -> tuple[uuid.UUID, str]:
    """What the per-conversation limit counts by (also used to count calls already recorded)."""
    return (tool.agent_tool_id or tool.tool_id, function)


def _for_model(value: Any) -> Any:
    """A JSON answer reaches the model as JSON text (LiveKit would otherwise send Python's repr)."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _safe_name(name: str) -> str:
    cleaned = _NAME_UNSAFE.sub("_", name).strip("_") or "function"
    if cleaned[0].isdigit():
        cleaned = "f_" + cleaned
    return cleaned[:NAME_LIMIT]


def _unique_name(function: str, tool: RunnableCustomTool, taken: set[str]) -> str:
    """The function's own name when free; otherwise suffixed with the tool's name (then a number)."""
    base = _safe_name(function)
    if base not in taken:
        return base
    slug = _safe_name(tool.name.lower())[:20]
    candidate = f"{base[:NAME_LIMIT - len(slug) - 1]}_{slug}"
    number = 2
    while candidate in taken:
        suffix = f"_{slug}_{number}"
        candidate, number = f"{base[:NAME_LIMIT - len(suffix)]}{suffix}", number + 1
    return candidate


def _declared_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    schema = dict(parameters or {})
    schema.setdefault("type", "object")
    schema.setdefault("properties", {})
    return schema


def custom_function_tools(
    tools: list[RunnableCustomTool], calls: CustomToolCalls, *, catalogue_names: dict[uuid.UUID, str],
    taken: Iterable[str] = (),
) -> list[CustomFunction]:
    """The enabled functions of ``tools`` as the model will see them, each calling through ``calls``.

    ``taken`` are names already declared (the code tools'): a custom function never shadows one,
    nor another custom function, and is renamed instead (its record keeps its real name).
    ``catalogue_names`` maps each tool's catalogue id to its catalogue name, which the record
    and the analytics use like a code tool's name.
    """
    names = set(taken)
    out: list[CustomFunction] = []
    for tool in tools:
        for function in tool.functions:
            visible = _unique_name(function.name, tool, names)
            names.add(visible)
            description = function.description or function.name
            if visible != function.name:
                description = f"{description} (from {tool.name})"
            schema = {"name": visible, "description": description,
                      "parameters": _declared_parameters(function.parameters)}
            out.append(CustomFunction(
                tool=_function_tool(tool, function, calls, schema), schema=schema,
                owner=Owner(catalogue_names.get(tool.tool_id, tool.name), tool.agent_tool_id),
                function_name=function.name, timeout=tool.timeout_seconds + TIMEOUT_GRACE_SECONDS,
            ))
    return out


def _function_tool(tool: RunnableCustomTool, function: RunnableFunction, calls: CustomToolCalls,
                   schema: dict[str, Any]) -> RawFunctionTool:
    async def call(raw_arguments: dict[str, object]) -> Any:
        return _for_model(await calls.call(tool, function.name, dict(raw_arguments or {})))

    call.__name__ = schema["name"]
    return function_tool(call, raw_schema=schema)


# -- the admin's Test button ----------------------------------------------------------------
async def run_once(tool: RunnableCustomTool, function: str, arguments: dict[str, Any]) -> TestRun:
    """Run one function as a call would (same request, same answer handling), outside any conversation.

    An unknown function is a ``ValidationFailed`` (the admin picked something the tool does not
    have); everything the service does wrong is an ``is_error`` result with the model's message.
    """
    require_function(tool, function)
    if not isinstance(arguments, dict):
        raise ValidationFailed("Arguments must be a JSON object", field="arguments")
    connection = McpConnection(tool.url, tool.headers, timeout=tool.timeout_seconds) if tool.kind == "mcp" else None
    started = time.perf_counter()
    try:
        output, is_error = await execute(tool, function, arguments, mcp=connection), False
    except ToolError as exc:
        output, is_error = exc.message, True
    finally:
        duration_ms = (time.perf_counter() - started) * 1000
        if connection is not None:
            await connection.aclose()
    return TestRun(output=output, is_error=is_error, duration_ms=duration_ms)
