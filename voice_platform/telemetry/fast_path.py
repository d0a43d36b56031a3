"""The seam: the only module of product code that touches OpenTelemetry's private internals.

The fast path puts each incoming call's ``WebhookTrace`` (plain values, two spans) straight into
the batch span processor's queue, where our OTLP encoder (``otlp_encoder``) writes it on the
export thread: no SDK span objects on the request (bench/RESULTS.md has what that is worth). It
needs two things the SDK does not publish:

- ``BatchSpanProcessor._batch_processor.emit``: the queue itself. ``BatchSpanProcessor.on_end``
  (public) asks ``span.context.trace_flags`` first, which a ``WebhookTrace`` does not have;
- ``ParentBased._root``: to know once, at setup, that the sampler keeps every root span, so
  the sampler is not asked per call (when it cannot be known, it is asked, through its public
  ``should_sample``).

``webhook_traces`` checks for the queue once, at setup. When an SDK release keeps it elsewhere
it logs one warning and answers None, and ``setup`` installs the public path (the official
exporter, the SDK's spans) instead: calls never depend on these internals being there.
"""

from __future__ import annotations

import logging
from random import getrandbits

from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanKind

from voice_platform.telemetry.webhook_spans import WebhookTrace

log = logging.getLogger(__name__)


def _queue(batch):
    """The bound ``emit`` of ``batch``'s queue, or None when this SDK does not have it there."""
    emit = getattr(getattr(batch, "_batch_processor", None), "emit", None)  # noqa: SLF001 - the seam
    return emit if callable(emit) else None


def samples_every_root(sampler) -> bool:
    """The default sampler (parent-based, always on) keeps every root span: no need to ask it per call."""
    return sampler is ALWAYS_ON or (isinstance(sampler, ParentBased)
                                    and getattr(sampler, "_root", None) is ALWAYS_ON)  # noqa: SLF001 - the seam


class FastWebhookTraces:
    """Makes ``WebhookTrace``s and queues the finished ones on the batch processor's export thread."""

    def __init__(self, provider, emit, scope_name: str) -> None:
        self._provider = provider
        self._emit = emit
        self.scope = InstrumentationScope(scope_name)
        self.sampler = provider.sampler
        self.sample_all = samples_every_root(self.sampler)

    @property
    def resource(self):
        return self._provider.resource  # read per export: the SDK updates it in a forked child

    def finish(self, trace: WebhookTrace) -> None:
        self._emit(trace)

    def webhook_trace(self, route: str) -> WebhookTrace | None:
        trace_id = getrandbits(128) or 1
        if not self.sample_all and not self.sampler.should_sample(
                None, trace_id, "POST " + route, SpanKind.SERVER,
                {"http.request.method": "POST", "http.route": route}).decision.is_sampled():
            return None
        return WebhookTrace(self, route, trace_id)


def webhook_traces(provider, batch, scope_name: str) -> FastWebhookTraces | None:
    """The fast path for ``batch`` (a ``BatchSpanProcessor`` in front of our exporter), or None
    (logged once, as a warning) when this SDK does not have the queue it needs."""
    emit = _queue(batch)
    if emit is None:
        log.warning("telemetry: %s.%s has no batch queue where the fast path expects it (another "
                    "OpenTelemetry SDK version?); webhook traces use the SDK's public API instead",
                    type(batch).__module__, type(batch).__qualname__)
        return None
    return FastWebhookTraces(provider, emit, scope_name)
