"""The callee picked up: which pending outbound session Twilio's answer webhook bridges.

The answer webhook is on every outbound call's path while the callee waits, and the issue
holds it to the incoming webhook's targets (bench/bench_outbound_webhook.py). So, as
``services.incoming_calls`` does for inbound calls, its database work is done by one thread
of its own that takes every answer waiting and settles them with ONE autocommitted statement
(an ``UPDATE ... FROM (VALUES ...) RETURNING``: no BEGIN/COMMIT, one round trip and one WAL
sync for the lot), on a connection it keeps while busy (no pool checkout or pre-ping per
answer). The statement is also the rule: a session is answered only while it is outbound,
pending and not yet claimed by a worker, and only by the CallSid it was placed with (or by
the first one, when Twilio calls back before ``calls.create`` returned the CallSid to us).
A request waits at most ``DB_TIMEOUT_SECONDS``: a database down or hanging still leaves
time to answer the callee with a sentence.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import Connection, String, bindparam, column, or_, select, update, values

from voice_platform.db import get_engine
from voice_platform.models import CallSession, VoiceAgent
from voice_platform.models.base import utcnow
from voice_platform.models.calls import OUTBOUND, PENDING
from voice_platform.services import calls

log = logging.getLogger(__name__)

DB_TIMEOUT_SECONDS = 2.0  # as the incoming webhook: Twilio waits 15 s; answer within 3 s in every case

Asked = tuple[uuid.UUID, str]  # session id, CallSid


@dataclass(frozen=True)
class Answer:
    """What the answer webhook bridges the callee with (an inbound caller's ``RoutedCall``)."""

    agent_number: str
    record_calls: bool
    recording_notice: str | None


MAX_BATCH = 64  # answers per statement: more waiting go in several, each size compiled once


@lru_cache(maxsize=MAX_BATCH)
def _statement(size: int):
    """The statement for ``size`` answers, built once: bound parameters ``id{i}``/``sid{i}`` and
    ``now``, so SQLAlchemy compiles it once per size and dialect (a statement holding the values
    themselves would be compiled again for every batch)."""
    table, agent = CallSession.__table__, VoiceAgent.__table__
    given = values(column("id", table.c.id.type), column("sid", String(64)), name="given").data(
        [(bindparam(f"id{i}", type_=table.c.id.type), bindparam(f"sid{i}", type_=String(64))) for i in range(size)]
    ).cte("given")
    of_agent = agent.c.id == table.c.agent_id
    return (
        update(table)
        .where(table.c.id == given.c.id, table.c.direction == OUTBOUND, table.c.status == PENDING,
               table.c.answered_at.is_(None),
               or_(table.c.provider_call_id.is_(None), table.c.provider_call_id == given.c.sid))
        .values(provider_call_id=given.c.sid, updated_at=bindparam("now", type_=table.c.updated_at.type))
        .returning(table.c.id, table.c.from_number, select(agent.c.record_calls).where(of_agent).scalar_subquery(),
                   select(agent.c.recording_notice).where(of_agent).scalar_subquery())
    )


@lru_cache(maxsize=2 * MAX_BATCH)
def _compiled(dialect_name: str, size: int) -> calls._Compiled:
    """Compiled once per dialect and size, run on the driver's cursor as the incoming webhook's
    statement is (``services.calls._Compiled``): SQLAlchemy does not cache a statement with a
    VALUES list, and would compile it for every batch."""
    return calls._Compiled.of(_statement(size), calls._positional_dialect(dialect_name))


def answer_all(connection: Connection, asked: list[Asked]) -> dict[uuid.UUID, Answer]:
    """The sessions these answers bridge, by id, one statement per ``MAX_BATCH`` (a session not
    answerable is absent). Each matched session gets its CallSid."""
    found: dict[uuid.UUID, Answer] = {}
    now = utcnow()
    for start in range(0, len(asked), MAX_BATCH):
        chunk = asked[start:start + MAX_BATCH]
        compiled = _compiled(connection.dialect.name, len(chunk))
        params: dict = {"now": now}
        for i, (session_id, call_sid) in enumerate(chunk):
            params[f"id{i}"], params[f"sid{i}"] = session_id, call_sid
        cursor = connection.connection.cursor()
        try:
            cursor.execute(compiled.sql, compiled._params(params))
            rows = [compiled._row(row) for row in cursor.fetchall()]
        finally:
            cursor.close()
        for session_id, agent_number, record_calls, notice in rows:
            if agent_number:
                found[session_id] = Answer(agent_number=agent_number, record_calls=bool(record_calls),
                                           recording_notice=notice)
    return found


class _Answerer:
    """One thread settling the answers waiting, together (see the module's docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: list[tuple[Asked, asyncio.Future]] = []
        self._writing = False
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="outbound-answer")

    def submit(self, asked: Asked) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        with self._lock:
            self._waiting.append((asked, future))
            start, self._writing = not self._writing, True
        if start:
            self._thread.submit(self._write)
        return future

    def _take(self) -> list[tuple[Asked, asyncio.Future]]:
        with self._lock:
            batch = [(asked, future) for asked, future in self._waiting if not future.done()]
            self._waiting = []
            if not batch:
                self._writing = False
            return batch

    def _write(self) -> None:
        connection: Connection | None = None
        try:
            while batch := self._take():
                try:
                    if connection is None:
                        connection = get_engine().connect().execution_options(isolation_level="AUTOCOMMIT")
                    found: dict | Exception = answer_all(connection, [asked for asked, _ in batch])
                except Exception as exc:  # noqa: BLE001 - handed to each waiting request, which says a sentence
                    found = exc
                    connection = _closed(connection)
                by_loop: dict[asyncio.AbstractEventLoop, list] = {}
                for asked, future in batch:
                    result = found if isinstance(found, Exception) else found.get(asked[0])
                    by_loop.setdefault(future.get_loop(), []).append((future, result))
                for loop, settled in by_loop.items():
                    try:
                        loop.call_soon_threadsafe(_settle, settled)
                    except RuntimeError:  # that loop is closed: nobody waits any more
                        pass
        except BaseException:
            with self._lock:  # the thread stopped: the next answer starts it again
                self._writing = False
            raise
        finally:
            _closed(connection)


def _closed(connection: Connection | None) -> None:
    if connection is not None:
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - a broken connection is dropped by its pool
            log.warning("outbound answers: closing a connection failed", exc_info=True)
    return None


def _settle(settled: list[tuple[asyncio.Future, Answer | Exception | None]]) -> None:
    for future, result in settled:
        if future.done():  # timed out meanwhile
            continue
        if isinstance(result, Exception):
            future.set_exception(result)
        else:
            future.set_result(result)


def _expire(future: asyncio.Future) -> None:
    if not future.done():
        future.set_exception(TimeoutError(f"no answer within {DB_TIMEOUT_SECONDS} s"))


_answerer = _Answerer()


async def answer(session_id: uuid.UUID, call_sid: str) -> Answer | None:
    """The session the callee's answer bridges (None: unknown, ended, claimed or another call's),
    or TimeoutError after ``DB_TIMEOUT_SECONDS``."""
    future = _answerer.submit((session_id, call_sid))
    timer = asyncio.get_running_loop().call_later(DB_TIMEOUT_SECONDS, _expire, future)
    try:
        return await future
    finally:
        timer.cancel()
