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


def test_webhook_latency_samples_reach_the_histogram_at_collection_each_once():
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    reader = InMemoryMetricReader()
    telemetry.setup("web", span_exporter=InMemorySpanExporter(), metric_reader=reader)
    latency = telemetry.instruments().webhook_latency
    assert isinstance(latency, telemetry._DeferredHistogram)  # noqa: SLF001 - the hot path only queues

    def points() -> dict[str, tuple[int, float]]:
        found = {}
        for rm in reader.get_metrics_data().resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    assert metric.name != "webhook.latency.flush"  # the hook exports nothing of its own
                    if metric.name == "webhook.latency":
                        found.update({p.attributes["result"]: (p.count, p.sum) for p in metric.data.data_points})
        return found

    for value in (3.0, 5.0):
        latency.record(value, {"result": "dialed"})
    latency.record(1.0, {"result": "unknown_number"})
    assert points() == {"dialed": (2, 8.0), "unknown_number": (1, 1.0)}
    latency.record(2.0, {"result": "dialed"})
    assert points() == {"dialed": (3, 10.0), "unknown_number": (1, 1.0)}  # cumulative, nothing counted twice


def test_without_a_metric_reader_the_histogram_is_the_sdks_own():
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    telemetry.setup("web", settings=_settings(otel_metrics_exporter="none"), span_exporter=InMemorySpanExporter())
    assert not isinstance(telemetry.instruments().webhook_latency, telemetry._DeferredHistogram)  # noqa: SLF001
