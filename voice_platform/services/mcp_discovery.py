"""Asks an MCP server (streamable HTTP) which tools it has, with the ``mcp`` SDK's own client.

Used when an admin registers or refreshes an MCP server: the answer becomes the functions
stored in the catalogue, so a call's setup never waits for the server. Every request goes
through the SSRF guard's client (``outbound.mcp_httpx_client_factory``) and the whole exchange
has one deadline. Failures come back as ``DiscoveryFailed`` with a reason a person can act on
(an anyio task group wraps the transport's exception in groups; ``_reason`` digs it out).

The SDK is async; ``discover`` is the blocking entry for the sync services (the API runs them
in its thread pool). When the calling thread already runs an event loop (a Reflex event
handler), the discovery runs on a thread of its own and this thread waits for it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

import anyio

from voice_platform.errors import ValidationFailed
from voice_platform.services import outbound

DEFAULT_TIMEOUT = 10.0
MAX_PAGES = 20  # tools/list pages followed; a server paging forever is not waited for


class DiscoveryFailed(ValidationFailed):
    """The server could not be listed (422 on ``url``): unreachable, too slow, or not speaking MCP."""

    status_code = 422


def _walk(exc: BaseException) -> list[BaseException]:
    """The exception, the ones inside its groups and the ones it was raised from."""
    found, todo, seen = [], [exc], set()
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        found.append(current)
        todo.extend(getattr(current, "exceptions", ()) or ())
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                todo.append(linked)
    return found


def _reason(exc: BaseException, timeout: float) -> str:
    import httpx2
    from mcp.shared.exceptions import MCPError

    chain = _walk(exc)
    for item in chain:
        if isinstance(item, outbound.OutboundRefused):
            raise item
    for item in chain:
        if isinstance(item, (TimeoutError, httpx2.TimeoutException)):
            return f"the MCP server did not answer within {timeout:g} s"
    for item in chain:
        if isinstance(item, httpx2.ConnectError):
            return "could not connect to the MCP server (connection refused or host unreachable)"
    for item in chain:
        if isinstance(item, MCPError):
            return f"the MCP server answered with an error: {item}"[:300]
    for item in chain:
        if isinstance(item, httpx2.HTTPStatusError):
            return f"the MCP server answered HTTP {item.response.status_code}"
    for item in chain:
        if not isinstance(item, BaseExceptionGroup) and str(item):
            return f"the MCP server could not be used: {item}"[:300]
    return f"the MCP server could not be used ({type(exc).__name__})"


def _function(tool: Any) -> dict[str, Any]:
    schema = dict(tool.input_schema or {})
    schema.setdefault("type", "object")
    schema.setdefault("properties", {})
    return {"name": tool.name, "description": (tool.description or tool.title or "").strip(), "parameters": schema}


async def discover_async(url: str, headers: dict[str, str], *, timeout: float = DEFAULT_TIMEOUT) -> list[dict[str, Any]]:
    """``[{"name", "description", "parameters"}]`` of every tool the server lists, by name."""
    import httpx2
    import mcp_types
    from mcp.client.session import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    try:
        with anyio.fail_after(timeout):
            async with outbound.mcp_httpx_client_factory(headers=dict(headers), timeout=httpx2.Timeout(timeout)) as http:
                async with streamable_http_client(url, http_client=http) as streams:
                    async with ClientSession(streams[0], streams[1], read_timeout_seconds=timeout) as session:
                        await session.initialize()
                        tools, cursor = [], None
                        for _ in range(MAX_PAGES):
                            params = mcp_types.PaginatedRequestParams(cursor=cursor) if cursor else None
                            result = await session.list_tools(params=params)
                            tools.extend(result.tools)
                            cursor = result.next_cursor
                            if not cursor:
                                break
    except outbound.OutboundRefused:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure becomes a reason for the admin
        raise DiscoveryFailed(_reason(exc, timeout), field="url") from exc
    unique = {t.name: _function(t) for t in tools}
    return [unique[name] for name in sorted(unique)]


def discover(url: str, headers: dict[str, str], *, timeout: float = DEFAULT_TIMEOUT) -> list[dict[str, Any]]:
    """``discover_async`` from sync code (see the module docstring for event-loop threads)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return anyio.run(lambda: discover_async(url, headers, timeout=timeout))
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="mcp-discovery") as pool:
        return pool.submit(anyio.run, lambda: discover_async(url, headers, timeout=timeout)).result()
