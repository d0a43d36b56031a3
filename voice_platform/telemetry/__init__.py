"""OpenTelemetry for the web process and the worker: one setup, the standard ``OTEL_*`` variables.

Off unless asked for: with no exporter configured (the embedded setup) nothing is installed and
every span below is OpenTelemetry's no-op, so the code paths cost nearly nothing. It is on when
``OTEL_SDK_DISABLED`` is not ``true`` and an exporter is named: ``OTEL_EXPORTER_OTLP_ENDPOINT``
(then traces, metrics and logs go there over ``OTEL_EXPORTER_OTLP_PROTOCOL``: ``http/protobuf``,
the specification's default, or ``grpc``) or ``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER``
/ ``OTEL_LOGS_EXPORTER`` = ``otlp`` | ``console`` | ``none``. The official OTLP exporters read
the rest of the standard variables themselves (``exporters``).

One phone call is one trace: the incoming webhook's span context is stored on the call session
(``trace_context``, a W3C traceparent) and the worker's job continues it (``continue_trace``);
LiveKit Agents' own spans join through ``livekit.agents.telemetry.set_tracer_provider`` (with
its PII filter on: no conversation content leaves the process).

Never on a span, metric or log: secrets, tokens, passwords, full phone numbers (``mask_number``).
Telemetry never fails or delays a call: what goes wrong in it is logged once (``failures``).

This module is the package's public face; the pieces live in ``providers`` (setup),
``exporters``, ``metrics``, ``scrub``, ``webhook_spans``, ``otlp_encoder`` and ``fast_path`` (the
one place that touches OpenTelemetry's private internals, with the public API as its fallback).
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from typing import Any, Iterator

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from voice_platform.settings import Settings, get_settings
from voice_platform.telemetry import exporters, failures, providers
from voice_platform.telemetry import metrics as _metrics
from voice_platform.telemetry.metrics import TRACER_NAME, instruments, meter, record_webhook_latency
from voice_platform.telemetry.providers import Installed, join_livekit
from voice_platform.telemetry.scrub import Scrub, mask_number, scrub_path
from voice_platform.telemetry.webhook_spans import SESSION_SPAN, SdkWebhookTrace, WebhookTrace

__all__ = [
    "LOG_FORMAT", "SESSION_SPAN", "TRACER_NAME", "Installed", "Scrub", "SdkWebhookTrace", "TraceIds", "WebhookTrace",
    "continue_trace", "elapsed_ms", "enabled", "install_log_ids", "installed", "instruments", "join_livekit",
    "mask_number", "meter", "record_webhook_latency", "scrub_path", "setup", "shutdown", "tracer", "traceparent_of",
    "webhook_trace",
]

log = logging.getLogger(__name__)
_propagator = TraceContextTextMapPropagator()
_installed: Installed | None = None
_tracer: trace.Tracer | None = None


def installed() -> Installed | None:
    return _installed


def enabled(settings: Settings | None = None) -> bool:
    return exporters.enabled(settings or get_settings())


def setup(role: str, *, settings: Settings | None = None, span_exporter=None, metric_reader=None) -> Installed | None:
    """Install the providers for ``role`` (``web`` or ``worker``) once per process; None when off.

    ``span_exporter`` / ``metric_reader``: tests pass in-memory ones (and get telemetry on
    whatever the settings say)."""
    global _installed
    if _installed is not None:
        return _installed
    settings = settings or get_settings()
    if span_exporter is None and metric_reader is None and not exporters.enabled(settings):
        return None
    _installed = providers.install(role, settings, span_exporter=span_exporter, metric_reader=metric_reader)
    if role == "worker":
        join_livekit(_installed.tracer_provider)
    log.info("telemetry on for %s (traces: %s%s, metrics: %s, logs: %s)", role, exporters.kind("traces", settings),
             " with the fast path" if _installed.fast_path else "", exporters.kind("metrics", settings),
             exporters.kind("logs", settings))
    return _installed


def shutdown() -> None:
    """Flush and stop what ``setup`` installed, and forget it all (instruments, tracer, reported
    failures), so a later ``setup`` starts afresh. OpenTelemetry's own globals stay set: the API
    allows setting them once per process (tests reset them with opentelemetry-test-utils)."""
    global _installed, _tracer
    if _installed is not None:
        _installed.shutdown()
    _installed, _tracer = None, None
    _metrics.forget()
    failures.forget()


def tracer() -> trace.Tracer:
    """Our tracer, made once (OpenTelemetry's ``get_tracer`` builds a new one on every call); a
    proxy until ``setup`` runs."""
    global _tracer
    if _tracer is None:
        _tracer = trace.get_tracer(TRACER_NAME)
    return _tracer


def webhook_trace(route: str) -> WebhookTrace | SdkWebhookTrace | None:
    """A new trace for an incoming call to ``route``, or None when telemetry is off, the sampler
    says no, or the trace could not be started (logged once)."""
    if _installed is None:
        return None
    try:
        return _installed.webhook_traces.webhook_trace(route)
    except Exception:  # noqa: BLE001 - telemetry never fails a call
        failures.report_once("starting the webhook trace")
        return None


def elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


@contextmanager
def continue_trace(traceparent: str | None, name: str, **attributes: Any) -> Iterator[trace.Span]:
    """A span that continues the trace ``traceparent`` came from (the webhook's), made current."""
    parent = _propagator.extract({"traceparent": traceparent}) if traceparent else None
    token = otel_context.attach(parent) if parent is not None else None
    try:
        with tracer().start_as_current_span(name, attributes=attributes) as span:
            yield span
    finally:
        if token is not None:
            otel_context.detach(token)


def traceparent_of(span: trace.Span) -> str | None:
    """The W3C traceparent of ``span`` (what a call session keeps so the worker's spans join its
    trace); None when it is not recorded (telemetry off, not sampled)."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier, context=trace.set_span_in_context(span))
    return carrier.get("traceparent")


# --- logs carry the trace -----------------------------------------------------------------------

class TraceIds(logging.Filter):
    """Puts ``trace_id`` and ``span_id`` on every log record (empty outside a span)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        record.trace_id = format(context.trace_id, "032x") if context.is_valid else ""
        record.span_id = format(context.span_id, "016x") if context.is_valid else ""
        return True


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [trace=%(trace_id)s span=%(span_id)s] %(message)s"


def install_log_ids(handler: logging.Handler | None = None) -> None:
    """Every handler of the root logger (or ``handler``) stamps and prints the trace ids."""
    handlers = [handler] if handler is not None else logging.getLogger().handlers
    for h in handlers:
        if not any(isinstance(f, TraceIds) for f in h.filters):
            h.addFilter(TraceIds())
            h.setFormatter(logging.Formatter(LOG_FORMAT))
