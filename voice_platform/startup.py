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
        _start_after_call_work()  # idempotent: running loops stay, stopped ones (tests) start again
        return
    _done = True
    _start_telemetry()
    _sync_tool_registry()
    _start_mail_recovery()
    _start_after_call_work()
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


def _start_after_call_work() -> None:
    """The background loops of the work a call leaves behind (webhook events and their deliveries,
    the post-call analysis and its summary e-mails) and of the calls campaigns make. Each claims its rows with a lease, so every web
    process runs them and none does a piece twice; a failure to start is logged, never fatal."""
    try:
        from voice_platform.services import call_analysis, dialer, webhook_outbox

        webhook_outbox.start_background()
        call_analysis.start_background()
        dialer.start_background()  # campaigns: every process runs the loop; the lease holder dials
    except Exception:
        log.exception("the after-the-call background work could not start")


def stop_background_work() -> None:
    """Stop this process's background loops after their current round (tests, before their
    database goes away); a web process that simply exits needs none of it: leases expire."""
    from voice_platform.services import call_analysis, dialer, webhook_outbox

    dialer.stop_background()
    webhook_outbox.stop_background()
    call_analysis.stop_background()
