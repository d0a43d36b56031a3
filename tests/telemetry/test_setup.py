"""Telemetry's setup from the standard OTEL_* variables, what it cleans off spans, its metrics,
and the one seam on the SDK's private internals."""

from __future__ import annotations

import logging
import re
import socket
import time
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult

from tests.telemetry.support import RenamedBatchSpanProcessor, settings
from voice_platform.telemetry import exporters, fast_path as seam, metrics as telemetry_metrics, otlp_encoder

ROUTE = "/api/v1/voice/twilio/incoming"


def test_off_in_the_embedded_setup_and_when_disabled(fresh_telemetry):
    assert fresh_telemetry.setup("web", settings=settings()) is None
    assert fresh_telemetry.setup("web", settings=settings(otel_exporter_otlp_endpoint="http://127.0.0.1:4318",
                                                          otel_sdk_disabled=True)) is None
    assert not fresh_telemetry.enabled(settings(otel_traces_exporter="none"))
    assert fresh_telemetry.installed() is None and fresh_telemetry.webhook_trace(ROUTE) is None


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_the_protocol_and_the_switch_pick_the_traces_exporter(fresh_telemetry, collector, fast_path, protocol):
    installed = fresh_telemetry.setup("web", settings=settings(
        otel_exporter_otlp_endpoint=collector.base, otel_exporter_otlp_protocol=protocol, otel_metrics_exporter="none",
        otel_logs_exporter="none", telemetry_fast_path=fast_path))
    assert installed.fast_path is (fast_path and protocol == "http/protobuf")  # our encoder speaks OTLP/HTTP only
    kind = type(fresh_telemetry.webhook_trace(ROUTE)).__name__
    assert kind == ("WebhookTrace" if installed.fast_path else "SdkWebhookTrace")


def test_our_exporter_gets_the_settings_endpoint_headers_and_timeout():
    ours = exporters.ours(settings(otel_exporter_otlp_endpoint="http://127.0.0.1:4318/",
                                   otel_exporter_otlp_headers="api-key=abc,x-team=voice%20a",
                                   otel_exporter_otlp_timeout=1500))
    assert isinstance(ours, otlp_encoder.SpanExporter)
    assert (ours.endpoint, ours.timeout) == ("http://127.0.0.1:4318/v1/traces", 1.5)
    assert exporters.headers(settings(otel_exporter_otlp_headers="api-key=abc,x-team=voice%20a")) == {
        "api-key": "abc", "x-team": "voice a"}


def test_an_unsupported_protocol_is_a_clear_error():
    from voice_platform.settings import Settings

    with pytest.raises(ValueError, match="use http/protobuf or grpc"):
        exporters.official("traces", Settings.model_construct(
            otel_exporter_otlp_protocol="http/json", otel_exporter_otlp_endpoint="http://x", otel_exporter_otlp_timeout=100,
            otel_exporter_otlp_headers=None))


def _public(telemetry, **values):
    return telemetry.setup("web", settings=settings(otel_metrics_exporter="none", otel_logs_exporter="none",
                                                    telemetry_fast_path=False, **values))


def _one_call(telemetry, installed) -> None:
    trace = telemetry.webhook_trace(ROUTE)
    assert trace.session_opening()
    trace.session_opened("***0142", None)
    trace.finish(200, "dialed")
    assert installed.tracer_provider.force_flush(10_000)


def test_the_official_exporter_reads_the_standard_variables_itself(fresh_telemetry, collector, monkeypatch):
    # The generic endpoint leads nowhere; the per-signal one and compression are the exporter's own business.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", collector.base + "/custom/traces")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "api-key=from-env")
    installed = _public(fresh_telemetry, otel_exporter_otlp_endpoint="http://127.0.0.1:9",
                        otel_exporter_otlp_headers="api-key=from-env")  # what Settings read from that environment
    _one_call(fresh_telemetry, installed)
    [(headers, _body)] = collector.posted("/custom/traces")
    assert headers["Content-Encoding"] == "gzip" and headers["api-key"] == "from-env"
    assert {s.name for s in collector.spans("/custom/traces")} == {"POST " + ROUTE, "calls.open_session"}


def test_values_only_the_env_file_holds_reach_the_official_exporter(fresh_telemetry, collector, tmp_path: Path):
    from voice_platform.settings import Settings

    env_file = tmp_path / ".env"
    env_file.write_text(f"OTEL_EXPORTER_OTLP_ENDPOINT={collector.base}\nOTEL_EXPORTER_OTLP_HEADERS=api-key=from-file\n"
                        "OTEL_METRICS_EXPORTER=none\nOTEL_LOGS_EXPORTER=none\nTELEMETRY_FAST_PATH=false\n")
    installed = fresh_telemetry.setup("web", settings=Settings(_env_file=env_file))
    assert not installed.fast_path
    _one_call(fresh_telemetry, installed)
    [(headers, _body)] = collector.posted("/v1/traces")
    assert headers["api-key"] == "from-file"


