"""Telemetry's setup from the standard OTEL_* variables, and what it cleans off spans."""

from __future__ import annotations

import socket

import pytest

from voice_platform import telemetry
from voice_platform.settings import Settings


@pytest.fixture(autouse=True)
def _fresh():
    telemetry.reset_for_tests()
    yield
    telemetry.shutdown()
    telemetry.reset_for_tests()


def _settings(**values) -> Settings:
    return Settings(_env_file=None, **values)


def test_off_in_the_embedded_setup_and_when_disabled():
    assert telemetry.setup("web", settings=_settings()) is None
    assert telemetry.setup("web", settings=_settings(otel_exporter_otlp_endpoint="http://127.0.0.1:4318",
                                                     otel_sdk_disabled=True)) is None
    assert not telemetry.enabled(_settings(otel_traces_exporter="none"))


@pytest.mark.parametrize(("protocol", "module"), [("http/protobuf", "voice_platform.otlp"), ("grpc", "proto.grpc")])
def test_the_protocol_picks_the_exporter_and_http_uses_the_signal_paths(protocol, module):
    settings = _settings(otel_exporter_otlp_endpoint="http://127.0.0.1:4318", otel_exporter_otlp_protocol=protocol,
                         otel_exporter_otlp_headers="api-key=abc,x-team=voice")
    exporter = telemetry._otlp("traces", settings)
    assert module in type(exporter).__module__
    if protocol == "http/protobuf":
        assert exporter.endpoint == "http://127.0.0.1:4318/v1/traces"
        assert exporter._session.headers["api-key"] == "abc"
        metrics = telemetry._otlp("metrics", settings)
        assert "proto.http" in type(metrics).__module__ and metrics._endpoint == "http://127.0.0.1:4318/v1/metrics"
    assert telemetry._headers(settings) == {"api-key": "abc", "x-team": "voice"}


def test_an_unsupported_protocol_is_a_clear_error():
    with pytest.raises(ValueError, match="use http/protobuf or grpc"):
        telemetry._otlp("traces", Settings.model_construct(
            otel_exporter_otlp_protocol="http/json", otel_exporter_otlp_endpoint="http://x", otel_exporter_otlp_timeout=100,
            otel_exporter_otlp_headers=None))


def test_a_collector_that_is_not_listening_costs_the_request_nothing(client):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    installed = telemetry.setup("web", settings=_settings(
        otel_exporter_otlp_endpoint=f"http://127.0.0.1:{port}", otel_exporter_otlp_timeout=200))
    assert installed is not None
    r = client.get("/api/v1/health")
    assert r.status_code == 200  # the export happens later, on the batch processor's thread


@pytest.mark.parametrize(("path", "cleaned"), [
    ("/api/v1/invitations/Zx9kQ2m_Lp4rT7vY8wA1bC3dE5fG", "/api/v1/invitations/:redacted"),
    ("/api/v1/agents/0b7c2a52-9a53-4f0e-8d51-7d2b1c2e9f10", "/api/v1/agents/0b7c2a52-9a53-4f0e-8d51-7d2b1c2e9f10"),
    ("/api/v1/numbers/+14155550142", "/api/v1/numbers/***0142"),
])
def test_paths_lose_their_tokens_and_numbers(path, cleaned):
    assert telemetry.scrub_path(path) == cleaned


def test_numbers_are_masked_to_their_last_four_digits():
    assert telemetry.mask_number("+1 (415) 555-0142") == "***0142" and telemetry.mask_number(None) == ""


class _Captured:
    """A metric exporter that keeps what it is given."""

    def __init__(self, temporality) -> None:
        from opentelemetry.sdk.metrics import Histogram

        self._preferred_temporality = {Histogram: temporality}
        self._preferred_aggregation = {}
        self.exported = []

    def export(self, metrics_data, timeout_millis=10_000, **_kwargs):
        self.exported.append(metrics_data)

    def force_flush(self, timeout_millis=10_000):
        return True

    def shutdown(self, timeout_millis=30_000, **_kwargs):
        return None


def _points(metrics_data, name="webhook.latency"):
    return {p.attributes["result"]: p for rm in metrics_data.resource_metrics for sm in rm.scope_metrics
            for m in sm.metrics if m.name == name for p in m.data.data_points}


