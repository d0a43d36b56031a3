"""One phone call is one trace: the incoming webhook's spans, then the worker's job (text mode,
the real Gemini plugin against the fake Live server) with one tool call, all under one trace id;
and nothing exported (spans, metric labels, log records) carries a secret or a full number."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid

import pytest
from livekit.agents.testing import fake_job_context
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.runtime.conftest import attach
from tests.support.api import create_agent, signup, unique_phone
from tests.support.waiting import until
from tests.telemetry.support import reset_telemetry
from tests.telephony.voice_support import AUTH_TOKEN, call_params, post, twiml, voice_settings  # noqa: F401
from tests.worker.conftest import load_call
from voice_platform import telemetry
from worker import entrypoint as entry

INCOMING = "/api/v1/voice/twilio/incoming"
CALLER = "+15550001111"


@pytest.fixture()
def exported():
    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    reset_telemetry()
    telemetry.setup("worker", span_exporter=spans, metric_reader=reader)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    telemetry.install_log_ids(handler)
    logging.getLogger().addHandler(handler)
    previous = logging.getLogger().level
    logging.getLogger().setLevel(logging.INFO)
    yield spans, reader, records
    logging.getLogger().removeHandler(handler)
    logging.getLogger().setLevel(previous)
    reset_telemetry()


async def test_a_call_is_one_trace_from_the_webhook_to_the_last_tool_call(client, registry, gemini, exported,
                                                                          voice_settings):
    spans, reader, records = exported
    admin = signup(client, "trace")
    number = unique_phone()
    agent = create_agent(client, admin, phone_number=number, greeting="Hello!", system_prompt="You answer calls.")
    attach(client, admin, agent["id"], "Call_control")
    spans.clear()

    root = twiml(post(client, INCOMING, call_params(number, From=CALLER)))
    session_id = uuid.UUID(root.find("Dial/Sip").text.split("X-Vp-Session=")[1])
    gemini.replies = [[{"say": "Hello!"}], [{"call": "end_call"}], [{"say": "Goodbye!"}]]
    metadata = json.dumps({"session_id": str(session_id), "agent_id": agent["id"]})
    with fake_job_context(room=None, job_metadata=metadata) as ctx:
        job = asyncio.create_task(entry.answer(ctx))
        await until(lambda: load_call(session_id).setup_ours_ms is not None)
        await ctx.primary_session.run(user_input="That's all, bye.")
        await asyncio.wait_for(job, 20)

    finished = spans.get_finished_spans()
    by_name = {}
    for span in finished:
        by_name.setdefault(span.name, []).append(span)
    webhook = by_name[f"POST {INCOMING}"][0]
    job_span = by_name["call.worker_job"][0]
    tool = by_name["tool.call"][0]
    # one trace: every span of the call, ours and LiveKit's, carries the webhook's trace id
    assert {s.context.trace_id for s in finished} == {webhook.context.trace_id}
    assert webhook.parent is None
    children = {s.name for s in finished if s.parent and s.parent.span_id == webhook.context.span_id}
    assert children == {"calls.open_session"}
    opened = by_name["calls.open_session"][0]
    assert job_span.parent.span_id == opened.context.span_id  # the worker continues the webhook's trace
    ids = {s.context.span_id: s for s in finished}
    ancestor, chain = tool, []
    while ancestor.parent is not None:
        ancestor = ids[ancestor.parent.span_id]
        chain.append(ancestor.name)
    assert "call.worker_job" in chain and chain[-1] == f"POST {INCOMING}"
    assert (tool.attributes["tool.name"], tool.attributes["tool.function"], tool.attributes["tool.outcome"]) == (
        "Call_control", "end_call", "ok")
    assert job_span.attributes["call.end_reason"] == "agent_ended"
    assert load_call(session_id).trace_context.split("-")[1] == format(webhook.context.trace_id, "032x")
    detail = client.get(f"/api/v1/calls/{session_id}", headers=admin.headers).json()  # what the call page shows
    assert detail["trace_id"] == format(webhook.context.trace_id, "032x") and detail["setup_ours_ms"] is not None
    assert any(span.name.startswith("agent_session") or span.name.startswith("agent_turn") for span in finished), \
        "LiveKit's own spans join the trace"

    metrics = reader.get_metrics_data()
    names = {m.name: m for rm in metrics.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert {"calls.started", "calls.ended", "call.setup_time", "call.duration", "tool.calls", "tool.latency",
            "webhook.latency"} <= set(names)
    tool_points = names["tool.calls"].data.data_points
    assert any(p.attributes == {"tool": "Call_control", "function": "end_call", "outcome": "ok"} for p in tool_points)
    webhook_points = names["webhook.latency"].data.data_points
    assert any(p.attributes == {"result": "dialed"} for p in webhook_points)

    # the secret scan: every exported span attribute and event, metric label and log record
    forbidden = [AUTH_TOKEN, "s3cret&<pw>", "test-key-not-real", admin.token, CALLER, number, CALLER[1:], number[1:]]
    texts = []
    for span in finished:
        texts += [span.name, *map(str, span.attributes.values())]
        texts += [f"{e.name} {dict(e.attributes or {})}" for e in span.events]
    for rm in metrics.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                texts += [str(dict(p.attributes)) for p in m.data.data_points]
    texts += [r.getMessage() for r in records]
    leaks = [(secret, text) for secret in forbidden for text in texts if secret in text]
    assert leaks == []
    assert any(r.trace_id for r in records), "log records carry the trace id"
    assert any(telemetry.mask_number(number) in text for text in texts)  # numbers appear masked, if at all
