"""A small real HTTP API on 127.0.0.1 for custom HTTP tools: it records every request and answers
what a test needs (JSON, text, an error status, a slow answer, a big body, a redirect).

- ``/orders/{id}``      JSON ``{"order_id", "status", "method", "query", "body"}`` (404 JSON for ``missing``)
- ``/echo``             JSON of the request itself: method, path, query, headers, body
- ``/text``             ``text/plain`` answer
- ``/status/{code}``    that status with a JSON error body
- ``/slow?seconds=S``   answers after S seconds
- ``/big?bytes=N``      N bytes of ``x`` (text/plain)
- ``/redirect``         302 to ``/orders/A-1`` (a guarded client must not follow it)

``requests`` holds ``{"method", "path", "query", "headers" (lower-case names), "body"}`` per request.

    with FakeHttpApi() as api:
        api.url("/orders/{order_id}")
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


class FakeHttpApi:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet test output
                pass

            def _answer(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
                if api._stopping.is_set():
                    return
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (extra or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nothing to answer

            def _json(self, status: int, data: Any) -> None:
                self._answer(status, json.dumps(data).encode(), "application/json")

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body: Any = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                record = {"method": self.command, "path": unquote(parts.path), "raw_path": parts.path, "query": query,
                          "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
                api.requests.append(record)
                path = parts.path
                if path.startswith("/orders/"):
                    order_id = unquote(path[len("/orders/"):])
                    if order_id == "missing":
                        self._json(404, {"error": "no such order"})
                    else:
                        self._json(200, {"order_id": order_id, "status": "shipped", "method": self.command,
                                         "query": query, "body": body})
                elif path == "/echo":
                    self._json(200, record)
                elif path == "/text":
                    self._answer(200, b"Open Monday to Friday, 9 to 5.", "text/plain; charset=utf-8")
                elif path.startswith("/status/"):
                    code = int(path[len("/status/"):])
                    self._json(code, {"error": f"status {code}", "detail": "the service says no"})
                elif path == "/slow":
                    api._stopping.wait(float(query.get("seconds", "5")))
                    self._json(200, {"slow": True})
                elif path == "/big":
                    self._answer(200, b"x" * int(query.get("bytes", "2000000")), "text/plain")
                elif path == "/redirect":
                    self._answer(302, b"", "text/plain", {"Location": "/orders/A-1"})
                else:
                    self._json(404, {"error": "not found"})

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        return Handler

    def start(self) -> "FakeHttpApi":
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="fake-http-api")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> "FakeHttpApi":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
