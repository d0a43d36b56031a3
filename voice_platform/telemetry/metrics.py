"""The platform's instruments, made once from whichever meter provider is installed by then.

``webhook.latency`` is the SDK's own histogram; its bucket bounds come from a View that
``setup`` gives the meter provider (``views``), so every reader, the OTLP one or a test's
in-memory one, aggregates it the same way. Recording it goes through ``NeverRaising``: the
incoming-call webhook records it on every call, after the caller's answer is decided.

The webhook does not call the histogram itself: ``record_webhook_latency`` appends the value to a
queue (one ``deque.append``) and the values are recorded into the SDK histogram when a reader
collects, from an observable instrument's callback, which the SDK runs before it reads the
synchronous instruments. The histogram's ``record`` (exemplar filter, attribute lookup, a lock) then
runs on the exporter's thread, in one batch, not on the request path (bench_webhook_tracing).
Only public API: ``create_observable_gauge`` and ``Histogram.record``.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from opentelemetry import metrics

from voice_platform.telemetry.failures import report_once

TRACER_NAME = "voice_platform"
WEBHOOK_LATENCY = "webhook.latency"
# Milliseconds: a webhook answers in tens of them; past ten seconds Twilio has given up.
WEBHOOK_LATENCY_BOUNDS = (0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0,
                          5000.0, 7500.0, 10000.0)


def views() -> list:
    """The meter provider's views: ``webhook.latency``'s buckets."""
    from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View

    return [View(instrument_name=WEBHOOK_LATENCY, meter_name=TRACER_NAME,
                 aggregation=ExplicitBucketHistogramAggregation(boundaries=WEBHOOK_LATENCY_BOUNDS))]


def meter() -> metrics.Meter:
    return metrics.get_meter(TRACER_NAME)


class NeverRaising:
    """A histogram whose ``record`` cannot fail its caller (a failure is logged once)."""

    __slots__ = ("histogram",)

    def __init__(self, histogram) -> None:
        self.histogram = histogram

    def record(self, amount: float, attributes: dict[str, Any] | None = None, context=None) -> None:
        try:
            self.histogram.record(amount, attributes, context)
        except Exception:  # noqa: BLE001 - telemetry never fails a call
            report_once(f"recording {WEBHOOK_LATENCY}")


# A backstop, not a limit in practice: a reader collecting every 60 s at 400 calls/s holds 24,000.
MAX_QUEUED_LATENCIES = 100_000


class DeferredLatencies:
    """``webhook.latency`` values waiting for the next collection, recorded then in one batch."""

    __slots__ = ("histogram", "queue")

    def __init__(self, histogram: NeverRaising) -> None:
        self.histogram = histogram
        self.queue: deque[tuple[float, str]] = deque(maxlen=MAX_QUEUED_LATENCIES)

    def drain(self, _options=None) -> list:
        """The observable callback: record what queued up; it observes nothing itself."""
        queue, record = self.queue, self.histogram.record
        attributes: dict[str, dict[str, str]] = {}
        try:
            while queue:
                ms, result = queue.popleft()
                record(ms, attributes.get(result) or attributes.setdefault(result, {"result": result}))
        except Exception:  # noqa: BLE001 - a collection never fails because of this queue
            report_once(f"recording {WEBHOOK_LATENCY}")
        return []


_collecting = False


def collected(readers: bool) -> None:
    """A meter provider was installed, with a reader or not (without one the queue would only grow):
    the next ``instruments()`` comes from it."""
    global _collecting, _instruments
    _collecting = readers
    _instruments = None


class Instruments:
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
        self.webhook_latency = NeverRaising(m.create_histogram(
            WEBHOOK_LATENCY, unit="ms", description="Incoming-call webhook latency, by result"))
        self.deferred_latencies: DeferredLatencies | None = None
        if _collecting:
            self.deferred_latencies = DeferredLatencies(self.webhook_latency)
            m.create_observable_gauge(WEBHOOK_LATENCY + ".queued", callbacks=[self.deferred_latencies.drain],
                                      unit="{measurement}",
                                      description="Records the queued webhook latencies when a reader collects")


_instruments: Instruments | None = None


def instruments() -> Instruments:
    global _instruments
    if _instruments is None:
        _instruments = Instruments()
    return _instruments


def record_webhook_latency(ms: float, result: str) -> None:
    """One incoming call's latency, by what it came to (dialed, or why not); never raises.

    Queued, and recorded into the histogram at the next collection (``DeferredLatencies``).
    """
    try:
        deferred = (_instruments or instruments()).deferred_latencies
    except Exception:  # noqa: BLE001 - a meter that cannot make instruments still answers the call
        report_once("making the instruments")
        return
    if deferred is not None:
        deferred.queue.append((ms, result))


def forget() -> None:
    """The next ``instruments()`` comes from the meter provider installed by then."""
    global _instruments, _collecting
    _instruments = None
    _collecting = False
