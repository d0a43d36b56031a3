"""Opening the session of an incoming call: the hot path of every phone call.

Twilio's incoming webhook awaits ``open_session``. The sessions are written by a
``group_commit.GroupWriter``, a thread of its own that writes the calls waiting together (one
transaction and one commit for a batch) on connections it keeps while busy: one statement
per call on PostgreSQL, a batch's statements sent in one round trip
(``calls.open_phone_sessions``). The caller waits at most ``DB_TIMEOUT_SECONDS``, so a
database that is down or hangs still leaves time to answer the caller with a sentence.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection

from voice_platform.db import get_engine
from voice_platform.services import calls
from voice_platform.services.group_commit import GroupWriter

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


# One writer thread (services.group_commit): SQLite takes one writer at a time (a second would sleep
# in its busy handler), and on PostgreSQL every call of an organization updates its subscription
# row, so a second writer would wait for the first one's row lock; more threads made smaller
# batches and fewer calls per second (measured in bench_webhook). A call alone is one autocommitted
# upsert; several go in one transaction (one WAL sync, one round trip and one thread hop for all).
_writer: GroupWriter[Call, calls.RoutedCall] = GroupWriter("incoming-call", _route_together, _Connections,
                                                          _Connections.close)


async def open_session(call_sid: str, from_number: str | None, to_number: str | None,
                       trace_context: str | None) -> calls.RoutedCall:
    """The call's session (or why there is none), or TimeoutError after ``DB_TIMEOUT_SECONDS``."""
    return await _writer.wait((call_sid, from_number, to_number, trace_context), DB_TIMEOUT_SECONDS, "session")
