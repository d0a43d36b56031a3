"""OTLP/HTTP span export whose protobuf is written directly, for the web process's hot path.

OpenTelemetry's own OTLP exporter builds a protobuf message object per span, attribute and
value and serialises the tree, on the same GIL as the requests; for the incoming-call webhook
that was a large share of its throughput (bench/RESULTS.md). ``encode_spans`` writes the same ``ExportTraceServiceRequest`` bytes
straight from the SDK's spans (the wire format is small and fixed: varints, fixed64 times,
length-prefixed strings and messages), with the resource and scope encoded once per export.
``tests/telemetry/test_otlp_encoding.py`` decodes its output with the official protobuf classes
and compares it with OpenTelemetry's encoder on generated spans of every shape.

``SpanExporter`` posts it like the official HTTP exporter: ``Content-Type:
application/x-protobuf``, the configured headers, the timeout, and retries with backoff on the
statuses the OTLP specification calls retryable, within the timeout. A collector that is down
costs the export thread, never a request. It is used only behind ``fast_path`` (``TELEMETRY_FAST_PATH``),
and reads only what Settings gives it (endpoint, headers, timeout): the official exporter is the
one that honours every other ``OTEL_EXPORTER_OTLP_*`` variable.

This module imports the webhook's trace type (``webhook_spans``), never the reverse.
"""

from __future__ import annotations

import logging
import random
import struct
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import requests
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter as _SdkSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from voice_platform.telemetry.webhook_spans import SESSION_SPAN, WebhookTrace

log = logging.getLogger(__name__)

_INT64 = (-(1 << 63), (1 << 63) - 1)
_DOUBLE = struct.Struct("<d").pack
_FIXED64 = struct.Struct("<Q").pack
_FIXED32 = struct.Struct("<I").pack
# SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK, and with SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK.
_FLAGS_LOCAL = b"\x85\x01" + _FIXED32(0x100)
_FLAGS_REMOTE = b"\x85\x01" + _FIXED32(0x300)
_LINK_FLAGS_LOCAL = b"\x35" + _FIXED32(0x100)
_LINK_FLAGS_REMOTE = b"\x35" + _FIXED32(0x300)


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int64: two's complement, ten bytes
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field (string, bytes or message)."""
    return tag + _varint(len(payload)) + payload


def _text(value: str) -> bytes:
    return value.encode("utf-8", "replace")  # a lone surrogate does not lose the whole batch


def _any_value(value: Any) -> bytes | None:
    """AnyValue's body (a oneof: its member is written even when it is its type's default)."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _field(b"\x0a", _text(value))
    if isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            return None
        return b"\x18" + _varint(value)
    if isinstance(value, float):
        return b"\x21" + _DOUBLE(value)
    if isinstance(value, bytes):
        return _field(b"\x3a", value)
    if isinstance(value, Sequence):
        items = [_any_value(item) for item in value]
        if any(item is None for item in items):
            return None
        return _field(b"\x2a", b"".join(_field(b"\x0a", item) for item in items))
    if isinstance(value, Mapping):
        pairs = [_key_value(str(k), v) for k, v in value.items()]
        if any(pair is None for pair in pairs):
            return None
        return _field(b"\x32", b"".join(_field(b"\x0a", pair) for pair in pairs))
    return None


def _key_value(key: str, value: Any) -> bytes | None:
    body = _any_value(value)
    if body is None:
        return None
    return _field(b"\x0a", _text(key)) + _field(b"\x12", body)


# Encoded attributes (KeyValue with its field tag) by (tag, key, value): the same keys and many of
# the same values come back on every span. Bounded: cleared when it grows past _CACHED.
_pairs: dict[tuple, bytes] = {}
_CACHED = 8192


def _attributes(tag: bytes, attributes: Mapping[str, Any] | None) -> bytes:
    """Repeated KeyValue under ``tag``; a value that cannot be encoded is left out, as
    OpenTelemetry's encoder does (it logs it)."""
    if not attributes:
        return b""
    out = []
    for key, value in attributes.items():
        cacheable = value.__class__ in (str, int, bool)  # not float: -0.0 == 0.0
        if cacheable:
            encoded = _pairs.get((tag, key, value.__class__, value))
            if encoded is not None:
                out.append(encoded)
                continue
        pair = _key_value(key, value)
        if pair is None:
            log.warning("span attribute %s has a value OTLP cannot carry; left out", key)
            continue
        encoded = _field(tag, pair)
        if cacheable:
            if len(_pairs) >= _CACHED:
                _pairs.clear()
            _pairs[(tag, key, value.__class__, value)] = encoded
        out.append(encoded)
    return b"".join(out)


def _count(tag: bytes, count: int) -> bytes:
    return tag + _varint(count) if count else b""


def _trace_state(state) -> bytes:
    if not state:
        return b""
    return ",".join(f"{key}={value}" for key, value in state.items()).encode()