def test_the_timeout_is_taken_in_milliseconds_as_the_specification_says():
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        base = f"http://127.0.0.1:{silent.getsockname()[1]}"
        exporter = exporters.official("traces", settings(otel_exporter_otlp_endpoint=base, otel_exporter_otlp_timeout=300))
        from tests.telemetry.test_otlp_encoding import _spans

        started = time.monotonic()
        assert exporter.export(_spans(1, 1)) is SpanExportResult.FAILURE
        assert time.monotonic() - started < 5  # 300 ms read as seconds would hang here for minutes
        exporter.shutdown()


def test_a_collector_that_is_not_listening_costs_the_request_nothing(client, fresh_telemetry, fast_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    installed = fresh_telemetry.setup("web", settings=settings(
        otel_exporter_otlp_endpoint=f"http://127.0.0.1:{port}", otel_exporter_otlp_timeout=200,
        telemetry_fast_path=fast_path))
    assert installed is not None
    r = client.get("/api/v1/health")
    assert r.status_code == 200  # the export happens later, on the batch processor's thread


@pytest.mark.parametrize(("path", "cleaned"), [
    ("/api/v1/invitations/Zx9kQ2m_Lp4rT7vY8wA1bC3dE5fG", "/api/v1/invitations/:redacted"),
    ("/api/v1/agents/0b7c2a52-9a53-4f0e-8d51-7d2b1c2e9f10", "/api/v1/agents/0b7c2a52-9a53-4f0e-8d51-7d2b1c2e9f10"),
    ("/api/v1/numbers/+14155550142", "/api/v1/numbers/***0142"),
])
def test_paths_lose_their_tokens_and_numbers(path, cleaned):
    from voice_platform import telemetry

    assert telemetry.scrub_path(path) == cleaned


def test_numbers_are_masked_to_their_last_four_digits():
    from voice_platform import telemetry

    assert telemetry.mask_number("+1 (415) 555-0142") == "***0142" and telemetry.mask_number(None) == ""


# --- metrics ------------------------------------------------------------------------------------

def _points(metrics_data, name="webhook.latency"):
    return {p.attributes["result"]: p for rm in metrics_data.resource_metrics for sm in rm.scope_metrics
            for m in sm.metrics if m.name == name for p in m.data.data_points}


def test_the_webhook_latency_is_the_sdks_histogram_with_the_views_buckets(fresh_telemetry):
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    fresh_telemetry.setup("web", metric_reader=reader)
    for value, result in [(0.0, "dialed"), (3.2, "dialed"), (5.0, "dialed"), (5.01, "dialed"), (12000.0, "dialed"),
                          (7.5, "unknown_number")]:
        fresh_telemetry.record_webhook_latency(value, result)
    fresh_telemetry.instruments().webhook_latency.record(1.0, {"result": "dialed"})  # the older way, until callers move
    points = _points(reader.get_metrics_data())
    dialed = points["dialed"]
    assert tuple(dialed.explicit_bounds) == telemetry_metrics.WEBHOOK_LATENCY_BOUNDS
    assert (dialed.count, dialed.min, dialed.max) == (6, 0.0, 12000.0)
    # buckets (-inf,0] (0,5] (5,10] ... (10000,inf): 0 | 1, 3.2, 5 | 5.01 | ... | 12000
    assert list(dialed.bucket_counts)[:3] == [1, 3, 1] and list(dialed.bucket_counts)[-1] == 1
    assert points["unknown_number"].count == 1


def test_the_webhook_latency_reaches_the_collector_beside_the_sdks_metrics(fresh_telemetry, collector):
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    installed = fresh_telemetry.setup("web", settings=settings(
        otel_exporter_otlp_endpoint=collector.base, otel_traces_exporter="none", otel_logs_exporter="none"))

    def exported() -> dict:
        names = {}
        for _headers, body in collector.posted("/v1/metrics"):
            for rm in ExportMetricsServiceRequest.FromString(body).resource_metrics:
                for sm in rm.scope_metrics:
                    names.update({m.name: m for m in sm.metrics})
        return names

    fresh_telemetry.record_webhook_latency(4.0, "dialed")  # a web process that only took calls
    assert installed.meter_provider.force_flush(10_000)
    [point] = exported()["webhook.latency"].histogram.data_points
    assert (point.count, point.sum, point.attributes[0].value.string_value) == (1, 4.0, "dialed")
    assert list(point.explicit_bounds) == list(telemetry_metrics.WEBHOOK_LATENCY_BOUNDS)
    fresh_telemetry.instruments().calls_started.add(1, {"kind": "phone"})
    fresh_telemetry.record_webhook_latency(6.0, "dialed")
    assert installed.meter_provider.force_flush(10_000)
    names = exported()
    assert {"webhook.latency", "calls.started"} <= set(names)
    [point] = names["webhook.latency"].histogram.data_points
    assert (point.count, point.sum) == (2, 10.0)  # cumulative, the exporter's default


def test_recording_the_latency_never_raises_even_without_a_working_meter(fresh_telemetry, monkeypatch, caplog):
    from opentelemetry.sdk.metrics import Histogram
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    def broken(*_args, **_kwargs):
        raise RuntimeError("histogram broken")

    reader = InMemoryMetricReader()
    fresh_telemetry.setup("web", metric_reader=reader)
    monkeypatch.setattr(Histogram, "record", broken)
    with caplog.at_level(logging.WARNING, logger="voice_platform.telemetry"):
        for _ in range(3):
            fresh_telemetry.record_webhook_latency(1.0, "dialed")
            fresh_telemetry.instruments().webhook_latency.record(1.0, {"result": "dialed"})
            reader.get_metrics_data()  # the queued values are recorded here, on the reader's side
    assert len([r for r in caplog.records if "webhook.latency" in r.getMessage()]) == 1


def test_the_webhook_records_its_latency_off_the_request_path(fresh_telemetry, monkeypatch):
    """Recording is a queue append; the SDK histogram sees the values when a reader collects."""
    from opentelemetry.sdk.metrics import Histogram
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    fresh_telemetry.setup("web", metric_reader=reader)
    recorded = []
    real_record = Histogram.record
    monkeypatch.setattr(Histogram, "record", lambda self, *a, **k: (recorded.append(a[0]), real_record(self, *a, **k)))
    for value in (1.0, 2.0, 3.0):
        fresh_telemetry.record_webhook_latency(value, "dialed")
    assert recorded == []
    assert _points(reader.get_metrics_data())["dialed"].count == 3
    assert recorded == [1.0, 2.0, 3.0]
    assert _points(reader.get_metrics_data())["dialed"].count == 3  # drained once: nothing counted twice


def test_without_an_sdk_meter_provider_nothing_queues_up(fresh_telemetry):
    fresh_telemetry.setup("web", settings=settings(otel_metrics_exporter="none"))
    for _ in range(10):
        fresh_telemetry.record_webhook_latency(1.0, "dialed")
    assert fresh_telemetry.instruments().deferred_latencies is None


# --- setup and shutdown -------------------------------------------------------------------------

def test_shutdown_forgets_everything_setup_installed(fresh_telemetry):
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    root_handlers = list(logging.getLogger().handlers)
    fresh_telemetry.setup("web", settings=settings(otel_logs_exporter="console"), metric_reader=InMemoryMetricReader())
    assert len(logging.getLogger().handlers) == len(root_handlers) + 1  # the log export's handler
    first = fresh_telemetry.instruments()
    fresh_telemetry.shutdown()
    assert fresh_telemetry.installed() is None and fresh_telemetry.webhook_trace(ROUTE) is None
    assert logging.getLogger().handlers == root_handlers
    from tests.telemetry.support import reset_telemetry

    reset_telemetry()
    spans = InMemorySpanExporter()
    fresh_telemetry.setup("web", span_exporter=spans)
    assert fresh_telemetry.instruments() is not first
    with fresh_telemetry.tracer().start_as_current_span("after"):
        pass
    assert [s.name for s in spans.get_finished_spans()] == ["after"]  # the new provider, not the old one


# --- the seam -----------------------------------------------------------------------------------

def test_the_seam_finds_the_sdks_queue_or_says_no_once_at_setup(caplog):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    provider = TracerProvider()
    usual, renamed = BatchSpanProcessor(InMemorySpanExporter()), RenamedBatchSpanProcessor(InMemorySpanExporter())
    try:
        assert seam.webhook_traces(provider, usual, "voice_platform") is not None
        with caplog.at_level(logging.WARNING):
            assert seam.webhook_traces(provider, renamed, "voice_platform") is None
        assert len(caplog.records) == 1 and "public API" in caplog.records[0].getMessage()
    finally:
        usual.shutdown()
        renamed.shutdown()


# OpenTelemetry's private names that product code once reached for; only the seam may.
_PRIVATE = re.compile(r"\._batch_processor|_active_span_processor|\._root\b|_preferred_temporality|"
                      r"_preferred_aggregation|\._collect\b|_receive_metrics|_TRACER_PROVIDER|_METER_PROVIDER")


def test_only_the_seam_touches_the_sdks_private_internals():
    root = Path(__file__).resolve().parents[2]
    sources = [*root.joinpath("voice_platform").rglob("*.py"), *root.joinpath("worker").rglob("*.py")]
    touching = {str(p.relative_to(root)) for p in sources if _PRIVATE.search(p.read_text(encoding="utf-8"))}
    assert touching == {"voice_platform/telemetry/fast_path.py"}
