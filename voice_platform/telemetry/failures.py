"""Telemetry that fails is reported once and then ignored: it must never fail or delay a call.

A broken exporter, processor or instrument would otherwise fail on every request; a log line per
call would then be its own outage, so each kind of failure is logged (with its traceback) the
first time only.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("voice_platform.telemetry")
_reported: set[str] = set()
_lock = threading.Lock()


def report_once(what: str) -> None:
    """Call from an ``except`` block: logs the exception under ``what`` unless it was logged before."""
    with _lock:
        if what in _reported:
            return
        _reported.add(what)
    log.warning("telemetry: %s failed; the call goes on without it (logged once)", what, exc_info=True)


def forget() -> None:
    """A new setup reports its own failures again."""
    with _lock:
        _reported.clear()