@pytest.mark.parametrize("delta", [False, True])
def test_the_webhook_latency_histogram_is_exported_as_the_sdk_would_aggregate_it(delta):
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
    from opentelemetry.sdk.resources import Resource

    temporality = AggregationTemporality.DELTA if delta else AggregationTemporality.CUMULATIVE
    hot, captured = telemetry.HotHistogram(*telemetry.WEBHOOK_LATENCY), _Captured(temporality)
    resource = Resource.create({"service.name": "web"})
    exporter = telemetry._with_hot_histograms(captured, resource, [hot])  # noqa: SLF001
    reference = InMemoryMetricReader(preferred_temporality={
        __import__("opentelemetry.sdk.metrics", fromlist=["Histogram"]).Histogram: temporality})
    sdk = MeterProvider(metric_readers=[reference], resource=resource).get_meter("voice_platform").create_histogram(
        "webhook.latency", unit="ms")
    samples = [(0.0, "dialed"), (3.2, "dialed"), (5.0, "dialed"), (5.01, "dialed"), (12000.0, "dialed"),
               (7.5, "unknown_number")]
    for value, result in samples:
        hot.record(value, {"result": result})
        sdk.record(value, {"result": result})
    exporter.export(None)
    ours, theirs = _points(captured.exported[-1]), _points(reference.get_metrics_data())
    assert set(ours) == set(theirs) == {"dialed", "unknown_number"}
    for key in ours:
        a, b = ours[key], theirs[key]
        assert (a.count, a.sum, list(a.bucket_counts), list(a.explicit_bounds), a.min, a.max) == \
            (b.count, b.sum, list(b.bucket_counts), list(b.explicit_bounds), b.min, b.max)
    [metric] = [m for rm in captured.exported[-1].resource_metrics for sm in rm.scope_metrics for m in sm.metrics]
    assert metric.data.aggregation_temporality == temporality and metric.unit == "ms"
    hot.record(1.0, {"result": "dialed"})
    exporter.export(None)
    again = _points(captured.exported[-1])
    assert again["dialed"].count == (1 if delta else 6)
    assert ("unknown_number" in again) is (not delta)


def test_the_webhook_latency_reaches_the_collector_beside_the_sdks_metrics():
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    import threading

    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    bodies = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            bodies.append((self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        installed = telemetry.setup("web", settings=_settings(
            otel_exporter_otlp_endpoint=f"http://127.0.0.1:{server.server_address[1]}", otel_traces_exporter="none",
            otel_logs_exporter="none"))
        def exported() -> dict:
            names = {}
            for path, body in bodies:
                assert path == "/v1/metrics"
                request = ExportMetricsServiceRequest.FromString(body)
                for rm in request.resource_metrics:
                    for sm in rm.scope_metrics:
                        names.update({m.name: m for m in sm.metrics})
            return names

        # A web process that only took calls: the SDK's instruments have nothing, the export still happens.
        telemetry.instruments().webhook_latency.record(4.0, {"result": "dialed"})
        assert installed.meter_provider.force_flush(10_000)
        [point] = exported()["webhook.latency"].histogram.data_points
        assert (point.count, point.sum, point.attributes[0].value.string_value) == (1, 4.0, "dialed")
        telemetry.instruments().calls_started.add(1, {"kind": "phone"})
        telemetry.instruments().webhook_latency.record(6.0, {"result": "dialed"})
        bodies.clear()
        assert installed.meter_provider.force_flush(10_000)
        names = exported()
        assert {"webhook.latency", "calls.started"} <= set(names)
        [point] = names["webhook.latency"].histogram.data_points
        assert (point.count, point.sum) == (2, 10.0)  # cumulative, the exporter's default
    finally:
        server.shutdown()
        server.server_close()


def test_with_a_reader_of_the_callers_the_histogram_is_the_sdks_own():
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    telemetry.setup("web", span_exporter=InMemorySpanExporter(), metric_reader=InMemoryMetricReader())
    assert not isinstance(telemetry.instruments().webhook_latency, telemetry.HotHistogram)
