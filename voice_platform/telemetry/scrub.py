"""What telemetry may carry: phone numbers cut to their last four digits, paths without tokens.

Frameworks put the raw request path and query on spans, and ours carry invitation tokens in
paths, signed links and OAuth codes in queries; the span processor here cleans them before any
exporter sees them.
"""

from __future__ import annotations

import re
from functools import lru_cache

from opentelemetry.sdk.trace import SpanProcessor

_NUMBER = re.compile(r"\+?\d{7,15}")
_TOKENISH = re.compile(r"^[A-Za-z0-9_\-~.%]{20,}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@lru_cache(maxsize=4096)
def mask_number(number: str | None) -> str:
    """A phone number as telemetry may carry it: its last 4 digits (cached: the webhook masks the
    dialed number, one of the platform's own, on every call)."""
    digits = "".join(ch for ch in (number or "") if ch.isdigit())
    return "***" + digits[-4:] if digits else ""


def scrub_path(path: str) -> str:
    """``/api/v1/invitations/<token>`` -> ``/api/v1/invitations/:redacted`` (ids stay: they are not secrets)."""
    parts = []
    for segment in path.split("?")[0].split("/"):
        if _UUID.match(segment):
            parts.append(segment)
        elif _TOKENISH.match(segment):
            parts.append(":redacted")
        elif _NUMBER.fullmatch(segment.replace("%2B", "+")):
            parts.append(mask_number(segment))
        else:
            parts.append(segment)
    return "/".join(parts)


class Scrub(SpanProcessor):
    """Runs first on every span: path segments that look like tokens or phone numbers are
    masked, query values dropped, and any E.164 number in a string attribute cut to its last 4."""

    def on_start(self, span, parent_context=None) -> None:
        attributes = getattr(span, "attributes", None) or {}
        for key, value in list(attributes.items()):
            if not isinstance(value, str):
                continue
            if key == "url.query":
                span.set_attribute(key, "&".join(part.split("=", 1)[0] + "=" for part in value.split("&") if part))
            elif key in ("url.path", "url.full", "http.target"):
                span.set_attribute(key, scrub_path(value))
            elif _NUMBER.search(value):
                span.set_attribute(key, _NUMBER.sub(lambda m: mask_number(m.group(0)), value))

    def on_end(self, span) -> None:
        return None

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
