"""What tracing costs the Twilio webhook: the ``bench_webhook`` server with telemetry off and on.

The same webhook (``bench/webhook_app.py`` under granian, one worker) is started on one seeded
PostgreSQL database (PostgreSQL only, to keep the run short):

- off: ``OTEL_SDK_DISABLED=true`` (what ``bench_webhook`` runs);
- on: ``OTEL_EXPORTER_OTLP_ENDPOINT`` pointing at a local OTLP/HTTP sink, a threaded HTTP server
  in this process answering 200 to ``POST /v1/traces|metrics|logs`` and counting requests and
  bytes (trace payloads are decoded after the runs to count the spans really exported), with
  the fast path (``TELEMETRY_FAST_PATH``, the default: our encoder behind the seam);
- public: the same with ``TELEMETRY_FAST_PATH=false``, the SDK's public API and official
  exporter only: what the seam is worth;
- control: telemetry off, a fixed amount of plain CPU added per call.

All servers stay up; saturation with ``wrk`` (as ``bench_webhook``: 64 keep-alive connections,
pre-signed requests, each with a new CallSid) alternates their rounds, ``ROUNDS`` each, median
kept; then off and on get the open-loop 400 calls/s latency run. Target: throughput with tracing
on >= 0.9x off.

Usage: ``.venv/bin/python -m bench.bench_webhook_tracing`` (prints the section) or
``.venv/bin/python -m bench.run webhook_tracing`` (also records it in bench/RESULTS.md).
"""

from __future__ import annotations

import gzip
import os
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench.bench_webhook import (
    CONNECTIONS, PACED_RATE, PACED_SECONDS, ROOT, SATURATE_SECONDS, SETTINGS_ENV, Saturation, _load, _paced,
    _percentile, _saturate, _seed, _settled_count, _start_server, _write_requests,
)

ROUNDS = 7  # off/on/public/control alternated; single rounds vary a lot on a shared machine (bench/RESULTS.md)
TARGET = 0.9
CONTROL_WORK_US = 10  # the control server: telemetry off, this much plain CPU added per call
METRIC_INTERVAL_MS = 5000  # so metrics are exported during the run too (default 60 s)
PUBLIC_SERVICE = "bench-webhook-public-path"


# ---------------------------------------------------------------- OTLP sink


class Sink:
    """OTLP/HTTP receiver that accepts everything and counts it."""

    KINDS = ("traces", "metrics", "logs")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = dict.fromkeys(self.KINDS, 0)
        self.bytes = dict.fromkeys(self.KINDS, 0)
        self.other = 0
        self.trace_bodies: list[bytes] = []
        self.metric_bodies: list[bytes] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                kind = self.path.rstrip("/").rsplit("/", 1)[-1]
                with sink.lock:
                    if self.path.startswith("/v1/") and kind in sink.KINDS:
                        sink.requests[kind] += 1
                        sink.bytes[kind] += len(body)
                        if kind == "traces":
                            sink.trace_bodies.append(body)
                        elif kind == "metrics":
                            sink.metric_bodies.append(body)
                    else:
                        sink.other += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def snapshot(self) -> dict:
        with self.lock:
            return {"requests": dict(self.requests), "bytes": dict(self.bytes), "traces_seen": len(self.trace_bodies)}

    def spans(self, start: int = 0, stop: int | None = None) -> tuple[int, dict[str, int]]:
        """Spans in the trace payloads ``start:stop`` received, and their count per name."""
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        with self.lock:
            bodies = self.trace_bodies[start:stop]
        names: dict[str, int] = {}
        for body in bodies:
            req = ExportTraceServiceRequest()
            req.ParseFromString(body)
            for rs in req.resource_spans:
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        names[span.name] = names.get(span.name, 0) + 1
        return sum(names.values()), names

    def webhook_latency_count(self, skip_service: str = PUBLIC_SERVICE) -> int:
        """Calls counted by the last exported ``webhook.latency`` (cumulative), summed over results,
        of every server but ``skip_service``."""
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

        with self.lock:
            bodies = list(self.metric_bodies)
        last = 0
        for body in bodies:
            request = ExportMetricsServiceRequest.FromString(body)
            for rm in request.resource_metrics:
                service = {kv.key: kv.value.string_value for kv in rm.resource.attributes}.get("service.name")
                if service == skip_service:
                    continue
                for sm in rm.scope_metrics:
                    for metric in sm.metrics:
                        if metric.name == "webhook.latency":
                            last = sum(point.count for point in metric.histogram.data_points)
        return last

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- run


