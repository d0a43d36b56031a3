"""A fake Gemini text API on 127.0.0.1 for the post-call analysis: real HTTP, the REST wire format.

It answers ``POST /{version}/models/{model}:generateContent`` the way the Gemini API does,
``{"candidates": [{"content": {"parts": [{"text": "<json>"}], "role": "model"}, "finishReason": "STOP"}]}``,
so the real google-genai client, pointed here the standard way (``GOOGLE_GEMINI_BASE_URL``,
``environment()``), parses it as it would Google's.

Scripting, per test:
- ``reply``: a function of the request's JSON body giving the analysis object to send back
  (a ``str`` is sent as the text as it is, e.g. invalid JSON); the default (``typical_answer``)
  fills the request's own ``responseJsonSchema`` with typical values of each type;
- ``fail_first``: answer the next N requests with a 500 error;
- ``delay``: seconds to wait before answering (a timeout test).
``requests`` holds every request: ``{"path", "headers" (lower-case names), "body"}``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GENERATE = ":generateContent"


def typical_value(schema: dict[str, Any]) -> Any:
    """A value of the schema's type: the first choice of an enum, then by type (not null in an anyOf)."""
    if schema.get("anyOf"):
        return typical_value(next(s for s in schema["anyOf"] if s.get("type") != "null"))
    if schema.get("enum"):
        return schema["enum"][0]
    kinds = schema.get("type")
    kind = next((k for k in kinds if k != "null"), "null") if isinstance(kinds, list) else kinds
    if kind == "object":
        return {name: typical_value(sub) for name, sub in (schema.get("properties") or {}).items()}
    return {"string": "a value", "number": 1.5, "integer": 2, "boolean": True, "array": []}.get(kind)


def typical_answer(request: dict[str, Any]) -> dict[str, Any]:
    """An answer that follows the request's response schema, with a recognisable summary."""
    schema = request["generationConfig"]["responseJsonSchema"]
    answer = typical_value(schema)
    answer["summary"] = "The caller asked about parking.\nThe agent explained where to park."
    if "success" in answer:
        answer["success_reason"] = "The caller got the answer they wanted."
    return answer


class FakeGeminiText:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.reply: Callable[[dict[str, Any]], dict[str, Any] | str] = typical_answer
        self.fail_first = 0
        self.delay = 0.0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def environment(self) -> dict[str, str]:
        """What the app needs to reach this server through google-genai."""
        return {"GOOGLE_GEMINI_BASE_URL": self.base_url, "GOOGLE_API_KEY": "test-key-not-real"}

    def _answer_for(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        if not path.endswith(GENERATE) or "/models/" not in path:
            return 404, json.dumps({"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}}).encode()
        with self._lock:
            failing = self.fail_first > 0
            self.fail_first -= 1 if failing else 0
        if failing:
            return 500, json.dumps({"error": {"code": 500, "message": "scripted failure", "status": "INTERNAL"}}).encode()
        answer = self.reply(body)
        text = answer if isinstance(answer, str) else json.dumps(answer)
        return 200, json.dumps({
            "candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 10, "totalTokenCount": 20},
            "modelVersion": path.rsplit("/", 1)[-1].removesuffix(GENERATE),
        }).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw) if raw else {}
                path = self.path.split("?", 1)[0]
                fake.requests.append({"path": path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                      "body": body})
                if fake.delay and fake._stopping.wait(fake.delay):
                    self.close_connection = True  # stopped while waiting: hang up, the client must not wait on
                    return
                status, payload = fake._answer_for(path, body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting

        return Handler

    def __enter__(self) -> "FakeGeminiText":
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="fake-gemini-text", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
