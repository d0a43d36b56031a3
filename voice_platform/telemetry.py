"""OpenTelemetry for the web process and the worker: one setup, the standard ``OTEL_*`` variables.

Off unless asked for: with no exporter configured (the embedded setup) nothing is installed and
every span below is OpenTelemetry's no-op, so the code paths cost nearly nothing. It is on when
``OTEL_SDK_DISABLED`` is not ``true`` and an exporter is named: ``OTEL_EXPORTER_OTLP_ENDPOINT``
(then traces, metrics and logs go there over ``OTEL_EXPORTER_OTLP_PROTOCOL``: ``http/protobuf``,
the specification's default, or ``grpc``) or ``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER``
/ ``OTEL_LOGS_EXPORTER`` = ``otlp`` | ``console`` | ``none``. Exports run on background threads
with ``OTEL_EXPORTER_OTLP_TIMEOUT``: a collector that is down delays no request.

One phone call is one trace: the incoming webhook's span context is stored on the call session
(``trace_context``, a W3C traceparent) and the worker's job continues it (``continue_trace``);
LiveKit Agents' own spans join through ``livekit.agents.telemetry.set_tracer_provider`` (with
its PII filter on: no conversation content leaves the process).

Never on a span, metric or log: secrets, tokens, passwords, full phone numbers (``mask_number``).
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from bisect import bisect_left
from contextlib import contextmanager
from functools import lru_cache
from dataclasses import dataclass
from typing import Any, Iterator

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from voice_platform.settings import Settings, get_settings

log = logging.getLogger(__name__)
TRACER_NAME = "voice_platform"
_propagator = TraceContextTextMapPropagator()
_installed: "Installed | None" = None


@lru_cache(maxsize=4096)
def mask_number(number: str | None) -> str:
    """A phone number as telemetry may carry it: its last 4 digits (cached: the webhook masks the
    dialed number, one of the platform's own, on every call)."""
    digits = "".join(ch for ch in (number or "") if ch.isdigit())
    return "***" + digits[-4:] if digits else ""


def installed() -> "Installed | None":
    return _installed


_tracer: trace.Tracer | None = None


def tracer() -> trace.Tracer:
    """Our tracer, made once (OpenTelemetry's ``get_tracer`` builds a new one on every call, a
    third of a traced webhook's cost in bench_webhook_tracing); a proxy until ``setup`` runs."""
    global _tracer
    if _tracer is None:
        _tracer = trace.get_tracer(TRACER_NAME)
    return _tracer


def meter() -> metrics.Meter:
    return metrics.get_meter(TRACER_NAME)


# --- setup ------------------------------------------------------------------------------------

@dataclass
class Installed:
    role: str
    tracer_provider: Any
    meter_provider: Any
    logger_provider: Any | None

    def shutdown(self) -> None:
        for provider in (self.tracer_provider, self.meter_provider, self.logger_provider):
            if provider is not None:
                try:
                    provider.shutdown()
                except Exception:  # noqa: BLE001 - shutting down is best effort
                    log.debug("telemetry provider did not shut down cleanly", exc_info=True)


def _exporter_for(kind: str, settings: Settings) -> str:
    """``otlp`` | ``console`` | ``none`` for traces/metrics/logs, from the settings."""
    named = {"traces": settings.otel_traces_exporter, "metrics": settings.otel_metrics_exporter,
             "logs": settings.otel_logs_exporter}[kind]
    if named:
        return named.split(",")[0].strip().lower()
    return "otlp" if settings.otel_exporter_otlp_endpoint else "none"


def enabled(settings: Settings | None = None) -> bool:
    settings = settings or get_settings()
    if settings.otel_sdk_disabled:
        return False
    return any(_exporter_for(kind, settings) != "none" for kind in ("traces", "metrics", "logs"))


def _headers(settings: Settings) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in (settings.otel_exporter_otlp_headers or "").split(",") if "=" in item)
    return {k.strip(): v.strip() for k, v in pairs}


