"""Work every backend process does once when it starts (API alone or inside Reflex), and the
background loops, which run in every web process by default or in a process of their own
(``BACKGROUND_WORK=false`` on the web processes, ``python -m voice_platform.cli background``)."""

from __future__ import annotations

import logging
import os
import threading

from voice_platform.services.background import BackgroundLoop
from voice_platform.settings import get_settings

log = logging.getLogger(__name__)
_done = False


def on_startup() -> None:
    """Idempotent: Reflex and a standalone API may both call it. The background loops start here
    unless ``BACKGROUND_WORK`` is false (they then run in ``python -m voice_platform.cli
    background``); a later call starts again the loops a test stopped."""
    global _done
    first, _done = not _done, True
    if first:
        _start_telemetry("web")
        _sync_tool_registry()
    if get_settings().background_work:
        start_background_work()
    elif first:
        log.info("background work is off in this process (BACKGROUND_WORK=false): webhooks, analyses, summary "
                 "e-mails, campaigns and lost-mail recovery need `python -m voice_platform.cli background` running")
    if first:
        log.info("backend started")


def _start_telemetry(role: str) -> None:
    """OpenTelemetry for this process, when configured; a bad setting is logged, never fatal."""
    from voice_platform import telemetry

    telemetry.install_log_ids()
    try:
        telemetry.setup(role)
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
    _mail_recovery.start()


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


_mail_recovery = BackgroundLoop("mail-recovery", _mail_recovery_loop, threading.Event())


def start_background_work() -> None:
    """The background loops: lost password-reset mails, the work a call leaves behind (webhook
    events and their deliveries, the post-call analysis and its summary e-mails) and the calls
    campaigns make. Each claims its rows with a lease, so any number of processes may run them and
    none does a piece twice. Idempotent (running loops stay); a failure to start is logged, never fatal."""
    _start_mail_recovery()
    try:
        from voice_platform.services import call_analysis, dialer, webhook_outbox

        webhook_outbox.start_background()
        call_analysis.start_background()
        dialer.start_background()  # campaigns: every process runs the loop; the lease holder dials
    except Exception:
        log.exception("the background work could not start")


def stop_background_work() -> None:
    """Stop this process's background loops after their current round (tests, before their
    database goes away; the ``background`` command on SIGTERM); a web process that simply exits
    needs none of it: leases expire."""
    from voice_platform.services import call_analysis, dialer, webhook_outbox

    dialer.stop_background()
    webhook_outbox.stop_background()
    call_analysis.stop_background()
    _mail_recovery.stop()


def serve_background_work(stop: threading.Event) -> None:
    """``python -m voice_platform.cli background``: this process runs the background loops (and
    answers no request) until ``stop`` is set, then lets their rounds finish. With it running, the
    web processes that answer Twilio can leave the loops out (``BACKGROUND_WORK=false``): they then
    spend their CPU on requests alone (bench/RESULTS.md, closing a call). Work the web processes
    commit is found within the loops' poll intervals (0.25 to 1 s)."""
    from voice_platform import db, telemetry

    db.loops_only()
    niceness = get_settings().background_nice
    if niceness and hasattr(os, "nice"):
        os.nice(niceness)  # the web processes' webhooks first: this work has seconds to spare, a caller has not
    _start_telemetry("background")
    start_background_work()
    log.info("background work running (nice %d): webhooks, call analyses and summary e-mails, campaigns, "
             "lost-mail recovery", niceness)
    try:
        stop.wait()
    finally:
        stop_background_work()
        telemetry.shutdown()
        log.info("background work stopped")