@dataclass
class Side:
    label: str
    runs: list[Saturation] = field(default_factory=list)
    paced: dict = field(default_factory=dict)
    rows: list[int] = field(default_factory=list)


EXPORT_DELAY_S = 5.0  # the batch span processor's schedule delay (OTEL_BSP_SCHEDULE_DELAY's default)


def _wait_exported(sink: Sink, quiet: float = EXPORT_DELAY_S + 1, limit: float = 30.0) -> None:
    """Until the sink has seen no trace export for ``quiet`` s: longer than the batch processor's
    schedule delay, so its last partial batch has been sent too."""
    deadline, last, since = time.monotonic() + limit, -1, time.monotonic()
    while time.monotonic() < deadline:
        seen = sink.snapshot()["traces_seen"]
        if seen != last:
            last, since = seen, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.1)  # quiescence poll, not a readiness wait


def _measure(url: str, pg_name: str, tmp: Path, sink: Sink) -> dict:
    from tests.support.databases import TestDatabase
    from voice_platform.db import dispose_engines
    from voice_platform.settings import reset_settings_cache

    load = [_load()]
    os.environ.update(SETTINGS_ENV, DATABASE_URL=url)
    reset_settings_cache()
    dispose_engines()
    TestDatabase(url=url, name=pg_name).migrate()
    _seed()
    dispose_engines()

    base = {**os.environ, **SETTINGS_ENV, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    env_off = {**base, "OTEL_SDK_DISABLED": "true"}
    env_control = {**env_off, "BENCH_EXTRA_WORK_US": str(CONTROL_WORK_US)}
    env_on = {**base, "OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint,
              "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_METRIC_EXPORT_INTERVAL": str(METRIC_INTERVAL_MS),
              "TELEMETRY_FAST_PATH": "true"}
    for key in ("OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER"):
        env_off.pop(key, None)
        env_on.pop(key, None)
    # Its own service name, so the sink tells its webhook.latency exports from the fast path's.
    env_public = {**env_on, "TELEMETRY_FAST_PATH": "false", "OTEL_SERVICE_NAME": PUBLIC_SERVICE}
    servers = {}
    sides = {"off": Side("telemetry off (`OTEL_SDK_DISABLED=true`)"),
             "on": Side("telemetry on (OTLP/HTTP to the sink, fast path)"),
             "public": Side("telemetry on, public path only (`TELEMETRY_FAST_PATH=false`)"),
             "control": Side(f"control: telemetry off, {CONTROL_WORK_US} µs of plain CPU added per call")}
    exported: dict = {}
    try:
        servers["off"] = _start_server(env_off, tmp)
        servers["on"] = _start_server(env_on, tmp)
        servers["public"] = _start_server(env_public, tmp)
        servers["control"] = _start_server(env_control, tmp)
        warm_rps = 0.0
        for key, server in servers.items():
            warm = _saturate(server.port, _write_requests(tmp / f"warm-{key}.req", server.port, 5000), tmp, 2)
            warm_rps = max(warm_rps, warm.rps)
        _wait_exported(sink)
        per_round = max(5000, int(warm_rps * SATURATE_SECONDS * 2))
        on_answers = 0
        traces_from = sink.snapshot()["traces_seen"]
        for i in range(ROUNDS):
            for key in ("off", "on", "public", "control"):
                server = servers[key]
                requests = _write_requests(tmp / f"{key}{i}.req", server.port, per_round)
                before = _settled_count()
                result = _saturate(server.port, requests, tmp, SATURATE_SECONDS)
                result.rows = _settled_count() - before
                sides[key].runs.append(result)
                if key in ("on", "public"):
                    on_answers += result.rows
                    _wait_exported(sink)  # the next round does not share the CPU with the export
        traces_to = sink.snapshot()["traces_seen"]
        spans, names = sink.spans(traces_from, traces_to)
        exported = {"saturated_spans": spans, "saturated_names": names, "saturated_calls": on_answers}
        for key in ("off", "on"):
            server = servers[key]
            paced_file = _write_requests(tmp / f"paced-{key}.req", server.port, PACED_RATE * PACED_SECONDS)
            before = _settled_count()
            sides[key].paced = _paced(server.port, paced_file)
            sides[key].paced["rows"] = _settled_count() - before
            if key == "on":
                _wait_exported(sink)
        paced_spans, _ = sink.spans(traces_to)
        exported.update(paced_spans=paced_spans, paced_calls=sides["on"].paced["rows"])
    finally:
        for server in servers.values():
            server.stop()
        dispose_engines()
    load.append(_load())
    exported["sink"] = sink.snapshot()
    exported["latency_count"] = sink.webhook_latency_count()
    return {"sides": sides, "exported": exported, "load": load}


def _section(result: dict) -> str:
    sides, ex = result["sides"], result["exported"]
    off, on = sides["off"], sides["on"]
    med = {k: statistics.median(r.rps for r in s.runs) for k, s in sides.items()}
    ratio = med["on"] / med["off"]
    paced = {k: s for k, s in sides.items() if s.paced}  # the public and control servers have no paced run
    lat = {k: s.paced["latencies_ms"] for k, s in paced.items()}

    def row(key: str) -> str:
        s = sides[key]
        runs = ", ".join(f"{r.rps:,.0f}" for r in s.runs)
        wrk_p99 = statistics.median(r.p99_ms for r in s.runs)
        latency = (f"{_percentile(lat[key], 50):.1f} / {_percentile(lat[key], 95):.1f} / {_percentile(lat[key], 99):.1f} | "
                   f"{s.paced['achieved_rate']:.0f}" if key in lat else "— | —")
        return f"| {s.label} | {med[key]:,.0f} | {runs} | {wrk_p99:.1f} | {latency} |"

    bad = sum(r.bad for s in sides.values() for r in s.runs) + sum(s.paced["bad"] for s in paced.values())
    sink = ex["sink"]
    kinds = ", ".join(f"{k}: {sink['requests'][k]} requests / {sink['bytes'][k] / 1024:,.0f} KiB"
                      for k in Sink.KINDS)
    names = ", ".join(f"`{n}` {c:,}" for n, c in sorted(ex["saturated_names"].items(), key=lambda x: -x[1]))
    per_call = ex["saturated_spans"] / max(1, ex["saturated_calls"])
    paced_per_call = ex["paced_spans"] / max(1, ex["paced_calls"])
    verdict = (f"- Target met: tracing on runs at {ratio:.3f}× the throughput with it off (≥ {TARGET}×)."
               if ratio >= TARGET else
               f"- Target missed: tracing on runs at {ratio:.3f}× the throughput with it off, not ≥ {TARGET}×.")
    p99_on, p99_off = _percentile(lat["on"], 99), _percentile(lat["off"], 99)
    pairs = ", ".join(f"{b.rps / a.rps:.2f}×" for a, b in zip(off.runs, on.runs))
    short = [s.label.split(" (")[0] for s in paced.values() if s.paced["achieved_rate"] < 0.95 * PACED_RATE]
    paced_note = (f" The paced client did not reach {PACED_RATE}/s against {' and '.join(short)} (the server saturates "
                  "below it on this machine): those latencies are queueing, not a request's own time."
                  if short else "")
    return f"""## Twilio webhook with tracing on and off (`bench/bench_webhook_tracing.py`)

The webhook of `bench/bench_webhook.py` (`POST /api/v1/voice/twilio/incoming` served by granian,
one worker, `bench/webhook_app.py`) started on one seeded PostgreSQL database: once with
`OTEL_SDK_DISABLED=true`, twice with `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at a local OTLP/HTTP
sink (`http/protobuf`, a threaded HTTP server in the bench process answering 200 to
`POST /v1/traces|metrics|logs`; metrics exported every {METRIC_INTERVAL_MS / 1000:g} s): with the fast path (the default)
and with `TELEMETRY_FAST_PATH=false` (the SDK's public API and official exporter only); and a control server.
Saturation: `wrk`, one thread, {CONNECTIONS} keep-alive connections, {SATURATE_SECONDS} s per run, every request a new
CallSid with a valid signature, rounds alternated {ROUNDS} times (after each traced round the bench waits for the
span exports to drain), median shown. Latency: `bench/webhook_client.py`, open loop at {PACED_RATE} calls/s for
{PACED_SECONDS} s, from each call's due time. PostgreSQL, the servers, the sink and `wrk` share the
machine's {os.cpu_count()} cores; 1-min load average before/after: {result['load'][0]} / {result['load'][1]}.

| server | webhook median (req/s) | runs (req/s) | wrk p99 saturated (ms) | p50 / p95 / p99 at {PACED_RATE}/s (ms) | achieved (/s) |
|---|---|---|---|---|---|
{row('off')}
{row('on')}
{row('public')}
{row('control')}

Throughput on / off: **{ratio:.3f}×** (target ≥ {TARGET}×); per round (on / the off round just before): {pairs}.
p99 at {PACED_RATE}/s: {p99_on:.1f} ms on vs {p99_off:.1f} ms off.{paced_note}

{verdict}
- Public path: tracing through the SDK's public API only runs at {med['public'] / med['off']:.3f}× the off
  server; the fast path at {med['on'] / med['public']:.2f}× the public path.
- Control: the server with telemetry off and {CONTROL_WORK_US} µs of plain CPU added to every call runs at
  {med['control'] / med['off']:.3f}× the off server ({med['control'] / med['on']:.2f}× the traced one).

Exported (what the sink received from the two "on" servers): {kinds}; the fast path server's last
`webhook.latency` export counts {ex['latency_count']:,} calls (cumulative since it started, warm-up included).
Saturated rounds of both: {ex['saturated_spans']:,} spans for {ex['saturated_calls']:,} webhooks written ({per_call:.2f} per call;
by name: {names}). Paced run: {ex['paced_spans']:,} spans for {ex['paced_calls']:,} webhooks ({paced_per_call:.2f} per call).
Two spans per call (the server span and `calls.open_session`) means every call's trace was exported;
fewer would mean the batch span processor's queue (16,384 items: calls on the fast path, spans on the public
one) overflowed and dropped spans, i.e.
part of the tracing work was not done. Answers that were not a 200 `<Dial>`: {bad}. The throwaway database's plans have no
concurrency limit or minute cap (every bench call holds a slot, nobody hangs up).
"""


def main() -> str:
    from tests.support.databases import create_postgres_database, drop_postgres_database, postgres_available

    if not shutil.which("wrk"):
        raise SystemExit("wrk is required: apt-get install -y wrk")
    if not postgres_available():
        raise SystemExit("PostgreSQL is not reachable")
    saved = dict(os.environ)
    tmp = Path(tempfile.mkdtemp(prefix="bench-webhook-tracing-"))
    sink = Sink()
    name, url = create_postgres_database("vp_bench")
    try:
        print("  webhook tracing off/on on PostgreSQL ...", flush=True)
        result = _measure(url, name, tmp, sink)
    finally:
        sink.close()
        drop_postgres_database(name)
        os.environ.clear()
        os.environ.update(saved)
        from voice_platform.settings import reset_settings_cache

        reset_settings_cache()
        shutil.rmtree(tmp, ignore_errors=True)
    return _section(result)


if __name__ == "__main__":
    print(main())
