"""The incoming-call webhook's trace, both ways (fast path and public path): the same spans reach
a real OTLP/HTTP collector; the fast path's bytes equal the official encoding of the public path's
spans; an SDK that moved the fast path's private queue, or telemetry that raises, never costs a
call its answer."""

from __future__ import annotations

import logging

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as official
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import StatusCode

from tests.support.api import create_agent, signup, unique_phone
from tests.telemetry.support import BrokenBatchSpanProcessor, RenamedBatchSpanProcessor, settings
from tests.telephony.voice_support import call_params, post, twiml, voice_settings  # noqa: F401 - fixture
from voice_platform.telemetry import WebhookTrace, otlp_encoder

ROUTE = "/api/v1/voice/twilio/incoming"
SERVER, SESSION = "POST " + ROUTE, "calls.open_session"


def _collecting(telemetry, collector, fast_path: bool, metrics: str = "none", **extra):
    installed = telemetry.setup("web", settings=settings(
        otel_exporter_otlp_endpoint=collector.base, otel_metrics_exporter=metrics, otel_logs_exporter="none",
        telemetry_fast_path=fast_path, **extra))
    assert installed.fast_path is fast_path
    return installed


def _call(telemetry, *, to: str = "***0142", refusal: str | None = None, session_error: str | None = None,
          status: int = 200, result: str = "dialed", error: str | None = None, session: bool = True):
    """What the incoming webhook records for one call, through the interface both kinds share;
    the traceparent the session row would keep (or None)."""
    trace = telemetry.webhook_trace(ROUTE)
    traceparent = None
    if session:
        traceparent = trace.session_opening()
        if session_error is None:
            trace.session_opened(to, refusal)
        else:
            trace.session_failed(session_error)
    assert trace.finish(status, result, error) >= 0
    return traceparent


def test_webhook_traces_reach_the_collector_as_one_trace_per_call(fresh_telemetry, collector, fast_path):
    installed = _collecting(fresh_telemetry, collector, fast_path)
    dialed = _call(fresh_telemetry)
    refused = _call(fresh_telemetry, to="***0199", refusal="concurrency_limit", result="refused")
    failed = _call(fresh_telemetry, session_error="TimeoutError: no session", result="error")
    _call(fresh_telemetry, session=False, status=403, result="", error="PermissionDenied: bad signature")
    assert installed.tracer_provider.force_flush(10_000)
    spans = collector.spans()
    assert sorted(s.name for s in spans) == sorted([SERVER] * 4 + [SESSION] * 3)
    servers = {s.span_id: s for s in spans if s.name == SERVER}
    sessions = {s.span_id.hex(): s for s in spans if s.name == SESSION}
    for traceparent in (dialed, refused, failed):
        _version, trace_id, span_id, flags = traceparent.split("-")
        session = sessions[span_id]  # the session row's traceparent names the exported session span
        server = servers[session.parent_span_id]
        assert session.trace_id.hex() == server.trace_id.hex() == trace_id and int(flags, 16) & 1  # sampled
        assert (server.kind, session.kind, server.parent_span_id) == (2, 1, b"")  # SERVER, INTERNAL, a root
        assert server.start_time_unix_nano <= session.start_time_unix_nano <= session.end_time_unix_nano \
            <= server.end_time_unix_nano
    attrs = lambda span: {kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in span.attributes}  # noqa: E731
    assert attrs(sessions[dialed.split("-")[2]]) == {"call.to": "***0142", "call.refusal": ""}
    assert attrs(sessions[refused.split("-")[2]]) == {"call.to": "***0199", "call.refusal": "concurrency_limit"}
    failure = sessions[failed.split("-")[2]]
    assert (failure.status.code, failure.status.message, attrs(failure)) == (2, "TimeoutError: no session", {})
    assert attrs(servers[sessions[dialed.split("-")[2]].parent_span_id]) == {
        "http.request.method": "POST", "http.route": ROUTE, "http.response.status_code": 200, "call.result": "dialed"}
    [forbidden] = [s for s in servers.values() if s.status.code == 2]
    assert attrs(forbidden) == {"http.request.method": "POST", "http.route": ROUTE, "http.response.status_code": 403}
    assert forbidden.status.message == "PermissionDenied: bad signature"


class _Sink:
    """What a ``WebhookTrace`` asks of the fast path's sink: the resource and scope of its spans."""

    def __init__(self, resource, scope) -> None:
        self.resource, self.scope = resource, scope

    def finish(self, _trace) -> None:
        return None


def _as_webhook_trace(sink, server, session) -> WebhookTrace:
    """The fast path's record of the same call the public path exported as ``server``/``session``."""
    trace = WebhookTrace(sink, ROUTE, server.context.trace_id)
    trace.span_id, trace.start_time, trace.end_time = server.context.span_id, server.start_time, server.end_time
    trace.status_code = server.attributes.get("http.response.status_code", 0)
    trace.result = server.attributes.get("call.result", "")
    trace.error = server.status.description if server.status.status_code is StatusCode.ERROR else None
    if session is not None:
        trace.session_id, trace.session_start, trace.session_end = (
            session.context.span_id, session.start_time, session.end_time)
        if session.status.status_code is StatusCode.ERROR:
            trace.session_error = session.status.description
        else:
            trace.to, trace.refusal = session.attributes["call.to"], session.attributes["call.refusal"]
    return trace


