"""A customer's webhook receiver on 127.0.0.1: a real HTTP server that keeps every POST it gets
(headers, the exact body bytes, when it arrived) and answers what the test scripts.

``answer(n, received) -> int`` picks the status of the n-th request (0-based; default 204);
``fail_first(k)`` answers 500 to the first ``k``. Keep-alive and TCP_NODELAY as a real server
has them, so a sender reusing its connection is measured fairly (the benchmark uses it too).
Waiting never sleeps blind: ``wait_for`` blocks on a condition every request notifies.

Fixtures: ``receiver`` (one server per test) and ``webhook_env`` (loopback allowed through the
SSRF guard, short retries and timeout, the process's webhook loop running).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

RETRY_SCHEDULE = "0.3,0.3"  # two retries, 0.3 s apart: the retry tests finish in a second


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float  # time.time() when the body was in
    status: int  # what we answered

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")


class WebhookReceiver:
    def __init__(self, answer: Callable[[int, Received], int] | None = None) -> None:
        self.answer = answer or (lambda _n, _r: 204)
        self.received: list[Received] = []
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None

    def fail_first(self, count: int, status: int = 500) -> None:
        self.answer = lambda n, _r: status if n < count else 200

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    def url(self, path: str = "/hooks") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        """The first ``count`` requests, as soon as they are in; AssertionError at the deadline."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.received) >= count, timeout=timeout):
                raise AssertionError(f"{len(self.received)} of {count} webhook request(s) within {timeout} s: "
                                     f"{[r.headers.get('webhook-id') for r in self.received]}")
            return list(self.received[:count])

    def of_type(self, event_type: str) -> list[Received]:
        with self._changed:
            return [r for r in self.received if r.json.get("type") == event_type]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver._changed:
                    n = len(receiver.received)
                    seen = Received(self.path, headers, body, time.time(), 0)
                    status = receiver.answer(n, seen)
                    receiver.received.append(Received(self.path, headers, body, seen.at, status))
                    receiver._changed.notify_all()
                reply = b"" if status == 204 else json.dumps({"ok": 200 <= status < 300}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                if reply:
                    self.wfile.write(reply)

        return Handler

    def __enter__(self) -> WebhookReceiver:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@pytest.fixture()
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


@pytest.fixture()
def webhook_env(test_database, monkeypatch) -> Iterator[None]:
    """Loopback reachable, retries 0.3 s apart, a 2 s timeout, and the webhook loop running (the
    app's start-up starts it too; starting it is idempotent)."""
    from voice_platform.services import webhook_outbox
    from voice_platform.settings import reset_settings_cache

    for name, value in {"OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8", "WEBHOOK_RETRY_SCHEDULE": RETRY_SCHEDULE,
                        "WEBHOOK_TIMEOUT_SECONDS": "2"}.items():
        monkeypatch.setenv(name, value)
    reset_settings_cache()
    webhook_outbox.start_background()
    yield
    monkeypatch.undo()
    reset_settings_cache()
