"""A real MCP server (the ``mcp`` SDK's own ``MCPServer``) over streamable HTTP on 127.0.0.1.

For custom-tool tests: registration lists its tools, a refresh sees tools added, removed or
changed with ``add_tool`` / ``remove_tool``, and calls reach ``lookup_order`` / ``check_stock``.
Every HTTP request's headers are recorded (``requests``), so a test can prove a secret header
arrived; every tool call is recorded in ``calls``. Runs uvicorn in a thread of the test process.

    with FakeMcpServer() as mcp:
        mcp.url  # http://127.0.0.1:PORT/mcp
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Callable

import uvicorn
from mcp.server.mcpserver import MCPServer

ORDERS = {"A-1": {"order_id": "A-1", "status": "shipped", "eta": "2026-12-12"},
          "B-2": {"order_id": "B-2", "status": "processing", "eta": None}}
STOCK = {"SKU-1": 12, "SKU-2": 0}


class FakeMcpServer:
    def __init__(self, *, name: str = "Fake shop", path: str = "/mcp") -> None:
        self.server = MCPServer(name, warn_on_duplicate_tools=False)
        self.path = path
        self.requests: list[dict[str, Any]] = []  # {"method", "path", "headers"}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._uvicorn: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.add_tool(self._lookup_order, name="lookup_order",
                      description="Look up an order by its number and say where it is.")
        self.add_tool(self._check_stock, name="check_stock", description="How many of a product are in stock.")

    # -- the shop's tools ------------------------------------------------------------------
    def _lookup_order(self, order_id: str) -> dict[str, Any]:
        self.calls.append(("lookup_order", {"order_id": order_id}))
        if order_id not in ORDERS:
            raise ValueError(f"No order {order_id}")
        return ORDERS[order_id]

    def _check_stock(self, sku: str) -> dict[str, Any]:
        self.calls.append(("check_stock", {"sku": sku}))
        return {"sku": sku, "in_stock": STOCK.get(sku, 0)}

    # -- changing the offer (refresh tests) ------------------------------------------------
    def add_tool(self, fn: Callable[..., Any], *, name: str | None = None, description: str | None = None) -> None:
        self.server.add_tool(fn, name=name, description=description)

    def remove_tool(self, name: str) -> None:
        self.server.remove_tool(name)

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def _app(self):
        inner = self.server.streamable_http_app(streamable_http_path=self.path)
        requests = self.requests

        async def recording(scope, receive, send):
            if scope["type"] == "http":
                requests.append({"method": scope["method"], "path": scope["path"],
                                 "headers": {k.decode().lower(): v.decode() for k, v in scope["headers"]}})
            await inner(scope, receive, send)

        return recording

    def start(self) -> "FakeMcpServer":
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self._app(), log_level="warning", lifespan="on")
        self._uvicorn = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._uvicorn.run, kwargs={"sockets": [sock]}, daemon=True,
                                        name="fake-mcp-server")
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._uvicorn.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake MCP server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> "FakeMcpServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