def test_the_fast_paths_bytes_are_the_official_encoding_of_the_public_paths_spans(fresh_telemetry):
    exporter = InMemorySpanExporter()
    installed = fresh_telemetry.setup("web", span_exporter=exporter)  # an exporter of the caller's: the public path
    assert not installed.fast_path
    _call(fresh_telemetry)
    _call(fresh_telemetry, to="***0199", refusal="concurrency_limit", result="refused")
    _call(fresh_telemetry, session_error="TimeoutError: no session", result="error")
    _call(fresh_telemetry, session=False, status=403, result="", error="PermissionDenied: bad signature")
    _call(fresh_telemetry, session=False, result="bad_request")
    readable = exporter.get_finished_spans()
    assert [s.name for s in readable] == [SESSION, SERVER] * 3 + [SERVER] * 2  # in the order they ended
    sink = _Sink(installed.tracer_provider.resource, InstrumentationScope("voice_platform"))
    traces, pending = [], None
    for span in readable:
        if span.name == SESSION:
            pending = span
        else:
            traces.append(_as_webhook_trace(sink, span, pending))
            pending = None
    assert ExportTraceServiceRequest.FromString(otlp_encoder.encode_spans(traces)) == official(readable)


@pytest.mark.parametrize(("sampler", "arg", "expect"), [("always_off", None, 0), ("traceidratio", "0.5", None),
                                                        ("parentbased_always_on", None, 200)])
def test_webhook_traces_follow_the_configured_sampler(fresh_telemetry, collector, fast_path, monkeypatch,
                                                      sampler, arg, expect):
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", sampler)
    if arg:
        monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", arg)
    _collecting(fresh_telemetry, collector, fast_path)
    kept = sum(fresh_telemetry.webhook_trace(ROUTE) is not None for _ in range(200))
    if expect is None:
        assert 40 < kept < 160
    else:
        assert kept == expect


# --- through the API: a signed Twilio call ---------------------------------------------------------

@pytest.fixture()
def number(client, voice_settings):  # noqa: F811 - the fixture imported above
    admin = signup(client, "traced")
    return create_agent(client, admin, phone_number=unique_phone())["phone_number"]


def _dials(client, number: str) -> str:
    """A signed incoming call; asserts it is put through to LiveKit, and returns its CallSid."""
    params = call_params(number)
    root = twiml(post(client, ROUTE, params))
    assert root.find("Dial/Sip") is not None, root
    return params["CallSid"]


def _session_trace(call_sid: str) -> str:
    from sqlmodel import select

    from voice_platform.db import session_scope
    from voice_platform.models import CallSession

    with session_scope() as session:
        return session.exec(select(CallSession.trace_context).where(CallSession.provider_call_id == call_sid)).one()


def test_a_signed_call_dials_and_its_spans_reach_the_collector(client, number, fresh_telemetry, collector, fast_path):
    installed = _collecting(fresh_telemetry, collector, fast_path)
    call_sid = _dials(client, number)
    assert installed.tracer_provider.force_flush(10_000)
    spans = collector.spans()
    assert sorted(s.name for s in spans) == [SERVER, SESSION]
    _version, trace_id, session_id, _flags = _session_trace(call_sid).split("-")
    [session] = [s for s in spans if s.name == SESSION]
    assert (session.trace_id.hex(), session.span_id.hex()) == (trace_id, session_id)


def test_when_the_sdk_keeps_the_queue_elsewhere_calls_dial_and_spans_go_the_public_way(
        client, number, fresh_telemetry, collector, monkeypatch, caplog):
    import opentelemetry.sdk.trace.export as sdk_export

    monkeypatch.setattr(sdk_export, "BatchSpanProcessor", RenamedBatchSpanProcessor)
    with caplog.at_level(logging.WARNING, logger="voice_platform.telemetry"):
        installed = fresh_telemetry.setup("web", settings=settings(
            otel_exporter_otlp_endpoint=collector.base, otel_metrics_exporter="none", otel_logs_exporter="none"))
    assert not installed.fast_path  # asked for (the default), refused by the seam's check at start-up
    assert [r for r in caplog.records if "fast path" in r.getMessage()], caplog.text
    call_sids = [_dials(client, number) for _ in range(2)]
    assert installed.tracer_provider.force_flush(10_000)
    spans = collector.spans()
    assert sorted(s.name for s in spans) == sorted([SERVER, SESSION] * 2)
    exported = {s.span_id.hex() for s in spans if s.name == SESSION}
    assert {_session_trace(sid).split("-")[2] for sid in call_sids} == exported


def test_telemetry_that_raises_costs_the_call_nothing_and_is_logged_once(
        client, number, fresh_telemetry, collector, fast_path, monkeypatch, caplog):
    import opentelemetry.sdk.trace.export as sdk_export
    from opentelemetry.sdk.metrics import Histogram

    def broken_record(*_args, **_kwargs):
        raise RuntimeError("histogram broken")

    monkeypatch.setattr(sdk_export, "BatchSpanProcessor", BrokenBatchSpanProcessor)
    monkeypatch.setattr(Histogram, "record", broken_record)
    installed = _collecting(fresh_telemetry, collector, fast_path, metrics="otlp")
    with caplog.at_level(logging.WARNING, logger="voice_platform.telemetry"):
        for _ in range(3):
            _dials(client, number)
            installed.meter_provider.force_flush(10_000)  # the reader records the queued latencies
        fresh_telemetry.record_webhook_latency(1.0, "dialed")
    reported = [r for r in caplog.records if r.name == "voice_platform.telemetry" and "failed" in r.getMessage()]
    whats = [r.getMessage() for r in reported]
    assert any("webhook" in w for w in whats) and any("webhook.latency" in w for w in whats), whats
    assert len(whats) == len(set(whats))  # each failure once, not once per call
