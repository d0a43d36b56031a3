"""One MCP client session per server per conversation, opened on the first call, closed at the end.

Why not LiveKit's ``MCPToolset``: it lists the server's tools when the agent starts, a network
round trip before Gemini's ``setup`` (our declarations come from the schemas stored at
registration, with each agent's switches applied), and its tools bypass our guard. What we
need from MCP is small: a session and ``call_tool``. That is the ``mcp`` SDK's own client over
streamable HTTP, through the SSRF guard's httpx client (``outbound.mcp_httpx_client_factory``).

The transport's async context managers (anyio task groups) must be entered and left by one
task, so a background task owns them: it connects, hands the ``ClientSession`` over, and waits
to be told to close. A broken session is dropped and the next call reconnects.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from voice_platform.services import outbound

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_SECONDS = 5.0


class McpConnection:
    def __init__(self, url: str, headers: dict[str, str], *, timeout: float) -> None:
        self._url, self._headers, self._timeout = url, dict(headers), timeout
        self._task: asyncio.Task | None = None
        self._ready: asyncio.Future | None = None
        self._closing: asyncio.Event | None = None
        self._lock = asyncio.Lock()

    async def session(self) -> Any:
        """The connected ``ClientSession`` (connecting now if needed). Raises what the connect raised."""
        async with self._lock:
            if self._task is None or self._task.done():
                loop = asyncio.get_running_loop()
                self._ready, self._closing = loop.create_future(), asyncio.Event()
                self._task = loop.create_task(self._run(self._ready, self._closing), name="mcp-session")
            ready = self._ready
        try:
            return await asyncio.shield(ready)
        except BaseException:
            connected = ready.done() and not ready.cancelled() and ready.exception() is None
            if not connected and self._ready is ready:
                await self.reset()  # a half-made or failed connection is not kept for the next call
            raise

    async def _run(self, ready: asyncio.Future, closing: asyncio.Event) -> None:
        import httpx2
        from mcp.client.session import ClientSession
        from mcp.client.streamable_http import streamable_http_client

        try:
            timeout = httpx2.Timeout(self._timeout, read=max(self._timeout, 300.0))
            async with outbound.mcp_httpx_client_factory(headers=self._headers, timeout=timeout) as http:
                async with streamable_http_client(self._url, http_client=http) as streams:
                    async with ClientSession(streams[0], streams[1], read_timeout_seconds=self._timeout) as client:
                        await client.initialize()
                        if not ready.done():
                            ready.set_result(client)
                        await closing.wait()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting call, or logged
            if not ready.done():
                if isinstance(exc, asyncio.CancelledError):
                    ready.cancel()
                else:
                    ready.set_exception(exc)
            elif not isinstance(exc, asyncio.CancelledError):
                log.warning("an MCP session ended with %s", type(exc).__name__)
            if isinstance(exc, asyncio.CancelledError):
                raise

    async def reset(self) -> None:
        """Close the session (if any); the next ``session()`` reconnects."""
        task, closing = self._task, self._closing
        self._task = None
        if task is None:
            return
        if closing is not None:
            closing.set()
        if not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), CLOSE_TIMEOUT_SECONDS)
            except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - closing is best effort
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: a failed connect is not reported again as "never retrieved"
        if self._ready is not None and self._ready.done() and not self._ready.cancelled():
            self._ready.exception()

    async def aclose(self) -> None:
        await self.reset()
