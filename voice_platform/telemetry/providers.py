"""The providers for one process (``web`` or ``worker``), installed from the settings, once.

Exports run on background threads (the SDK's batch processors and periodic reader), so a
collector that is down delays no request. Traces take one of two paths, chosen here at setup:

- public: the SDK's ``BatchSpanProcessor`` in front of OpenTelemetry's own OTLP exporter
  (``exporters.official``), the webhook's trace as the SDK's spans (``SdkWebhookTraces``);
- fast (``TELEMETRY_FAST_PATH``, OTLP/HTTP only): the same processor in front of our exporter,
  the webhook's trace queued whole (``fast_path``). When the seam finds the SDK changed, the
  public path is installed instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from opentelemetry import metrics, trace

from voice_platform.settings import Settings
from voice_platform.telemetry import exporters, failures, fast_path
from voice_platform.telemetry import metrics as metrics_module
from voice_platform.telemetry.metrics import TRACER_NAME, views
from voice_platform.telemetry.scrub import Scrub
from voice_platform.telemetry.webhook_spans import SdkWebhookTraces, WebhookTraces

log = logging.getLogger("voice_platform.telemetry")

# Counted in queue items: an SDK span, or on the fast path a call's two spans. A queue 8x the
# SDK's default: at a burst of calls the export thread falls behind for a moment, and a full
# queue drops spans (with a warning each). Big batches share each post's own cost among many calls.
MAX_QUEUE_SIZE = 16384
MAX_EXPORT_BATCH_SIZE = 2048


@dataclass
class Installed:
    role: str
    tracer_provider: Any
    meter_provider: Any
    logger_provider: Any | None
    webhook_traces: WebhookTraces
    fast_path: bool  # the webhook's traces take the fast path
    log_handler: logging.Handler | None = None

    def shutdown(self) -> None:
        if self.log_handler is not None:
            logging.getLogger().removeHandler(self.log_handler)
        for provider in (self.tracer_provider, self.meter_provider, self.logger_provider):
            if provider is not None:
                try:
                    provider.shutdown()
                except Exception:  # noqa: BLE001 - shutting down is best effort
                    log.debug("telemetry provider did not shut down cleanly", exc_info=True)


def install(role: str, settings: Settings, *, span_exporter=None, metric_reader=None) -> Installed:
    """Providers for ``role``, set as OpenTelemetry's globals. ``span_exporter`` /
    ``metric_reader``: tests pass in-memory ones (spans then go through a simple processor)."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    name = settings.otel_service_name or f"voice-platform-{role}"
    resource = Resource.create({"service.name": name, "service.namespace": "voice-platform",
                                "deployment.environment.name": settings.environment, "voice_platform.role": role})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(Scrub())
    webhook_traces: WebhookTraces | None = None
    if span_exporter is not None:
        tracer_provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    elif exporters.kind("traces", settings) != "none":
        webhook_traces = _add_span_export(tracer_provider, settings)
    fast = webhook_traces is not None
    if webhook_traces is None:
        webhook_traces = SdkWebhookTraces(tracer_provider.get_tracer(TRACER_NAME))

    readers = [metric_reader] if metric_reader is not None else []
    if metric_reader is None and (kind := exporters.kind("metrics", settings)) != "none":
        exporter = ConsoleMetricExporter() if kind == "console" else exporters.official("metrics", settings)
        readers.append(PeriodicExportingMetricReader(exporter, export_interval_millis=settings.otel_metric_export_interval))
    meter_provider = MeterProvider(resource=resource, metric_readers=readers, views=views())
    metrics_module.collected(bool(readers))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    logger_provider, handler = _logs(settings, resource) if span_exporter is None else (None, None)
    failures.forget()
    return Installed(role, tracer_provider, meter_provider, logger_provider, webhook_traces, fast, handler)


def _add_span_export(tracer_provider, settings: Settings) -> fast_path.FastWebhookTraces | None:
    """The batch processor and exporter for traces; the fast path's webhook traces when it serves them."""
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    def batch(exporter):
        return BatchSpanProcessor(exporter, max_queue_size=MAX_QUEUE_SIZE, max_export_batch_size=MAX_EXPORT_BATCH_SIZE)

    if exporters.wants_fast_path(settings):
        processor = batch(exporters.ours(settings))
        fast = fast_path.webhook_traces(tracer_provider, processor, TRACER_NAME)
        if fast is not None:
            tracer_provider.add_span_processor(processor)
            return fast
        processor.shutdown()  # the seam said no: the whole public path, official exporter included
    if exporters.kind("traces", settings) == "console":
        tracer_provider.add_span_processor(batch(ConsoleSpanExporter()))
    else:
        tracer_provider.add_span_processor(batch(exporters.official("traces", settings)))
    return None


def _logs(settings: Settings, resource):
    """A logger provider exporting the root logger's records (none of OpenTelemetry's own: no
    export loops), and its handler."""
    kind = exporters.kind("logs", settings)
    if kind == "none":
        return None, None
    from opentelemetry._logs import set_logger_provider
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, ConsoleLogExporter

    provider = LoggerProvider(resource=resource)
    exporter = ConsoleLogExporter() if kind == "console" else exporters.official("logs", settings)
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    set_logger_provider(provider)
    handler = LoggingHandler(level=logging.INFO, logger_provider=provider)
    handler.addFilter(lambda record: not record.name.startswith("opentelemetry"))
    logging.getLogger().addHandler(handler)
    return provider, handler


def join_livekit(tracer_provider) -> None:
    """LiveKit Agents' spans (session, turns, model, function tools) go to our provider, with
    conversation content withheld (``allow_pii=False``)."""
    try:
        from livekit.agents.telemetry import set_tracer_provider
    except ImportError:  # the web process does not need livekit
        return
    set_tracer_provider(tracer_provider, allow_pii=False)
