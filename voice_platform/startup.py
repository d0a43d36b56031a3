"""Work every backend process does once when it starts (API alone or inside Reflex)."""

from __future__ import annotations

import logging
import threading

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
    _start_mail_recovery()
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


MAIL_RECOVERY_INTERVAL_SECONDS = 60.0


def _start_mail_recovery() -> None:
    """Password-reset mails a stopped process never sent leave from here (``resend_unsent``)."""
    threading.Thread(target=_mail_recovery_loop, args=(threading.Event(),), name="mail-recovery",
                     daemon=True).start()


def _mail_recovery_loop(stop: threading.Event) -> None:
    from voice_platform.services import password_reset

    while True:
        try:
            password_reset.resend_unsent()
        except Exception:  # a database or mail server that is down now may be back next round
            log.exception("sending unsent password-reset e-mails failed; trying again in %g s",
                          MAIL_RECOVERY_INTERVAL_SECONDS)
        if stop.wait(MAIL_RECOVERY_INTERVAL_SECONDS):
            return