def _otlp(kind: str, settings: Settings):
    protocol = (settings.otel_exporter_otlp_protocol or "http/protobuf").lower()
    endpoint = (settings.otel_exporter_otlp_endpoint or "http://localhost:4318").rstrip("/")
    timeout = settings.otel_exporter_otlp_timeout / 1000
    headers = _headers(settings)
    if protocol == "grpc":
        if kind == "traces":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Exporter
        elif kind == "metrics":
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as Exporter
        else:
            from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as Exporter
        return Exporter(endpoint=endpoint, headers=headers, timeout=timeout,
                        insecure=endpoint.startswith("http://"))
    if protocol != "http/protobuf":
        raise ValueError(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported: use http/protobuf or grpc")
    if kind == "traces":  # spans: our encoder, a third of OpenTelemetry's cost per span (voice_platform.otlp)
        from voice_platform.otlp import SpanExporter

        return SpanExporter(f"{endpoint}/v1/traces", headers=headers, timeout=timeout)
    if kind == "metrics":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as Exporter
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as Exporter
    # The specification: with the generic endpoint, each signal goes to <endpoint>/v1/<signal>.
    return Exporter(endpoint=f"{endpoint}/v1/{kind}", headers=headers, timeout=timeout)


def setup(role: str, *, settings: Settings | None = None, span_exporter=None, metric_reader=None) -> Installed | None:
    """Install the providers for ``role`` (``web`` or ``worker``) once per process.

    ``span_exporter`` / ``metric_reader``: tests pass in-memory ones (and get telemetry on
    whatever the settings say)."""
    global _installed
    settings = settings or get_settings()
    if _installed is not None:
        return _installed
    if span_exporter is None and metric_reader is None and not enabled(settings):
        return None
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor

    name = settings.otel_service_name or f"voice-platform-{role}"
    resource = Resource.create({"service.name": name, "service.namespace": "voice-platform",
                                "deployment.environment.name": settings.environment, "voice_platform.role": role})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(Scrub())
    batch = None
    if span_exporter is not None:
        tracer_provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    elif (kind := _exporter_for("traces", settings)) != "none":
        exporter = ConsoleSpanExporter() if kind == "console" else _otlp("traces", settings)
        # Counted in queue items: an SDK span, or a webhook call's two (a WebhookTrace). A queue
        # 8x the default: at a burst of calls the export thread falls behind for a moment, and a
        # full queue drops spans and logs a warning for each. Batches of 2048 items (about 4,096
        # spans, 700 KiB of OTLP): the post's own cost is shared by 2,048 calls (bench_webhook_tracing).
        batch = BatchSpanProcessor(exporter, max_queue_size=16384, max_export_batch_size=2048)
        tracer_provider.add_span_processor(batch)
    global _traces
    _traces = _TraceSink(tracer_provider, batch)
    readers = [metric_reader] if metric_reader is not None else []
    if metric_reader is None and (kind := _exporter_for("metrics", settings)) != "none":
        exporter = ConsoleMetricExporter() if kind == "console" else _otlp("metrics", settings)
        _hot[:] = [HotHistogram(*WEBHOOK_LATENCY)]
        readers.append(_reader_exporting_always()(_with_hot_histograms(exporter, resource, _hot),
                                                  export_interval_millis=settings.otel_metric_export_interval))
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    logger_provider = _setup_logs(settings, resource) if span_exporter is None else None
    _installed = Installed(role, tracer_provider, meter_provider, logger_provider)
    if role == "worker":
        join_livekit(tracer_provider)
    log.info("telemetry on for %s (traces: %s, metrics: %s, logs: %s)", name, _exporter_for("traces", settings),
             _exporter_for("metrics", settings), _exporter_for("logs", settings))
    return _installed


class Scrub(SpanProcessor):
    """Span processor that cleans what frameworks put on spans before any exporter sees them:
    FastAPI records the raw path and query, and ours carry invitation tokens in paths, signed
    links and OAuth codes in queries. Path segments that look like tokens or phone numbers are
    masked, query values dropped, and any E.164 number in a string attribute cut to its last 4."""

    def on_start(self, span, parent_context=None) -> None:
        attributes = getattr(span, "attributes", None) or {}
        for key, value in list(attributes.items()):
            if not isinstance(value, str):
                continue
            if key == "url.query":
                span.set_attribute(key, "&".join(part.split("=", 1)[0] + "=" for part in value.split("&") if part))
            elif key in ("url.path", "url.full", "http.target"):
                span.set_attribute(key, scrub_path(value))
            elif _NUMBER.search(value):
                span.set_attribute(key, _NUMBER.sub(lambda m: mask_number(m.group(0)), value))

    def on_end(self, span) -> None:
        return None

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


_NUMBER = re.compile(r"\+?\d{7,15}")
_TOKENISH = re.compile(r"^[A-Za-z0-9_\-~.%]{20,}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def scrub_path(path: str) -> str:
    """``/api/v1/invitations/<token>`` -> ``/api/v1/invitations/:redacted`` (ids stay: they are not secrets)."""
    parts = []
    for segment in path.split("?")[0].split("/"):
        if _UUID.match(segment):
            parts.append(segment)
        elif _TOKENISH.match(segment):
            parts.append(":redacted")
        elif _NUMBER.fullmatch(segment.replace("%2B", "+")):
            parts.append(mask_number(segment))
        else:
            parts.append(segment)
    return "/".join(parts)


def _setup_logs(settings: Settings, resource):
    kind = _exporter_for("logs", settings)
    if kind == "none":
        return None
    from opentelemetry._logs import set_logger_provider
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, ConsoleLogExporter

    provider = LoggerProvider(resource=resource)
    exporter = ConsoleLogExporter() if kind == "console" else _otlp("logs", settings)
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    set_logger_provider(provider)
    handler = LoggingHandler(level=logging.INFO, logger_provider=provider)
    handler.addFilter(lambda record: not record.name.startswith("opentelemetry"))  # no export loops
    logging.getLogger().addHandler(handler)
    return provider


def join_livekit(tracer_provider) -> None:
    """LiveKit Agents' spans (session, turns, model, function tools) go to our provider, with
    conversation content withheld (``allow_pii=False``)."""
    try:
        from livekit.agents.telemetry import set_tracer_provider
    except ImportError:  # the web process does not need livekit
        return
    set_tracer_provider(tracer_provider, allow_pii=False)


def shutdown() -> None:
    global _installed, _traces
    if _installed is not None:
        _installed.shutdown()
        _installed = None
    _traces = None


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


# --- a call's one trace -------------------------------------------------------------------------

def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, to store with the call session."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")


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


# --- metrics ------------------------------------------------------------------------------------

class _Instruments:
    """Created on first use, from whichever meter provider is installed by then."""

    def __init__(self) -> None:
        m = meter()
        self.calls_started = m.create_counter("calls.started", unit="{call}", description="Calls answered by a worker")
        self.calls_ended = m.create_counter("calls.ended", unit="{call}", description="Calls ended, by outcome")
        self.call_setup = m.create_histogram("call.setup_time", unit="ms",
                                             description="Webhook start to the greeting being sent")
        self.call_duration = m.create_histogram("call.duration", unit="s", description="Length of ended calls")
        self.tool_calls = m.create_counter("tool.calls", unit="{call}", description="Tool calls by tool, function, outcome")
        self.tool_latency = m.create_histogram("tool.latency", unit="ms", description="Tool call latency")
        # Exported through the reader setup installed (WithHotHistograms); with a reader given by
        # a caller (tests' in-memory ones), the SDK's histogram.
        self.webhook_latency = _hot[0] if _hot else m.create_histogram(
            WEBHOOK_LATENCY[0], unit=WEBHOOK_LATENCY[1], description=WEBHOOK_LATENCY[2])


class HotHistogram:
    """A histogram for a hot path, aggregated here: per attribute set, the bucket counts, sum, min
    and max (a bisect and a few additions under an uncontended lock per sample). It reaches the
    exporter as an OTLP histogram through ``WithHotHistograms``, the metric exporter's wrapper
    ``setup`` installs. The SDK's own ``record`` (attribute cleaning and hashing, view matching,
    exemplar filter, locks: 6 µs) cost the incoming-call webhook a tenth of its throughput on its
    own (bench_webhook_tracing)."""

    BOUNDS = (0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0, 10000.0)

    def __init__(self, name: str, unit: str, description: str) -> None:
        self.name, self.unit, self.description = name, unit, description
        self._lock = threading.Lock()
        self._points: dict[tuple, list] = {}  # attributes -> [bucket counts, count, sum, min, max]
        self._start = self._since = time.time_ns()

    def record(self, value: float, attributes: dict[str, Any]) -> None:
        key = tuple(attributes.items())
        bucket = bisect_left(self.BOUNDS, value)
        with self._lock:
            point = self._points.get(key)
            if point is None:
                point = self._points[key] = [[0] * (len(self.BOUNDS) + 1), 0, 0.0, value, value]
            point[0][bucket] += 1
            point[1] += 1
            point[2] += value
            if value < point[3]:
                point[3] = value
            if value > point[4]:
                point[4] = value

    def metric(self, delta: bool):
        """The SDK's ``Metric`` for what was recorded (since the last delta export, or ever), or None."""
        from opentelemetry.sdk.metrics.export import (
            AggregationTemporality, Histogram, HistogramDataPoint, Metric,
        )

        now = time.time_ns()
        with self._lock:
            points, start = self._points, (self._since if delta else self._start)
            if delta:
                self._points, self._since = {}, now
            else:
                points = {key: [list(p[0]), *p[1:]] for key, p in points.items()}
        if not points:
            return None
        data = [HistogramDataPoint(attributes=dict(key), start_time_unix_nano=start, time_unix_nano=now,
                                   count=count, sum=total, bucket_counts=buckets, explicit_bounds=self.BOUNDS,
                                   min=low, max=high)
                for key, (buckets, count, total, low, high) in points.items()]
        temporality = AggregationTemporality.DELTA if delta else AggregationTemporality.CUMULATIVE
        return Metric(name=self.name, description=self.description, unit=self.unit,
                      data=Histogram(data_points=data, aggregation_temporality=temporality))


def _with_hot_histograms(exporter, resource, histograms: list[HotHistogram]):
    """``exporter`` whose every export also carries ``histograms`` (in our scope, in the
    temporality the exporter asks histograms in)."""
    from opentelemetry.sdk.metrics import Histogram as SdkHistogram
    from opentelemetry.sdk.metrics.export import (
        AggregationTemporality, MetricExporter, MetricExportResult, MetricsData, ResourceMetrics, ScopeMetrics,
    )
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

    class WithHotHistograms(MetricExporter):
        def __init__(self) -> None:
            super().__init__(preferred_temporality=exporter._preferred_temporality,  # noqa: SLF001 - passed on as is
                             preferred_aggregation=exporter._preferred_aggregation)  # noqa: SLF001
            self.inner = exporter
            self._delta = exporter._preferred_temporality.get(SdkHistogram) == AggregationTemporality.DELTA  # noqa: SLF001

        def export(self, metrics_data, timeout_millis: float = 10_000, **kwargs) -> MetricExportResult:
            ours = [m for m in (h.metric(self._delta) for h in histograms) if m is not None]
            if ours:
                metrics_data = _added(metrics_data, ours)
            elif metrics_data is None or not metrics_data.resource_metrics:
                return MetricExportResult.SUCCESS  # nothing at all to send
            return self.inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs)

        def force_flush(self, timeout_millis: float = 10_000) -> bool:
            return self.inner.force_flush(timeout_millis)

        def shutdown(self, timeout_millis: float = 30_000, **kwargs) -> None:
            self.inner.shutdown(timeout_millis=timeout_millis, **kwargs)

    def _added(data, ours):
        resources = list(data.resource_metrics) if data is not None else []
        for i, rm in enumerate(resources):
            if rm.resource is resource or rm.resource == resource:
                scopes = list(rm.scope_metrics)
                for j, sm in enumerate(scopes):
                    if sm.scope.name == TRACER_NAME:
                        scopes[j] = ScopeMetrics(scope=sm.scope, metrics=[*sm.metrics, *ours], schema_url=sm.schema_url)
                        break
                else:
                    scopes.append(ScopeMetrics(scope=InstrumentationScope(TRACER_NAME), metrics=ours, schema_url=""))
                resources[i] = ResourceMetrics(resource=rm.resource, scope_metrics=scopes, schema_url=rm.schema_url)
                break
        else:
            resources.append(ResourceMetrics(resource=resource, schema_url="", scope_metrics=[
                ScopeMetrics(scope=InstrumentationScope(TRACER_NAME), metrics=ours, schema_url="")]))
        return MetricsData(resource_metrics=resources)

    return WithHotHistograms()