_TIMES = struct.Struct("<BQBQ").pack  # start and end: fields 7 and 8, fixed64 (tags 0x39, 0x41)
_OK = b"\x7a\x00"  # an empty Status: UNSET
_SIZES = [_varint(n) for n in range(2048)]  # a span's length prefix (a webhook span is ~150 bytes)
_SERVER_HEADS: dict[str, bytes] = {}  # the server span's name and kind fields, by route
_SESSION_HEAD = _field(b"\x2a", _text(SESSION_SPAN)) + b"\x30\x01"  # INTERNAL
_blocks: dict[tuple, bytes] = {}  # encoded attribute sets, by their values (of fixed types)


def _webhook(call: WebhookTrace) -> bytes:
    """A webhook call's spans as ScopeSpans' ``spans`` fields, the session's first (as the SDK's
    spans arrive: in the order they ended): ``_span``'s fields without those they never have
    (no trace state, events, links or drops; a local parent), their attribute sets encoded
    once (the route and a result, one of the organization's numbers and a refusal)."""
    trace = b"\x0a\x10" + call.trace_id.to_bytes(16, "big")
    server_id = call.span_id.to_bytes(8, "big")
    out = []
    if call.session_id:
        if call.session_error is None:
            key = (call.to, call.refusal)
            attributes = _blocks.get(key)
            if attributes is None:
                attributes = _cached(key, _attributes(b"\x4a", call.session_attributes()))
            status = _OK
        else:
            attributes, status = b"", _error(call.session_error)
        out.append(_sized(b"%b\x12\x08%b\x22\x08%b%b%b%b%b%b" % (
            trace, call.session_id.to_bytes(8, "big"), server_id, _SESSION_HEAD,
            _TIMES(0x39, call.session_start, 0x41, call.session_end), attributes, status, _FLAGS_LOCAL)))
    key = (call.route, call.status_code, call.result)
    attributes = _blocks.get(key)
    if attributes is None:
        attributes = _cached(key, _attributes(b"\x4a", call.attributes()))
    head = _SERVER_HEADS.get(call.route)
    if head is None:
        head = _SERVER_HEADS[call.route] = _field(b"\x2a", _text(call.name)) + b"\x30\x02"  # SERVER
    out.append(_sized(b"%b\x12\x08%b%b%b%b%b%b" % (
        trace, server_id, head, _TIMES(0x39, call.start_time, 0x41, call.end_time), attributes,
        _OK if call.error is None else _error(call.error), _FLAGS_LOCAL)))
    return out[0] if len(out) == 1 else out[0] + out[1]


def _cached(key: tuple, block: bytes) -> bytes:
    if len(_blocks) >= _CACHED:
        _blocks.clear()
    _blocks[key] = block
    return block


def _error(description: str) -> bytes:
    return _field(b"\x7a", (_field(b"\x12", _text(description)) if description else b"") + b"\x18\x02")  # ERROR


def _sized(span: bytes) -> bytes:
    """A ``spans`` field (2) of ScopeSpans."""
    size = len(span)
    return b"\x12" + (_SIZES[size] if size < 2048 else _varint(size)) + span


def _span(span: ReadableSpan) -> bytes:
    """One SDK span as ScopeSpans' ``spans`` field, its fields in their numbers' order (a webhook
    call's two: ``_webhook``)."""
    if span.__class__ is WebhookTrace:
        return _webhook(span)
    context = span.get_span_context()
    parent = span.parent
    parts = [
        b"\x0a\x10", context.trace_id.to_bytes(16, "big"),
        b"\x12\x08", context.span_id.to_bytes(8, "big"),
    ]
    state = _trace_state(context.trace_state)
    if state:
        parts.append(_field(b"\x1a", state))
    if parent is not None:
        parts += (b"\x22\x08", parent.span_id.to_bytes(8, "big"))
    if span.name:
        parts.append(_field(b"\x2a", _text(span.name)))
    parts += (b"\x30", _varint(span.kind.value + 1),  # OTLP's kinds start at INTERNAL = 1
              b"\x39", _FIXED64(span.start_time or 0), b"\x41", _FIXED64(span.end_time or 0),
              _attributes(b"\x4a", span.attributes), _count(b"\x50", span.dropped_attributes))
    for event in span.events:
        body = (b"\x09" + _FIXED64(event.timestamp) + (_field(b"\x12", _text(event.name)) if event.name else b"")
                + _attributes(b"\x1a", event.attributes) + _count(b"\x20", event.dropped_attributes))
        parts.append(_field(b"\x5a", body))
    parts.append(_count(b"\x60", span.dropped_events))
    for link in span.links:
        link_state = _trace_state(link.context.trace_state)
        body = (b"\x0a\x10" + link.context.trace_id.to_bytes(16, "big")
                + b"\x12\x08" + link.context.span_id.to_bytes(8, "big")
                + (_field(b"\x1a", link_state) if link_state else b"")
                + _attributes(b"\x22", link.attributes) + _count(b"\x28", link.dropped_attributes)
                + (_LINK_FLAGS_REMOTE if link.context.is_remote else _LINK_FLAGS_LOCAL))
        parts.append(_field(b"\x6a", body))
    parts.append(_count(b"\x70", span.dropped_links))
    status = span.status
    body = (_field(b"\x12", _text(status.description)) if status.description else b"") + \
        (b"\x18" + _varint(status.status_code.value) if status.status_code.value else b"")
    parts += (_field(b"\x7a", body), _FLAGS_REMOTE if parent is not None and parent.is_remote else _FLAGS_LOCAL)
    return _field(b"\x12", b"".join(parts))


