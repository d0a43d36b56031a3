"""Our OTLP span encoding decodes, with the official protobuf classes, to exactly what
OpenTelemetry's own encoder produces, for generated spans of every shape; and the exporter
posts it, retrying what the specification calls retryable, to a real HTTP server."""

from __future__ import annotations

import random

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as official
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState
from opentelemetry.trace import set_span_in_context

from tests.telemetry.support import Collector
from voice_platform.telemetry import otlp_encoder as otlp


def _value(rng: random.Random, depth: int = 0):
    kinds = ["str", "bool", "int", "float", "bytes", "empty"] + (["list", "tuple"] if depth == 0 else [])
    kind = rng.choice(kinds)
    if kind == "str":
        return "".join(rng.choice("aZ9 é€+/") for _ in range(rng.randint(0, 12)))
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "int":
        return rng.choice([0, 1, -1, 127, 128, 300, -300, 2**40, -(2**63), 2**63 - 1, rng.randint(-10**9, 10**9)])
    if kind == "float":
        return rng.choice([0.0, -0.0, 1.5, -2.25, 1e300, rng.random()])
    if kind == "bytes":
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 5)))
    if kind == "empty":
        return ""
    inner = rng.choice(["str", "bool", "int", "float"])
    items = [_value(random.Random(rng.random()), 1) for _ in range(rng.randint(0, 4))]
    items = [i for i in items if type(i).__name__ == {"str": "str", "bool": "bool", "int": "int", "float": "float"}[inner]]
    return items if kind == "list" else tuple(items)


def _attributes(rng: random.Random) -> dict:
    return {f"k{i}.{rng.choice(['a', 'b', 'ü'])}": _value(rng) for i in range(rng.randint(0, 6))}


def _spans(seed: int, count: int):
    rng = random.Random(seed)
    exporter = InMemorySpanExporter()
    providers = []
    for service in ("web", "worker"):
        provider = TracerProvider(resource=Resource.create({"service.name": service, "n": rng.randint(0, 9)},
                                                           schema_url=rng.choice(["", "https://opentelemetry.io/schemas/1.21.0"])))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        providers.append(provider)
    tracers = [p.get_tracer(name, version, schema_url=schema, attributes=attrs)
               for p in providers
               for name, version, schema, attrs in (("voice_platform", None, None, None),
                                                    ("livekit-agents", "1.2.3", "https://example.com/s", {"x": 1}))]
    for _ in range(count):
        tracer = rng.choice(tracers)
        parent = None
        if rng.random() < 0.6:
            remote = rng.random() < 0.5
            state = TraceState([("vendor", "v1"), ("other", "2")]) if rng.random() < 0.3 else TraceState()
            parent = set_span_in_context(NonRecordingSpan(SpanContext(
                rng.getrandbits(128) or 1, rng.getrandbits(64) or 1, is_remote=remote,
                trace_flags=TraceFlags(TraceFlags.SAMPLED), trace_state=state)))
        links = [Link(SpanContext(rng.getrandbits(128) or 1, rng.getrandbits(64) or 1, is_remote=rng.random() < 0.5,
                                  trace_state=TraceState([("a", "b")]) if rng.random() < 0.5 else TraceState()),
                      attributes=_attributes(rng)) for _ in range(rng.randint(0, 2))]
        span = tracer.start_span(rng.choice(["POST /api/v1/voice/twilio/incoming", "tool.call", "", "é"]),
                                 context=parent, kind=rng.choice(list(SpanKind)), attributes=_attributes(rng), links=links)
        for _ in range(rng.randint(0, 2)):
            span.add_event(rng.choice(["exception", "", "retry"]), attributes=_attributes(rng))
        status = rng.choice([None, Status(StatusCode.OK), Status(StatusCode.ERROR, "boom"), Status(StatusCode.ERROR)])
        if status is not None:
            span.set_status(status)
        span.end()
    return exporter.get_finished_spans()


@pytest.mark.parametrize("seed", range(12))
def test_our_bytes_decode_to_what_opentelemetry_encodes(seed):
    spans = _spans(seed, 40)
    ours = ExportTraceServiceRequest.FromString(otlp.encode_spans(spans))
    carried = []
    for span in (span for r in ours.resource_spans for s in r.scope_spans for span in s.spans):
        for link in span.links:  # OTLP's Link.trace_state: OpenTelemetry's encoder leaves it out, we carry it
            carried.append(link.trace_state)
            link.ClearField("trace_state")
    assert ours == official(spans)
    assert carried.count("a=b") == sum(1 for span in spans for link in span.links if link.context.trace_state)
    assert sum(len(s.spans) for r in ours.resource_spans for s in r.scope_spans) == len(spans)


def test_an_empty_batch_and_a_value_otlp_cannot_carry():
    assert otlp.encode_spans([]) == b""
    spans = _spans(99, 1)
    spans[0]._attributes = {"fine": "yes", "too.big": 2**70}  # noqa: SLF001 - what a careless instrumentation may set
    decoded = ExportTraceServiceRequest.FromString(otlp.encode_spans(spans))
    attributes = decoded.resource_spans[0].scope_spans[0].spans[0].attributes
    assert [kv.key for kv in attributes] == ["fine"]


def test_the_exporter_posts_protobuf_with_its_headers_and_retries_what_is_retryable():
    collector = Collector([503, 429, 200])
    try:
        exporter = otlp.SpanExporter(collector.url, headers={"api-key": "k"}, timeout=10)
        spans = _spans(3, 5)
        assert exporter.export(spans) is SpanExportResult.SUCCESS
        assert len(collector.bodies) == 3
        assert collector.bodies[-1] == otlp.encode_spans(spans)
        assert collector.requests[-1][1]["Content-Type"] == "application/x-protobuf"
        assert collector.requests[-1][1]["api-key"] == "k"
    finally:
        collector.close()


def test_a_refusal_is_not_retried_and_a_dead_collector_fails_within_the_timeout():
    collector = Collector([400])
    try:
        exporter = otlp.SpanExporter(collector.url, timeout=5)
        assert exporter.export(_spans(4, 2)) is SpanExportResult.FAILURE
        assert len(collector.bodies) == 1
    finally:
        collector.close()
    exporter = otlp.SpanExporter(collector.url, timeout=1.5)  # nobody listens any more
    assert exporter.export(_spans(5, 2)) is SpanExportResult.FAILURE


def test_a_big_batch_is_encoded_in_slices_that_make_one_request_of_every_span():
    spans = _spans(11, 3 * otlp.SLICE + 17)
    body = b"".join(otlp._in_slices(spans))  # noqa: SLF001 - what the exporter posts
    decoded = ExportTraceServiceRequest.FromString(body)
    ours = [span for r in decoded.resource_spans for s in r.scope_spans for span in s.spans]
    assert len(ours) == len(spans) and len(decoded.resource_spans) > 2  # a resource's spans in several slices
    want = ExportTraceServiceRequest.FromString(otlp.encode_spans(spans))
    theirs = [span for r in want.resource_spans for s in r.scope_spans for span in s.spans]
    key = lambda span: (span.trace_id, span.span_id)  # noqa: E731
    assert sorted(ours, key=key) == sorted(theirs, key=key)