def _reader_exporting_always():
    """The SDK's periodic reader, except that it exports when the SDK's instruments have nothing
    (it skips the exporter then): the hot histograms may have (a web process that only took calls)."""
    from opentelemetry.sdk.metrics.export import MetricsData, PeriodicExportingMetricReader

    class Reader(PeriodicExportingMetricReader):
        def collect(self, timeout_millis: float = 10_000) -> None:
            self._received = False
            super().collect(timeout_millis)
            if not self._received and self._collect is not None:  # noqa: SLF001 - registered on a provider
                self._receive_metrics(MetricsData(resource_metrics=[]), timeout_millis=timeout_millis)

        def _receive_metrics(self, metrics_data, timeout_millis: float = 10_000, **kwargs) -> None:
            self._received = True
            super()._receive_metrics(metrics_data, timeout_millis=timeout_millis, **kwargs)

    return Reader


WEBHOOK_LATENCY = ("webhook.latency", "ms", "Incoming-call webhook latency, by result")
_hot: list[HotHistogram] = []  # the hot histograms of the installed setup (exported by its wrapper)


_instruments: _Instruments | None = None


def instruments() -> _Instruments:
    global _instruments
    if _instruments is None:
        _instruments = _Instruments()
    return _instruments


def reset_for_tests() -> None:
    """Forget the installed providers and instruments (tests install in-memory ones)."""
    global _installed, _instruments, _tracer, _traces
    _installed, _instruments, _tracer, _traces = None, None, None, None
    _hot.clear()
    trace._TRACER_PROVIDER_SET_ONCE._done = False  # noqa: SLF001 - OpenTelemetry has no public reset
    trace._TRACER_PROVIDER = None  # noqa: SLF001
    metrics._internal._METER_PROVIDER_SET_ONCE._done = False  # noqa: SLF001
    metrics._internal._METER_PROVIDER = None  # noqa: SLF001


def elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


# --- spans of the hot path ------------------------------------------------------------------------

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_UNSET = Status(StatusCode.UNSET)


class WebhookTrace:
    """One incoming call's trace as the webhook records it: the server span (``POST <route>``)
    and, once the call got that far, the child span of its session (agent lookup, concurrency
    slot and insert), as one object of ids, times and values taken on the request. The spans are
    built from it on the export thread: by our OTLP encoder (``otlp``), or as the SDK's
    ``ReadableSpan``s for any other exporter (``readable``). The SDK's spans made tracing cost the
    webhook half its throughput, and two spans of our own a tenth (bench_webhook_tracing): each
    object and dictionary made on every call counts. Its attributes are the webhook's own (masked
    number, route, result)."""

    __slots__ = ("trace_id", "span_id", "session_id", "start_time", "session_start", "session_end", "end_time",
                 "route", "status_code", "result", "to", "refusal", "session_error", "error", "_sink")

    def __init__(self, sink: "_TraceSink", route: str, trace_id: int) -> None:
        self._sink, self.route, self.trace_id = sink, route, trace_id
        self.span_id = _random_bits(64) or 1
        self.start_time = time.time_ns()
        self.session_id = self.session_start = self.session_end = self.end_time = self.status_code = 0
        self.result = self.to = self.refusal = ""
        self.session_error: str | None = None
        self.error: str | None = None

    def session_opening(self) -> str:
        """The session's span starts; its W3C traceparent, which the session row keeps so the
        worker's spans join this trace (sampled: an unsampled call records nothing)."""
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
        """The server span ends and the trace leaves; the call's latency in milliseconds."""
        self.end_time = end = time.time_ns()
        self.status_code, self.result, self.error = status_code, result, error
        self._sink.finish(self)
        return (end - self.start_time) / 1e6

    # --- what the spans carry (the encoder's and ``readable``'s, one definition) ------------------
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

    def readable(self) -> list[ReadableSpan]:
        """The SDK's own spans for it, as they would have ended (the session's first), for
        processors and exporters other than ours."""
        sink, server = self._sink, SpanContext(self.trace_id, self.span_id, is_remote=False, trace_flags=_SAMPLED)
        spans = []
        if self.session_id:
            spans.append(ReadableSpan(
                name=SESSION_SPAN, context=SpanContext(self.trace_id, self.session_id, is_remote=False,
                                                       trace_flags=_SAMPLED),
                parent=server, resource=sink.resource, attributes=self.session_attributes(), kind=SpanKind.INTERNAL,
                status=_status(self.session_error), start_time=self.session_start, end_time=self.session_end,
                instrumentation_scope=sink.scope))
        spans.append(ReadableSpan(
            name=self.name, context=server, parent=None, resource=sink.resource, attributes=self.attributes(),
            kind=SpanKind.SERVER, status=_status(self.error), start_time=self.start_time, end_time=self.end_time,
            instrumentation_scope=sink.scope))
        return spans


