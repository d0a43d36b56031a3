"""The background loops' shared pieces: started once, stopped on demand, failures reported by kind."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.exc import OperationalError

from voice_platform.security import TokenInvalid
from voice_platform.services import background

log = logging.getLogger("tests.background")


def test_a_loop_starts_once_and_stops_after_its_round():
    rounds, wakeup = [], threading.Event()

    def target(stop: threading.Event) -> None:
        while not stop.is_set():
            rounds.append(1)
            wakeup.wait(5)
            wakeup.clear()

    loop = background.BackgroundLoop("test-loop", target, wakeup)
    assert loop.start() is True and loop.start() is False
    loop.stop(timeout=5)  # sets the wake-up: the loop does not sit out its 5 s wait
    assert not any(t.name == "test-loop" for t in threading.enumerate())
    assert loop.start() is True
    loop.stop(timeout=5)
    assert len(rounds) >= 2


def test_expected_failures_are_one_line_and_bugs_keep_their_stack(caplog):
    with caplog.at_level(logging.WARNING, logger="tests.background"):
        background.report(log, "round %d failed", OperationalError("SELECT 1", {}, Exception("deadlock detected\nDETAIL: ...")), 1)
        background.report(log, "round %d failed", TokenInvalid("secret cannot be decrypted"), 2)
        background.report(log, "round %d failed", ZeroDivisionError("division by zero"), 3)
    first, second, third = caplog.records
    assert (first.levelname, first.exc_info) == ("WARNING", None)
    assert first.getMessage() == "round 1 failed: OperationalError: deadlock detected"
    assert second.getMessage() == "round 2 failed: TokenInvalid: secret cannot be decrypted"
    assert third.levelname == "ERROR" and third.exc_info[0] is ZeroDivisionError
