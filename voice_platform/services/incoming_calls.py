"""Opening the session of an incoming call: the hot path of every phone call.

Twilio's incoming webhook awaits ``open_session``. The sessions are written by
``_SessionWriter``, a thread of its own that writes the calls waiting together (one
transaction and one commit for a batch) on connections it keeps while busy: one statement
per call on PostgreSQL, a batch's statements sent in one round trip
(``calls.open_phone_sessions``). The caller waits at most ``DB_TIMEOUT_SECONDS``, so a
database that is down or hangs still leaves time to answer the caller with a sentence.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Connection

from voice_platform.db import get_engine
from voice_platform.services import calls

log = logging.getLogger(__name__)

DB_TIMEOUT_SECONDS = 2.0  # Twilio waits 15 s, the caller hears ringing: answer within 3 s in every case

Call = tuple[str, str | None, str | None, str | None]  # CallSid, From, To, traceparent


class _Connections:
    """The session writer's connections, checked out once for as long as it has calls to write
    (one pool checkout and pre-ping for a run of batches, not one per call). PostgreSQL: one in
    autocommit for a call written alone (its one statement commits by itself: no BEGIN or
    COMMIT round trip) and one for transactions. SQLite: one, always in a transaction. A
    connection that failed is closed, and the next call checks out another."""

    def __init__(self) -> None:
        self._autocommit: Connection | None = None
        self._transactional: Connection | None = None

    def autocommit(self) -> Connection:
        if self._autocommit is None:
            self._autocommit = get_engine().connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._autocommit

    def transactional(self) -> Connection:
        if self._transactional is None:
            self._transactional = get_engine().connect()
        return self._transactional

    def close(self) -> None:
        for conn in (self._autocommit, self._transactional):
            if conn is not None:
                try:
                    conn.close()
                except Exception:  # noqa: BLE001 - a broken connection is dropped by its pool
                    log.warning("session writer: closing a connection failed", exc_info=True)
        self._autocommit = self._transactional = None


def _open(conn: Connection, call: Call) -> calls.RoutedCall:
    call_sid, from_number, to_number, trace_context = call
    return calls.open_phone_session(conn, call_sid=call_sid, from_number=from_number, to_number=to_number,
                                    trace_context=trace_context)


def _route(connections: _Connections, call: Call) -> calls.RoutedCall:
    """One call. PostgreSQL: in autocommit, since the call is one statement that commits by itself
    (its rare paths' statements are each correct alone). SQLite: a transaction around its two."""
    if get_engine().dialect.name != "postgresql":
        conn = connections.transactional()
        with conn.begin():
            return _open(conn, call)
    conn = connections.autocommit()
    try:
        return _open(conn, call)
    finally:
        if conn.in_transaction():  # SQLAlchemy's own bookkeeping of the rare paths (no round trip)
            conn.commit()


def _route_together(connections: _Connections, waiting: list[Call]) -> list[calls.RoutedCall | Exception]:
    """Several calls in one transaction, so one commit (one WAL sync) serves them all. A call
    alone, or every call of a batch that failed, on its own: one call's failure is never another's."""
    if len(waiting) > 1:
        try:
            conn = connections.transactional()
            with conn.begin():
                return list(calls.open_phone_sessions(conn, waiting))
        except Exception:  # noqa: BLE001 - retried one by one below
            connections.close()
    results: list[calls.RoutedCall | Exception] = []
    for call in waiting:
        try:
            results.append(_route(connections, call))
        except Exception as exc:  # noqa: BLE001 - handed to the waiting request, which answers with a sentence
            connections.close()
            results.append(exc)
    return results


class _SessionWriter:
    """Opens the sessions of incoming calls on a thread of its own, in batches.

    The thread takes every call waiting, writes them, then takes those that arrived meanwhile:
    a call alone is one autocommitted upsert; several go in one transaction (group commit:
    one WAL sync, one round trip and one thread hop for all of them). One thread: SQLite
    takes one writer at a time (a second would sleep in its busy handler), and on PostgreSQL
    every call of an organization updates its subscription row, so a second writer would wait
    for the first one's row lock; more threads made smaller batches and fewer calls per second
    (measured in bench_webhook). A request still waits at most ``DB_TIMEOUT_SECONDS``; a call
    given up on before its turn is not written.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: list[tuple[Call, asyncio.Future]] = []
        self._writing = False
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="incoming-call")

    def submit(self, call: Call) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        with self._lock:
            self._waiting.append((call, future))
            start, self._writing = not self._writing, True
        if start:
            self._thread.submit(self._write)
        return future

    def _write(self) -> None:
        connections = _Connections()
        try:
            while batch := self._take():
                results = _route_together(connections, [call for call, _ in batch])
                by_loop: dict[asyncio.AbstractEventLoop, list] = {}
                for (_call, future), result in zip(batch, results):
                    by_loop.setdefault(future.get_loop(), []).append((future, result))
                for loop, settled in by_loop.items():
                    try:
                        loop.call_soon_threadsafe(_settle, settled)
                    except RuntimeError:  # that loop is closed: nobody waits any more
                        pass
        except BaseException:
            with self._lock:  # the thread stopped writing: the next call starts it again
                self._writing = False
            raise
        finally:
            connections.close()

    def _take(self) -> list[tuple[Call, asyncio.Future]]:
        """The calls still waited for; none: this thread stops (decided under the lock, so a call
        submitted meanwhile either is taken here or starts the thread again)."""
        with self._lock:
            batch = [(call, future) for call, future in self._waiting if not future.done()]
            self._waiting = []
            if not batch:
                self._writing = False
            return batch


def _settle(settled: list[tuple[asyncio.Future, calls.RoutedCall | Exception]]) -> None:
    for future, result in settled:
        if future.done():  # timed out meanwhile
            continue
        if isinstance(result, Exception):
            future.set_exception(result)
        else:
            future.set_result(result)


_writer = _SessionWriter()


def _expire(future: asyncio.Future) -> None:
    if not future.done():
        future.set_exception(TimeoutError(f"no session within {DB_TIMEOUT_SECONDS} s"))


async def open_session(call_sid: str, from_number: str | None, to_number: str | None,
                       trace_context: str | None) -> calls.RoutedCall:
    """The call's session (or why there is none), or TimeoutError after ``DB_TIMEOUT_SECONDS``
    (one timer on the writer's own future: what ``asyncio.wait_for`` does with two more futures
    and callbacks)."""
    future = _writer.submit((call_sid, from_number, to_number, trace_context))
    timer = asyncio.get_running_loop().call_later(DB_TIMEOUT_SECONDS, _expire, future)
    try:
        return await future
    finally:
        timer.cancel()