SESSION_SPAN = "calls.open_session"


def _status(error: str | None) -> Status:
    return _UNSET if error is None else Status(StatusCode.ERROR, error)


_random_bits = random.getrandbits


class _TraceSink:
    """Where ``WebhookTrace``s go: with our OTLP exporter behind the batch processor (what the
    http/protobuf setting installs), straight into that processor's queue, encoded on its thread
    (``voice_platform.otlp``); otherwise, as the SDK's ``ReadableSpan``s, through every span
    processor (console, gRPC, tests' in-memory exporters)."""

    def __init__(self, provider, batch) -> None:
        from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

        from voice_platform.otlp import SpanExporter as Ours

        self.resource = provider.resource
        self.scope = InstrumentationScope(TRACER_NAME)
        self.sampler = provider.sampler
        # The default sampler (parent-based, always on) samples every root span: not asked per call.
        self.sample_all = self.sampler is ALWAYS_ON or (
            isinstance(self.sampler, ParentBased) and getattr(self.sampler, "_root", None) is ALWAYS_ON)
        direct = batch is not None and isinstance(getattr(batch, "span_exporter", None), Ours)
        # BatchSpanProcessor.on_end is "if sampled: queue it"; a WebhookTrace is sampled (or not
        # made), so it is queued directly, without building a SpanContext for that check.
        queue = getattr(getattr(batch, "_batch_processor", None), "emit", None)  # noqa: SLF001
        self._on_end = (queue or batch.on_end) if direct else None
        self._processors = provider._active_span_processor  # noqa: SLF001 - every processor, as the SDK's spans reach them

    def finish(self, trace_: WebhookTrace) -> None:
        if self._on_end is not None:
            self._on_end(trace_)
        else:
            for span in trace_.readable():
                self._processors.on_end(span)

    def webhook_trace(self, route: str) -> WebhookTrace | None:
        trace_id = _random_bits(128) or 1
        if not self.sample_all and not self.sampler.should_sample(
                None, trace_id, "POST " + route, SpanKind.SERVER,
                {"http.request.method": "POST", "http.route": route}).decision.is_sampled():
            return None
        return WebhookTrace(self, route, trace_id)


_traces: _TraceSink | None = None


def webhook_trace(route: str) -> WebhookTrace | None:
    """A new trace for an incoming call to ``route``, or None when telemetry is off or the sampler says no."""
    return None if _traces is None else _traces.webhook_trace(route)
