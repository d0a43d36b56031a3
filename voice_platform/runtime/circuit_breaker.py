"""Keeps a failing customer service from making every call wait, and one conversation from
hammering a function.

A custom tool is someone else's server. When it is down, each call would otherwise wait for
its timeout while the caller listens to silence; after ``FAILURES_TO_OPEN`` consecutive
failures within ``FAILURE_WINDOW_SECONDS`` the breaker opens and calls fail at once for
``OPEN_SECONDS`` with a sentence the model can pass on. After that one call is let through
(half-open): a success closes the breaker, a failure opens it again at once.

The breaker is process-wide (keyed by catalogue tool id and function: every conversation in
the worker shares what it learned); the call limit is per conversation. Both take their time
from an injectable clock so tests can move it instead of sleeping.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from livekit.agents.llm import ToolError

FAILURES_TO_OPEN = 5
FAILURE_WINDOW_SECONDS = 60.0
OPEN_SECONDS = 30.0
CALLS_PER_CONVERSATION = 20

Clock = Callable[[], float]


class ServiceUnavailable(ToolError):
    """The service failed to answer (down, too slow, 5xx): this counts against its breaker."""


@dataclass
class _Circuit:
    failures: deque[float] = field(default_factory=deque)
    open_until: float | None = None
    half_open: bool = False


class CircuitBreaker:
    def __init__(self, *, failures: int = FAILURES_TO_OPEN, window: float = FAILURE_WINDOW_SECONDS,
                 open_for: float = OPEN_SECONDS, clock: Clock = time.monotonic) -> None:
        self.failures, self.window, self.open_for, self.clock = failures, window, open_for, clock
        self._circuits: dict[Hashable, _Circuit] = {}

    def check(self, key: Hashable, label: str) -> None:
        """Raise ``ServiceUnavailable`` while the circuit of ``key`` is open."""
        circuit = self._circuits.get(key)
        if circuit is None or circuit.open_until is None:
            return
        if self.clock() < circuit.open_until:
            raise ServiceUnavailable(
                f"{label} is unavailable right now (it failed repeatedly). Tell the caller this service "
                "cannot be reached at the moment and offer another way.")
        circuit.open_until, circuit.half_open = None, True

    def succeeded(self, key: Hashable) -> None:
        self._circuits.pop(key, None)

    def failed(self, key: Hashable) -> None:
        now = self.clock()
        circuit = self._circuits.setdefault(key, _Circuit())
        if circuit.half_open:
            circuit.failures.clear()
            circuit.open_until, circuit.half_open = now + self.open_for, False
            return
        circuit.failures.append(now)
        while circuit.failures and circuit.failures[0] < now - self.window:
            circuit.failures.popleft()
        if len(circuit.failures) >= self.failures:
            circuit.failures.clear()
            circuit.open_until = now + self.open_for

    def is_open(self, key: Hashable) -> bool:
        circuit = self._circuits.get(key)
        return bool(circuit and circuit.open_until is not None and self.clock() < circuit.open_until)


class CallLimit:
    """At most ``limit`` calls of one function in one conversation (a model stuck in a loop
    would otherwise call a customer's API without end)."""

    def __init__(self, limit: int = CALLS_PER_CONVERSATION, already: Counter | None = None) -> None:
        self.limit = limit
        self.counts: Counter = Counter(already or {})

    def take(self, key: Hashable, label: str) -> None:
        if self.counts[key] >= self.limit:
            raise ToolError(f"{label} was already used {self.limit} times in this conversation, the most "
                            "allowed. Do not call it again; tell the caller and carry on without it.")
        self.counts[key] += 1


breaker = CircuitBreaker()  # the worker's (or web process's) one breaker
