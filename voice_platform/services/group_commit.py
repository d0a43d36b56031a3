"""Group commit for Twilio's hot webhooks: requests that each write a row, written together.

The incoming-call webhook (``incoming_calls``) and the outbound answer webhook
(``outbound_answers``) each hand their one write to a ``GroupWriter``: one thread takes every
request waiting, writes them in one round (one transaction or one statement: one WAL sync and one
round trip for all), settles each request's future on its own event loop, then takes those that
arrived meanwhile, and stops when none is left (the next request starts it again). A request waits
at most its timeout (``wait``); one given up on before its turn is not written.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupWriter(Generic[Item, Result]):
    """``write(state, items)`` answers one result (or exception) per item, in order. ``state`` is
    made by ``open_state()`` when the thread starts writing and given to ``close_state`` when it
    stops (the writer's connections)."""

    def __init__(self, name: str, write: Callable[[Any, list[Item]], list[Result | BaseException]],
                 open_state: Callable[[], Any], close_state: Callable[[Any], None]) -> None:
        self._write_batch, self._open_state, self._close_state = write, open_state, close_state
        self._lock = threading.Lock()
        self._waiting: list[tuple[Item, asyncio.Future]] = []
        self._writing = False
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=name)

    def submit(self, item: Item) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        with self._lock:
            self._waiting.append((item, future))
            start, self._writing = not self._writing, True
        if start:
            self._thread.submit(self._write)
        return future

    async def wait(self, item: Item, timeout: float, what: str) -> Result:
        """The item's result, or TimeoutError after ``timeout`` seconds (one timer on the writer's
        own future: what ``asyncio.wait_for`` does with two more futures and callbacks)."""
        future = self.submit(item)
        timer = asyncio.get_running_loop().call_later(timeout, _expire, future, f"no {what} within {timeout:g} s")
        try:
            return await future
        finally:
            timer.cancel()

    def _take(self) -> list[tuple[Item, asyncio.Future]]:
        """The items still waited for; none: this thread stops (decided under the lock, so an item
        submitted meanwhile either is taken here or starts the thread again)."""
        with self._lock:
            batch = [(item, future) for item, future in self._waiting if not future.done()]
            self._waiting = []
            if not batch:
                self._writing = False
            return batch

    def _write(self) -> None:
        state = self._open_state()
        try:
            while batch := self._take():
                results = self._write_batch(state, [item for item, _ in batch])
                by_loop: dict[asyncio.AbstractEventLoop, list] = {}
                for (_item, future), result in zip(batch, results):
                    by_loop.setdefault(future.get_loop(), []).append((future, result))
                for loop, settled in by_loop.items():
                    try:
                        loop.call_soon_threadsafe(_settle, settled)
                    except RuntimeError:  # that loop is closed: nobody waits any more
                        pass
        except BaseException:
            with self._lock:  # the thread stopped writing: the next item starts it again
                self._writing = False
            raise
        finally:
            self._close_state(state)


def _settle(settled: list[tuple[asyncio.Future, Any]]) -> None:
    for future, result in settled:
        if future.done():  # timed out meanwhile
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)


def _expire(future: asyncio.Future, message: str) -> None:
    if not future.done():
        future.set_exception(TimeoutError(message))
