"""What the telemetry tests share: a clean slate between tests, a real OTLP/HTTP collector on
127.0.0.1, and SDK variants that behave like a future OpenTelemetry release (or a broken one)."""

from __future__ import annotations

import gzip
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.test.globals_test import reset_logging_globals, reset_metrics_globals, reset_trace_globals

from voice_platform import telemetry
from voice_platform.settings import Settings


def reset_telemetry() -> None:
    """Our state through the public ``shutdown``; OpenTelemetry's set-once globals through its test utils."""
    telemetry.shutdown()
    reset_trace_globals()
    reset_metrics_globals()
    reset_logging_globals()


def settings(**values) -> Settings:
    return Settings(_env_file=None, **values)


class Collector:
    """An OTLP/HTTP receiver answering the statuses it is told to, in turn (then 200), keeping
    every request's path, headers and (decompressed) body."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses, self.requests = list(statuses or []), []
        self._lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                with collector._lock:
                    collector.requests.append((self.path, dict(self.headers), body))
                    status = collector.statuses.pop(0) if collector.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = self.base + "/v1/traces"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def bodies(self) -> list[bytes]:
        with self._lock:
            return [body for _path, _headers, body in self.requests]

    def posted(self, path: str = "/v1/traces") -> list[tuple[dict, bytes]]:
        with self._lock:
            return [(headers, body) for p, headers, body in self.requests if p == path]

    def spans(self, path: str = "/v1/traces") -> list:
        """Every span received on ``path``, decoded with the official protobuf classes."""
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        spans = []
        for _headers, body in self.posted(path):
            request = ExportTraceServiceRequest.FromString(body)
            spans += [span for r in request.resource_spans for s in r.scope_spans for span in s.spans]
        return spans

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class RenamedBatchSpanProcessor(BatchSpanProcessor):
    """The SDK's batch processor as a later release may ship it: the same public behaviour, its
    private parts under another name (the fast path's queue is not where it looks)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._batcher = self.__dict__.pop("_batch_processor")

    @property
    def span_exporter(self):
        return self._batcher._exporter  # noqa: SLF001 - the variant's own

    def on_end(self, span) -> None:
        if span.context and span.context.trace_flags.sampled:
            self._batcher.emit(span)

    def shutdown(self):
        return self._batcher.shutdown()

    def force_flush(self, timeout_millis: int | None = None) -> bool:
        return self._batcher.force_flush(timeout_millis)


class _RaisingQueue:
    def __init__(self, inner) -> None:
        self._inner = inner

    def emit(self, _item) -> None:
        raise RuntimeError("queue broken")

    def __getattr__(self, name):
        return getattr(self._inner, name)


class BrokenBatchSpanProcessor(BatchSpanProcessor):
    """A batch processor whose every way in raises: the public ``on_end`` and the queue itself."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._batch_processor = _RaisingQueue(self._batch_processor)

    def on_end(self, span) -> None:
        raise RuntimeError("processor broken")
