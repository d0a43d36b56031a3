"""Our OTLP span encoding decodes, with the official protobuf classes, to exactly what
OpenTelemetry's own encoder produces, for generated spans of every shape; and the exporter
posts it, retrying what the specification calls retryable, to a real HTTP server."""

from __future__ import annotations

import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as official
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState
from opentelemetry.trace import set_span_in_context

from voice_platform import otlp


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


class _Collector:
    """An OTLP/HTTP receiver on 127.0.0.1 answering the statuses it is told to, in turn."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses, self.bodies, self.headers = list(statuses), [], []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                collector.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
                collector.headers.append(dict(self.headers))
                self.send_response(collector.statuses.pop(0) if collector.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_exporter_posts_protobuf_with_its_headers_and_retries_what_is_retryable():
    collector = _Collector([503, 429, 200])
    try:
        exporter = otlp.SpanExporter(collector.url, headers={"api-key": "k"}, timeout=10)
        spans = _spans(3, 5)
        assert exporter.export(spans) is SpanExportResult.SUCCESS
        assert len(collector.bodies) == 3
        assert collector.bodies[-1] == otlp.encode_spans(spans)
        assert collector.headers[-1]["Content-Type"] == "application/x-protobuf"
        assert collector.headers[-1]["api-key"] == "k"
    finally:
        collector.close()


def test_a_refusal_is_not_retried_and_a_dead_collector_fails_within_the_timeout():
    collector = _Collector([400])
    try:
        exporter = otlp.SpanExporter(collector.url, timeout=5)
        assert exporter.export(_spans(4, 2)) is SpanExportResult.FAILURE
        assert len(collector.bodies) == 1
    finally:
        collector.close()
    exporter = otlp.SpanExporter(collector.url, timeout=1.5)  # nobody listens any more
    assert exporter.export(_spans(5, 2)) is SpanExportResult.FAILURE


# --- the webhook's traces ---------------------------------------------------------------------------

ROUTE = "/api/v1/voice/twilio/incoming"


@pytest.fixture()
def fresh_telemetry():
    from voice_platform import telemetry

    telemetry.reset_for_tests()
    yield telemetry
    telemetry.shutdown()
    telemetry.reset_for_tests()


def _call(telemetry, *, to: str = "***0142", refusal: str | None = None, session_error: str | None = None,
          status: int = 200, result: str = "dialed", error: str | None = None, session: bool = True):
    """What the incoming webhook records for one call: its server span and the session's child."""
    trace = telemetry.webhook_trace(ROUTE)
    if session:
        traceparent = trace.session_opening()
        assert traceparent == f"00-{trace.trace_id:032x}-{trace.session_id:016x}-01"
        if session_error is None:
            trace.session_opened(to, refusal)
        else:
            trace.session_failed(session_error)
    latency = trace.finish(status, result, error)
    assert latency == (trace.end_time - trace.start_time) / 1e6 >= 0
    return trace


def test_webhook_traces_encode_as_the_sdks_spans_of_the_same_calls_do(fresh_telemetry):
    exporter = InMemorySpanExporter()
    fresh_telemetry.setup("web", span_exporter=exporter)
    calls = [_call(fresh_telemetry), _call(fresh_telemetry, to="***0199", refusal="concurrency_limit", result="refused"),
             _call(fresh_telemetry, session_error="TimeoutError: no session", result="error"),
             _call(fresh_telemetry, session=False, status=403, result="", error="PermissionDenied: bad signature"),
             _call(fresh_telemetry, session=False, result="bad_request"), _call(fresh_telemetry)]
    readable = exporter.get_finished_spans()  # the fallback path: the SDK's spans through the processors
    assert [s.name for s in readable] == ["calls.open_session", "POST " + ROUTE] * 3 + ["POST " + ROUTE] * 2 + [
        "calls.open_session", "POST " + ROUTE]
    assert ExportTraceServiceRequest.FromString(otlp.encode_spans(calls)) == official(readable)
    session, server = readable[0], readable[1]
    assert session.parent.span_id == server.context.span_id == calls[0].span_id and server.parent is None
    assert session.context.trace_id == server.context.trace_id == calls[0].trace_id
    assert dict(session.attributes) == {"call.to": "***0142", "call.refusal": ""}
    assert dict(server.attributes) == {"http.request.method": "POST", "http.route": ROUTE,
                                       "http.response.status_code": 200, "call.result": "dialed"}
    failed = readable[4]
    assert failed.status.status_code is StatusCode.ERROR and dict(failed.attributes) == {}
    refused = readable[6]
    assert refused.status.status_code is StatusCode.ERROR and refused.attributes["http.response.status_code"] == 403
    assert "call.result" not in refused.attributes
    assert server.start_time <= session.start_time <= session.end_time <= server.end_time


def test_with_our_exporter_webhook_traces_go_to_the_collector_in_one_trace(fresh_telemetry):
    from voice_platform.settings import Settings

    collector = _Collector([])
    try:
        endpoint = collector.url.removesuffix("/v1/traces")
        installed = fresh_telemetry.setup("web", settings=Settings(
            _env_file=None, otel_exporter_otlp_endpoint=endpoint, otel_metrics_exporter="none", otel_logs_exporter="none"))
        call = _call(fresh_telemetry)
        assert fresh_telemetry._traces._on_end is not None  # noqa: SLF001 - the direct path, not the SDK fallback
        assert installed.tracer_provider.force_flush(10_000)
        request = ExportTraceServiceRequest.FromString(b"".join(collector.bodies))
        [resource_spans] = request.resource_spans
        assert {kv.key: kv.value.string_value for kv in resource_spans.resource.attributes}["service.name"] == "voice-platform-web"
        [scope_spans] = resource_spans.scope_spans
        assert scope_spans.scope.name == "voice_platform"
        by_name = {span.name: span for span in scope_spans.spans}
        server, session = by_name["POST " + ROUTE], by_name["calls.open_session"]
        assert server.trace_id == session.trace_id == call.trace_id.to_bytes(16, "big")
        assert session.parent_span_id == server.span_id == call.span_id.to_bytes(8, "big") and not server.parent_span_id
        assert server.kind == 2 and session.kind == 1  # SERVER, INTERNAL
        assert server.end_time_unix_nano >= session.end_time_unix_nano >= session.start_time_unix_nano >= server.start_time_unix_nano
    finally:
        collector.close()


@pytest.mark.parametrize(("sampler", "arg", "expect"), [("always_off", None, 0), ("traceidratio", "0.5", None),
                                                        ("parentbased_always_on", None, 200)])
def test_webhook_traces_follow_the_configured_sampler(fresh_telemetry, monkeypatch, sampler, arg, expect):
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", sampler)
    if arg:
        monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", arg)
    fresh_telemetry.setup("web", span_exporter=InMemorySpanExporter())
    kept = sum(fresh_telemetry.webhook_trace(ROUTE) is not None for _ in range(200))
    if expect is None:
        assert 40 < kept < 160
    else:
        assert kept == expect


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
