"""One incoming call's trace as the webhook records it: two kinds with one interface.

The incoming-call webhook records a server span (``POST <route>``) and, once the call got that
far, a child span for opening its session (agent lookup, concurrency slot and insert). Both kinds
below offer the webhook the same methods (``status_code``, ``session_opening``,
``session_opened``, ``session_failed``, ``finish``), and neither lets telemetry fail the call:

- ``SdkWebhookTrace``: the SDK's own spans through its public API, for every exporter and
  processor (the public path);
- ``WebhookTrace``: one object of ids, times and values taken on the request, queued as is and
  written as OTLP on the export thread by our encoder (the fast path, ``fast_path``), because the
  SDK's spans cost the webhook a large share of its throughput (bench/RESULTS.md).
"""

from __future__ import annotations

import random
import time
from typing import Any, Protocol

from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from voice_platform.telemetry.failures import report_once

SESSION_SPAN = "calls.open_session"
_propagator = TraceContextTextMapPropagator()
_random_bits = random.getrandbits


class WebhookTraces(Protocol):
    """What ``setup`` installs to start a call's trace: a new one, or None when the sampler says no."""

    def webhook_trace(self, route: str): ...


# --- the public path ------------------------------------------------------------------------------

_ROOT = otel_context.Context()  # the call's trace starts at Twilio's request: no parent


class SdkWebhookTrace:
    """A call's trace as the SDK's spans, made and ended through its public API."""

    __slots__ = ("status_code", "_tracer", "_server", "_session", "_start")

    def __init__(self, tracer, server, start: int) -> None:
        self.status_code = 0
        self._tracer, self._server, self._session, self._start = tracer, server, None, start

    def session_opening(self) -> str | None:
        """The session's span starts; its W3C traceparent, which the session row keeps so the
        worker's spans join this trace (None if the span could not be made)."""
        try:
            self._session = self._tracer.start_span(SESSION_SPAN, context=set_span_in_context(self._server, _ROOT),
                                                    kind=SpanKind.INTERNAL)
            carrier: dict[str, str] = {}
            _propagator.inject(carrier, context=set_span_in_context(self._session, _ROOT))
            return carrier.get("traceparent")
        except Exception:  # noqa: BLE001 - telemetry never fails a call
            report_once("starting the session span")
            return None

    def session_opened(self, to: str, refusal: str | None) -> None:
        if self._session is None:
            return
        try:
            self._session.set_attributes({"call.to": to, "call.refusal": refusal or ""})
            self._session.end()
        except Exception:  # noqa: BLE001
            report_once("ending the session span")

    def session_failed(self, description: str) -> None:
        if self._session is None:
            return
        try:
            self._session.set_status(Status(StatusCode.ERROR, description))
            self._session.end()
        except Exception:  # noqa: BLE001
            report_once("ending the session span")

    def finish(self, status_code: int, result: str = "", error: str | None = None) -> float:
        """The server span ends (its export is queued); the call's latency in milliseconds."""
        end = time.time_ns()
        self.status_code = status_code
        try:
            if status_code:
                self._server.set_attribute("http.response.status_code", status_code)
            if result:
                self._server.set_attribute("call.result", result)
            if error is not None:
                self._server.set_status(Status(StatusCode.ERROR, error))
            self._server.end(end_time=end)
        except Exception:  # noqa: BLE001
            report_once("ending the webhook span")
        return (end - self._start) / 1e6


class SdkWebhookTraces:
    """Starts ``SdkWebhookTrace``s with ``tracer`` (the installed provider's)."""

    def __init__(self, tracer) -> None:
        self._tracer = tracer

    def webhook_trace(self, route: str) -> SdkWebhookTrace | None:
        start = time.time_ns()
        server = self._tracer.start_span("POST " + route, context=_ROOT, kind=SpanKind.SERVER, start_time=start,
                                         attributes={"http.request.method": "POST", "http.route": route})
        if not server.is_recording():
            return None
        return SdkWebhookTrace(self._tracer, server, start)


# --- the fast path's record -------------------------------------------------------------------------

class WebhookTrace:
    """A call's two spans as plain values, queued whole for ``otlp_encoder`` to write.

    ``sink`` supplies the spans' ``resource`` and ``scope`` and takes the finished trace
    (``fast_path``). Every object and dictionary made on the request counts here, hence the
    slots and the attribute sets built only on the export thread."""

    __slots__ = ("trace_id", "span_id", "session_id", "start_time", "session_start", "session_end", "end_time",
                 "route", "status_code", "result", "to", "refusal", "session_error", "error", "_sink")

    def __init__(self, sink, route: str, trace_id: int) -> None:
        self._sink, self.route, self.trace_id = sink, route, trace_id
        self.span_id = _random_bits(64) or 1
        self.start_time = time.time_ns()
        self.session_id = self.session_start = self.session_end = self.end_time = self.status_code = 0
        self.result = self.to = self.refusal = ""
        self.session_error: str | None = None
        self.error: str | None = None

    def session_opening(self) -> str:
        """The session's span starts; its W3C traceparent (sampled: an unsampled call has no trace)."""
        self.session_id = _random_bits(64) or 1
        self.session_start = time.time_ns()
        return f"00-{self.trace_id:032x}-{self.session_id:016x}-01"

    def session_opened(self, to: str, refusal: str | None) -> None:
        self.session_end = time.time_ns()
        self.to, self.refusal = to, refusal or ""

    def session_failed(self, description: str) -> None:
        self.session_end = time.time_ns()
        self.session_error = description

    def finish(self, status_code: int, result: str = "", error: str | None = None) -> float:
        """The server span ends and the trace is queued; the call's latency in milliseconds."""
        self.end_time = end = time.time_ns()
        self.status_code, self.result, self.error = status_code, result, error
        try:
            self._sink.finish(self)
        except Exception:  # noqa: BLE001 - telemetry never fails a call
            report_once("queueing the webhook trace")
        return (end - self.start_time) / 1e6

    # --- what the spans carry, read by the encoder on the export thread ----------------------------
    @property
    def name(self) -> str:
        return "POST " + self.route

    def attributes(self) -> dict[str, Any]:
        attributes: dict[str, Any] = {"http.request.method": "POST", "http.route": self.route}
        if self.status_code:
            attributes["http.response.status_code"] = self.status_code
        if self.result:
            attributes["call.result"] = self.result
        return attributes

    def session_attributes(self) -> dict[str, Any]:
        return {} if self.session_error is not None else {"call.to": self.to, "call.refusal": self.refusal}

    @property
    def resource(self):
        return self._sink.resource

    @property
    def instrumentation_scope(self):
        return self._sink.scope
