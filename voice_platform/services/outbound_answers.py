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

import logging
import uuid
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import Connection, String, bindparam, column, or_, select, update, values

from voice_platform.db import get_engine
from voice_platform.models import CallSession, VoiceAgent
from voice_platform.models.base import utcnow
from voice_platform.models.calls import OUTBOUND, PENDING
from voice_platform.services import calls
from voice_platform.services.group_commit import GroupWriter

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


class _Connection:
    """The answerer's autocommit connection, checked out once for as long as it has answers to
    settle (no pool checkout or pre-ping per answer); one that failed is closed, and the next
    batch checks out another."""

    def __init__(self) -> None:
        self.connection: Connection | None = None

    def get(self) -> Connection:
        if self.connection is None:
            self.connection = get_engine().connect().execution_options(isolation_level="AUTOCOMMIT")
        return self.connection

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            except Exception:  # noqa: BLE001 - a broken connection is dropped by its pool
                log.warning("outbound answers: closing a connection failed", exc_info=True)
        self.connection = None


def _answer_batch(held: _Connection, waiting: list[Asked]) -> list[Answer | None | Exception]:
    try:
        found = answer_all(held.get(), waiting)
    except Exception as exc:  # noqa: BLE001 - handed to each waiting request, which says a sentence
        held.close()
        return [exc] * len(waiting)
    return [found.get(asked[0]) for asked in waiting]


# One thread settling the answers waiting, together (see the module's docstring).
_answerer: GroupWriter[Asked, Answer | None] = GroupWriter("outbound-answer", _answer_batch, _Connection,
                                                           _Connection.close)


async def answer(session_id: uuid.UUID, call_sid: str) -> Answer | None:
    """The session the callee's answer bridges (None: unknown, ended, claimed or another call's),
    or TimeoutError after ``DB_TIMEOUT_SECONDS``."""
    return await _answerer.wait((session_id, call_sid), DB_TIMEOUT_SECONDS, "answer")
