"""Wake the campaign dialer in the web process that holds its lease, from any other process.

A call's end is committed by whichever process Twilio's status callback reached. In that process
``wakeups.DIALER`` is set, but only the lease holder dials: without this, the holder would find
the freed line only at its next poll, and a campaign would run below its ``max_concurrent`` for
that long after every call. On PostgreSQL a process that is not the holder sends ``NOTIFY`` on
``CHANNEL``; the holder's listener (one connection of its own, outside the pool) sets its
``wakeups.DIALER``. Elsewhere (the embedded SQLite database: one process) this does nothing and
the event alone serves. A lost notification costs one poll interval, never a call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.engine import make_url

from voice_platform.db import session_scope
from voice_platform.services import wakeups
from voice_platform.settings import get_settings

log = logging.getLogger(__name__)

CHANNEL = "vp_dialer"
LISTEN_TIMEOUT_SECONDS = 1.0  # how soon a stopping listener notices
RECONNECT_SECONDS = 5.0


def _postgres_url() -> str | None:
    url = make_url(get_settings().sqlalchemy_url)
    if not url.drivername.startswith("postgresql"):
        return None
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def notify() -> None:
    """Tell the dialing process that this one freed or queued work (PostgreSQL; else nothing)."""
    if _postgres_url() is None:
        return
    with session_scope() as session:
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})


class Listener:
    """A daemon thread LISTENing on ``CHANNEL``; a notification sets ``wakeups.DIALER`` while
    ``wanted()`` (this process holds the lease)."""

    def __init__(self, wanted: Callable[[], bool]) -> None:
        self.wanted = wanted
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> bool:
        if _postgres_url() is None:
            return False
        self.thread = threading.Thread(target=self._run, name="campaign-dialer-listener", daemon=True)
        self.thread.start()
        return True

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout)

    def _run(self) -> None:
        import psycopg

        while not self.stop_event.is_set():
            url = _postgres_url()
            try:
                with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    while not self.stop_event.is_set():
                        for _note in conn.notifies(timeout=LISTEN_TIMEOUT_SECONDS):
                            if self.wanted():
                                wakeups.DIALER.set()
            except Exception as exc:  # noqa: BLE001 - the database restarting: listen again shortly
                log.warning("dialer listener lost its connection (%s); again in %g s", type(exc).__name__,
                            RECONNECT_SECONDS)
                self.stop_event.wait(RECONNECT_SECONDS)
