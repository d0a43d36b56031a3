"""Work every backend process does once when it starts (API alone or inside Reflex)."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)
_done = False


def on_startup() -> None:
    """Idempotent: Reflex and a standalone API may both call it."""
    global _done
    if _done:
        return
    _done = True
    log.info("backend started")