def _scope(scope) -> bytes:
    if scope is None:
        return b""
    return ((_field(b"\x0a", _text(scope.name)) if scope.name else b"")
            + (_field(b"\x12", _text(scope.version)) if scope.version else b"")
            + _attributes(b"\x1a", scope.attributes))


def encode_spans(spans: Sequence[ReadableSpan]) -> bytes:
    """``ExportTraceServiceRequest`` for ``spans``: one ResourceSpans per resource, one
    ScopeSpans per instrumentation scope within it, in the order they first appear."""
    # Grouped by identity: a Resource hashes by serialising its attributes to JSON, on every span.
    grouped: dict[int, tuple[Any, dict[int, tuple[Any, list[bytes]]]]] = {}
    for span in spans:
        resource, scope = span.resource, span.instrumentation_scope or None
        scopes = grouped.setdefault(id(resource), (resource, {}))[1]
        scopes.setdefault(id(scope), (scope, []))[1].append(_span(span))
    request = []
    for resource, scopes in grouped.values():
        body = [_field(b"\x0a", _attributes(b"\x0a", resource.attributes))]
        for scope, encoded in scopes.values():
            scope_body = [_field(b"\x0a", _scope(scope))]
            scope_body += encoded
            if scope is not None and scope.schema_url:
                scope_body.append(_field(b"\x1a", _text(scope.schema_url)))
            body.append(_field(b"\x12", b"".join(scope_body)))
        if resource.schema_url:
            body.append(_field(b"\x1a", _text(resource.schema_url)))
        request.append(_field(b"\x0a", b"".join(body)))
    return b"".join(request)


SLICE = 128  # queue items (a webhook call: 2 spans) encoded between two chances for the request threads to take the GIL


def _in_slices(spans: Sequence[ReadableSpan]):
    """``encode_spans`` of ``spans`` (queue items) a slice at a time, the GIL offered to other threads between
    slices, so a batch of thousands does not stall the requests for its whole encoding (it showed
    in the webhook's p99, bench/RESULTS.md). Concatenated requests are one
    request (protobuf merges repeated fields): each slice's ResourceSpans follow the last one's."""
    for start in range(0, len(spans), SLICE):
        if start:
            time.sleep(0)
        yield encode_spans(spans[start:start + SLICE])


# OTLP/HTTP: the statuses to retry (the specification), with exponential backoff and jitter.
RETRYABLE = frozenset({429, 502, 503, 504})


class SpanExporter(_SdkSpanExporter):
    """Posts ``encode_spans`` to an OTLP/HTTP traces endpoint (``…/v1/traces``)."""

    def __init__(self, endpoint: str, *, headers: Mapping[str, str] | None = None, timeout: float = 10.0,
                 session: requests.Session | None = None) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._session = session or requests.Session()
        self._session.headers.update({"Content-Type": "application/x-protobuf", **(headers or {})})
        self._stopped = threading.Event()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._stopped.is_set():
            return SpanExportResult.FAILURE
        try:
            body = b"".join(_in_slices(spans))
        except Exception:  # noqa: BLE001 - a batch that cannot be encoded is dropped, not retried
            log.exception("could not encode %d spans", len(spans))
            return SpanExportResult.FAILURE
        deadline = time.monotonic() + self.timeout
        delay = 0.5
        while True:
            remaining = deadline - time.monotonic()
            try:
                response = self._session.post(self.endpoint, data=body, timeout=max(remaining, 0.1))
            except requests.RequestException as exc:
                status, reason = None, exc.__class__.__name__
            else:
                if response.ok:
                    return SpanExportResult.SUCCESS
                status, reason = response.status_code, response.reason
            wait = delay * (0.8 + 0.4 * random.random())
            if (status is not None and status not in RETRYABLE) or time.monotonic() + wait >= deadline \
                    or self._stopped.wait(wait):
                log.warning("spans not exported to %s (%s %s)", self.endpoint, status or "", reason)
                return SpanExportResult.FAILURE
            delay *= 2

    def shutdown(self) -> None:
        self._stopped.set()
        self._session.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
