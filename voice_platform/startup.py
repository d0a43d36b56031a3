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
    _start_telemetry()
    _sync_tool_registry()
    log.info("backend started")


def _start_telemetry() -> None:
    """OpenTelemetry for the web process, when configured; a bad setting is logged, never fatal."""
    from voice_platform import telemetry

    telemetry.install_log_ids()
    try:
        telemetry.setup("web")
    except Exception:
        log.exception("telemetry could not start; running without it")


def _sync_tool_registry() -> None:
    """The catalogue follows the code; a failure is logged, the backend still starts."""
    try:
        from voice_platform.db import session_scope
        from voice_platform.tools.registry import sync_with_db

        with session_scope() as session:
            sync_with_db(session)
    except Exception:
        log.exception("tool registry sync failed; the tool catalogue may be stale")
