"""One background loop per web process: started once, stopped on demand.

The after-the-call work (webhook deliveries, analyses and their mails) and the campaign dialer
each run as a daemon thread in every web process; their rows are claimed with leases, so any
number of processes may run them. ``start`` is idempotent (start-up may run twice: Reflex and a
standalone API), ``stop`` lets the current round finish (tests stop the loops before their
database goes away; a process that simply exits needs nothing: leases expire).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy.exc import DBAPIError

from voice_platform.security import TokenInvalid


class BackgroundLoop:
    """``target(stop)`` on a daemon thread named ``name``; ``wakeup`` is set on stop so a loop
    waiting on it notices at once."""

    def __init__(self, name: str, target: Callable[[threading.Event], None], wakeup: threading.Event) -> None:
        self.name, self.target, self.wakeup = name, target, wakeup
        self._lock = threading.Lock()
        self._running: tuple[threading.Thread, threading.Event] | None = None

    def start(self) -> bool:
        """Start the loop; False when it already runs."""
        with self._lock:
            if self._running is not None and self._running[0].is_alive():
                return False
            stop = threading.Event()
            thread = threading.Thread(target=self.target, args=(stop,), name=self.name, daemon=True)
            self._running = (thread, stop)
            thread.start()
            return True

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop after its current round (waits up to ``timeout`` seconds)."""
        with self._lock:
            running, self._running = self._running, None
        if running is not None:
            running[1].set()
            self.wakeup.set()
            running[0].join(timeout)


def interpreter_exiting(exc: BaseException) -> bool:
    """The process is exiting under a daemon thread: no new work may start, and that is no error."""
    return isinstance(exc, RuntimeError) and "shutdown" in str(exc)


# What a loop meets in normal operation and reports in one line, without a stack: the database
# unreachable, restarting, or choosing this loop's statement as a deadlock victim; a secret the
# configured ENCRYPTION_KEYS cannot decrypt (an operator's key rotation left it behind).
EXPECTED = (DBAPIError, TokenInvalid)


def report(logger: logging.Logger, message: str, exc: BaseException, *args: object) -> None:
    """Log a loop's failed round: one warning line for what operations expect, the stack for a bug."""
    if isinstance(exc, EXPECTED):
        logger.warning(message + ": %s", *args, _first_line(exc))
    else:
        logger.error(message, *args, exc_info=exc)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else ''}"
