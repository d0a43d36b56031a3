"""The call session's life, shared by the Twilio webhooks, the worker and the test chat.

    open (webhook / worker fallback / test chat) -> claim (worker, once) -> turns and
    tool invocations as they happen -> finish (worker or Twilio, whichever is first)

Every transition is one conditional statement, so retries, races between the
worker and Twilio's callbacks, and several backend processes change a session
at most once. Functions take a ``Session`` and never commit (the caller's scope does).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, DateTime, bindparam, exists, func, literal_column, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from voice_platform import telemetry
from voice_platform.errors import DomainError, NotFound
from voice_platform.models import CallSession, CallTurn, Subscription, ToolInvocation, User, VoiceAgent
from voice_platform.models.base import aware, utcnow
from voice_platform.models.calls import (
    ACTIVE, ANALYSIS_PENDING, COMPLETED, EVENT_ENDED, EVENT_STARTED, FAILED, OPEN_STATUSES, PENDING, PHONE, TEST,
)
from voice_platform.services import billing, campaign_outcomes, validation, wakeups
from voice_platform.services.agents import get_agent
from voice_platform.services.rbac import require

REDACTED = "[redacted]"
# Ends that count as a failed call (the caller did not get a conversation).
FAILED_REASONS = frozenset({"error", "dial_failed", "busy", "no_answer", "failed", "canceled", "model_unavailable"})
ROLES = ("user", "assistant", "system")


class SessionRefused(DomainError):
    """The worker was handed a session id it must not answer (unknown, ended, already taken)."""

    status_code = 409

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class RoutedCall:
    """What the incoming webhook needs: the session to dial into, or why there is none."""

    session_id: uuid.UUID | None
    agent_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    record_calls: bool = False
    recording_notice: str | None = None
    refusal: str | None = None  # invalid_number | unknown_number | inactive_agent


def _agent_for_number(session: Session, number: str):
    return session.exec(
        select(VoiceAgent.id, VoiceAgent.organization_id, VoiceAgent.is_active, VoiceAgent.record_calls,
               VoiceAgent.recording_notice).where(VoiceAgent.phone_number == number)
    ).first()


@lru_cache(maxsize=4096)
def _dialed_number(to_number: str | None) -> str | None:
    """``To`` in E.164, or None: a pure function of the string, so each dialed number is parsed once."""
    try:
        return validation.phone_e164(to_number, field="To")
    except DomainError:
        return None


_SESSION_COLUMNS = ("id", "organization_id", "agent_id", "kind", "provider_call_id", "from_number", "to_number",
                    "status", "started_at", "created_at", "updated_at", "trace_context")


def _session_of(session, call_sid: str):
    return session.execute(select(CallSession.id).where(CallSession.provider_call_id == call_sid)).scalar()


@dataclass(frozen=True)
class _Compiled:
    """A statement compiled once for its dialect, run on the driver's own cursor.

    The incoming webhook runs its statement(s) for every call: SQLAlchemy's ``execute``
    (cache-key walk of a CTE statement, execution context, result object) cost more than the
    driver's execution itself (measured in bench_webhook). The SQL is SQLAlchemy's own compilation with
    the dialect's positional paramstyle; parameters and results go through the columns' own
    type processors (SQLite keeps UUIDs and times as text), so the rows are what SQLAlchemy
    would return. psycopg prepares the statement on the server after a few executions.
    """

    sql: str
    names: tuple[str, ...]  # bind names, in the order of the SQL's positional parameters
    fixed: dict[str, Any]  # literal binds of the statement (e.g. the + 1 of a counter)
    binds: tuple[Any, ...]  # each positional parameter's bind processor, or None
    results: tuple[Any, ...]  # each result column's processor, or None

    @classmethod
    def of(cls, statement, dialect) -> "_Compiled":
        compiled = statement.compile(dialect=dialect)
        names = tuple(compiled.positiontup or ())
        binds = tuple(compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names)
        results = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None)
                        for column in statement.exported_columns)  # a SELECT's columns, or what DML returns
        return cls(str(compiled), names, {k: v for k, v in compiled.params.items() if v is not None}, binds, results)

    def _params(self, values: dict[str, Any]) -> list:
        merged = {**self.fixed, **values}
        return [value if process is None else process(value)
                for process, value in zip(self.binds, [merged[name] for name in self.names])]

    def _row(self, row) -> tuple | None:
        if row is None:
            return None
        return tuple(value if process is None or value is None else process(value)
                     for process, value in zip(self.results, row))

    def run(self, connection: Connection, values: dict[str, Any]) -> tuple | None:
        cursor = connection.connection.cursor()
        try:
            cursor.execute(self.sql, self._params(values))
            return self._row(cursor.fetchone())
        finally:
            cursor.close()

    def run_pipelined(self, connection: Connection, many: list[dict[str, Any]]) -> list[tuple | None]:
        """One execution per values, sent together (psycopg's ``executemany`` in pipeline mode): the
        server runs them one after the other in the connection's transaction, one round trip for
        all, and this thread waits once instead of once per call."""
        cursor = connection.connection.driver_connection.cursor()
        try:
            cursor.executemany(self.sql, [self._params(values) for values in many], returning=True)
            rows = []
            while True:
                rows.append(self._row(cursor.fetchone()))
                if not cursor.nextset():
                    return rows
        finally:
            cursor.close()


@dataclass(frozen=True)
class _OpenStatements:
    """What ``open_phone_session`` runs, per dialect. ``first`` always; ``then`` on SQLite only,
    after ``first`` took a slot."""

    first: _Compiled
    then: _Compiled | None
    find_agent: Any  # the rare paths' lookup (SQLAlchemy)


def _positional_dialect(name: str):
    """The dialect statements are compiled for: the driver's, with a positional paramstyle."""
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

        return PGDialect_psycopg(paramstyle="format")
    from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

    return SQLiteDialect_pysqlite()  # qmark


@lru_cache(maxsize=None)
def _open_statements(dialect_name: str) -> _OpenStatements:
    """The statement(s) of ``open_phone_session``, built and compiled once per dialect.

    PostgreSQL: ONE statement. CTEs find the agent and an earlier session of this CallSid,
    take a concurrency slot on the organization's subscription (an UPDATE whose WHERE holds
    the plan's limits: the row lock makes simultaneous webhooks take slots one after the
    other, each re-checking the limit) and insert the session only when a slot was taken.
    Its row: the agent's columns, the session id (earlier or new), whether this statement
    inserted it, and how many slots it took.

    SQLite, which has no data-modifying CTEs: two statements in one transaction (SQLite has
    one writer at a time, taken by the first): the slot, taken only for an active agent of
    the number and a CallSid without a session; then the insert, returning the session with
    what the answer needs of its agent. Anything else (unknown number, switched-off agent,
    a retried CallSid, a limit) finds no slot and takes the rare path.
    """
    dialect = _positional_dialect(dialect_name)
    columns = (VoiceAgent.id, VoiceAgent.organization_id, VoiceAgent.is_active, VoiceAgent.record_calls,
               VoiceAgent.recording_notice)
    find_agent = select(*columns).where(VoiceAgent.phone_number == bindparam("number"))
    table = CallSession.__table__
    now = bindparam("now", type_=DateTime(timezone=True))
    # Bind names that are no column's name: an UPDATE takes an execution parameter named like one
    # of its table's columns (id, status, created_at ...) as a value to SET.
    values = {name: bindparam("v_" + name, type_=table.c[name].type) for name in _SESSION_COLUMNS}
    has_session = select(table.c.id).where(table.c.provider_call_id == values["provider_call_id"])
    if dialect.name != "postgresql":
        agent = VoiceAgent.__table__.alias("agent")
        slot = (update(Subscription)
                .where(Subscription.organization_id == select(VoiceAgent.organization_id).where(
                    VoiceAgent.phone_number == bindparam("number"), VoiceAgent.is_active).scalar_subquery(),
                       billing.slot_conditions(now), ~exists(has_session))
                .values(active_calls=Subscription.active_calls + 1, updated_at=now)
                .returning(Subscription.organization_id))
        values.update(organization_id=agent.c.organization_id, agent_id=agent.c.id)
        opened = (sqlite.insert(table)
                  .from_select(list(_SESSION_COLUMNS), select(*(values[name] for name in _SESSION_COLUMNS))
                               .where(agent.c.phone_number == bindparam("number")), include_defaults=False)
                  .on_conflict_do_nothing(index_elements=["provider_call_id"])
                  .returning(table.c.id, table.c.agent_id, table.c.organization_id,
                             *(select(column).where(VoiceAgent.phone_number == bindparam("number")).scalar_subquery()
                               for column in (VoiceAgent.record_calls, VoiceAgent.recording_notice))))
        return _OpenStatements(_Compiled.of(slot, dialect), _Compiled.of(opened, dialect), find_agent)
    agent = find_agent.cte("agent")
    earlier = has_session.cte("earlier")
    slot = (update(Subscription)
            .where(Subscription.organization_id == agent.c.organization_id, agent.c.is_active,
                   billing.slot_conditions(now), ~exists(select(earlier.c.id)))
            .values(active_calls=Subscription.active_calls + 1, updated_at=now)
            .returning(Subscription.organization_id)).cte("slot")
    values.update(organization_id=agent.c.organization_id, agent_id=agent.c.id)
    opened = postgresql.insert(table).from_select(
        list(_SESSION_COLUMNS),
        select(*(values[name] for name in _SESSION_COLUMNS)).where(agent.c.organization_id == slot.c.organization_id),
        include_defaults=False,  # the columns it does not name take their server defaults
    )
    opened = opened.on_conflict_do_update(
        index_elements=["provider_call_id"], set_={"provider_call_id": opened.excluded.provider_call_id}
    ).returning(table.c.id, literal_column("(xmax = 0)").label("inserted")).cte("opened")
    statement = select(
        *agent.c,
        func.coalesce(select(earlier.c.id).scalar_subquery(), select(opened.c.id).scalar_subquery()),
        select(opened.c.inserted).scalar_subquery(),
        select(func.count()).select_from(slot).scalar_subquery(),
    )
    return _OpenStatements(_Compiled.of(statement, dialect), None, find_agent)


def _connection(session: Session | Connection) -> Connection:
    return session if isinstance(session, Connection) else session.connection()


def open_phone_session(
    session: Session | Connection, *, call_sid: str, from_number: str | None, to_number: str | None,
    trace_context: str | None = None,
) -> RoutedCall:
    """The incoming webhook: find the agent by the dialed number, take a concurrency slot within
    the plan's limits and open the call's session.

    A retried CallSid gets the same session and takes no second slot. On PostgreSQL the whole
    thing is one statement, so ``session`` may be a Core connection in autocommit mode (the
    webhook's); the statements of the rare paths (a limit reached, a lost race) are each
    correct on their own. On SQLite ``session`` must be in a transaction: two statements when
    the call is dialed.
    """
    return open_phone_sessions(session, [(call_sid, from_number, to_number, trace_context)])[0]


def open_phone_sessions(session: Session | Connection,
                        incoming: list[tuple[str, str | None, str | None, str | None]]) -> list[RoutedCall]:
    """``open_phone_session`` for several calls (CallSid, From, To, traceparent) in the caller's
    transaction, in order. On PostgreSQL their statements are sent together (one round trip for
    all); a call whose statement was refused a slot runs again after the calls before it, as it
    would have alone (they may have made room)."""
    connection = _connection(session)
    statements = _open_statements(connection.dialect.name)
    now = utcnow()
    calls = [(call_sid, _dialed_number(to_number), from_number, trace_context)
             for call_sid, from_number, to_number, trace_context in incoming]
    first_rows: list = [_NOT_RUN] * len(calls)
    dialed = [i for i, call in enumerate(calls) if call[1] is not None]
    if statements.then is None and len(dialed) > 1:
        rows = statements.first.run_pipelined(connection, [_values(*calls[i], now) for i in dialed])
        for i, row in zip(dialed, rows):
            first_rows[i] = row
    return [_open_one(connection, statements, *call, first_row=first_row)
            for call, first_row in zip(calls, first_rows)]


_NOT_RUN = object()


def _values(call_sid: str, number: str, from_number: str | None, trace_context: str | None,
            now: datetime) -> dict[str, Any]:
    return {
        "number": number, "now": now, "v_id": uuid.uuid4(), "v_kind": PHONE, "v_provider_call_id": call_sid,
        "v_from_number": (from_number or "")[:32] or None, "v_to_number": number, "v_status": PENDING,
        "v_started_at": now, "v_created_at": now, "v_updated_at": now, "v_trace_context": trace_context,
    }


def _open_one(connection: Connection, statements: _OpenStatements, call_sid: str, number: str | None,
              from_number: str | None, trace_context: str | None, *, first_row=_NOT_RUN) -> RoutedCall:
    if number is None:
        return RoutedCall(session_id=None, refusal="invalid_number")
    for attempt in (1, 2):
        if first_row is not _NOT_RUN and (first_row is None or first_row[5] is not None or not first_row[2]):
            row, first_row = first_row, _NOT_RUN  # pipelined, and not refused a slot: as it would be now
        else:
            now = utcnow()
            values = _values(call_sid, number, from_number, trace_context, now)
            row = statements.first.run(connection, values)
            if statements.then is not None:  # SQLite: the slot was taken (row) or not
                if row is not None:
                    opened = statements.then.run(connection, values)
                    if opened is not None:
                        session_id, agent_id, org_id, record_calls, notice = opened
                        return RoutedCall(session_id=session_id, agent_id=agent_id, organization_id=org_id,
                                          record_calls=bool(record_calls), recording_notice=notice)
                    billing.give_back_slot(connection, row[0])  # not under SQLite's one writer; correct anyway
                row = connection.execute(statements.find_agent, {"number": number}).first()
                if row is not None:
                    row = (*row, None, None, 0)
        if row is None:
            return RoutedCall(session_id=None, refusal="unknown_number")
        agent_id, org_id, is_active, record_calls, notice, session_id, inserted, slots = row
        if not is_active:
            return RoutedCall(session_id=None, agent_id=agent_id, organization_id=org_id, refusal="inactive_agent")
        if slots and session_id is not None and inserted is False:
            billing.give_back_slot(connection, org_id)  # a concurrent retry of this CallSid won the insert
        if session_id is None:  # refused a slot, possibly while a concurrent retry of this CallSid held one
            session_id = _session_of(connection, call_sid)
        if session_id is not None:
            return RoutedCall(session_id=session_id, agent_id=agent_id, organization_id=org_id,
                              record_calls=bool(record_calls), recording_notice=notice)
        reason = (billing.make_room(connection, org_id, utcnow()) if attempt == 1
                  else billing.refusal_reason(connection, org_id))
        if reason is not None:
            break
    return RoutedCall(session_id=None, agent_id=agent_id, organization_id=org_id, refusal=reason)


def claim_session(session: Session, session_id: uuid.UUID, *, room_name: str | None = None) -> CallSession:
    """The worker takes a pending session; a second claim of the same id is refused."""
    now = utcnow()
    claimed = session.execute(
        update(CallSession)
        .where(CallSession.id == session_id, CallSession.status == PENDING, CallSession.answered_at.is_(None))
        .values(status=ACTIVE, answered_at=now, room_name=room_name, updated_at=now,
                pending_events=CallSession.pending_events.op("|")(EVENT_STARTED))
        .returning(CallSession.id)
    ).first()
    found = session.get(CallSession, session_id, populate_existing=True)
    if claimed is not None:
        wakeups.after_commit(session, wakeups.WEBHOOKS)  # call.started
    if claimed is None:
        if found is None:
            raise SessionRefused("Unknown call session", reason="unknown")
        if found.status not in OPEN_STATUSES:
            raise SessionRefused("This call session has ended", reason="ended")
        raise SessionRefused("This call session is already answered", reason="already_answered")
    return found


def open_session_for_number(
    session: Session, *, to_number: str, from_number: str | None, call_sid: str | None = None,
    room_name: str | None = None,
) -> CallSession:
    """The worker's fallback when no session id came with the call: open one, already claimed."""
    number = validation.phone_e164(to_number, field="to_number")
    row = _agent_for_number(session, number) if number else None
    if row is None:
        raise SessionRefused("No agent answers this number", reason="unknown_number")
    agent_id, org_id, is_active, _rec, _notice = row
    if not is_active:
        raise SessionRefused("The agent for this number is switched off", reason="inactive_agent")
    if call_sid:  # the webhook may have opened it after all
        existing = session.exec(select(CallSession).where(CallSession.provider_call_id == call_sid)).first()
        if existing is not None:
            return claim_session(session, existing.id, room_name=room_name)
    refusal = billing.take_slot(session, org_id)
    if refusal is not None:
        raise SessionRefused("The organization is at its plan's limit", reason=refusal)
    now = utcnow()
    call = CallSession(
        organization_id=org_id, agent_id=agent_id, kind=PHONE, provider_call_id=call_sid, from_number=from_number,
        to_number=number, room_name=room_name, status=ACTIVE, started_at=now, answered_at=now,
        pending_events=EVENT_STARTED,
    )
    session.add(call)
    session.flush()
    wakeups.after_commit(session, wakeups.WEBHOOKS)
    return call


def open_test_session(session: Session, actor: User, agent_id: uuid.UUID) -> CallSession:
    """A dashboard/API test chat: recorded like a call, kind ``test`` (never metered)."""
    agent = get_agent(session, actor, agent_id)
    now = utcnow()
    call = CallSession(organization_id=agent.organization_id, agent_id=agent.id, kind=TEST, status=ACTIVE,
                       started_at=now, answered_at=now, pending_events=EVENT_STARTED)
    session.add(call)
    session.flush()
    wakeups.after_commit(session, wakeups.WEBHOOKS)
    return call


def get_test_session(session: Session, actor: User, agent_id: uuid.UUID, session_id: uuid.UUID) -> CallSession:
    """A test conversation to continue: the actor's organization, this agent, still open."""
    call = _test_session(session, actor, agent_id, session_id)
    if call.status not in OPEN_STATUSES:
        raise SessionRefused("This conversation has ended; start a new one", reason="ended")
    return call


def get_call(session: Session, session_id: uuid.UUID) -> CallSession | None:
    return session.get(CallSession, session_id)


def record_turn(session: Session, session_id: uuid.UUID, role: str, text: str) -> CallTurn:
    """Append one utterance (its position is the next free one of the session)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    position = session.exec(
        select(func.coalesce(func.max(CallTurn.position), -1) + 1).where(CallTurn.call_session_id == session_id)
    ).one()
    turn = CallTurn(call_session_id=session_id, position=position, role=role, text=text)
    session.add(turn)
    session.flush()
    return turn


def turns(session: Session, session_id: uuid.UUID) -> list[CallTurn]:
    return turns_of(session, [session_id]).get(session_id, [])


def turns_of(session: Session, session_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[CallTurn]]:
    """The turns of several sessions in one query, each session's in order."""
    out: dict[uuid.UUID, list[CallTurn]] = {}
    if session_ids:
        for turn in session.exec(select(CallTurn).where(CallTurn.call_session_id.in_(session_ids))
                                 .order_by(CallTurn.call_session_id, CallTurn.position)):
            out.setdefault(turn.call_session_id, []).append(turn)
    return out


def redact(arguments: dict[str, Any], secret_fields: tuple[str, ...] | list[str] = ()) -> dict[str, Any]:
    """Arguments as stored: values of secret-looking or declared secret keys are replaced."""
    hidden = {f.lower() for f in secret_fields}
    markers = ("password", "secret", "token", "api_key", "apikey")

    def clean(key: str, value: Any) -> Any:
        if key.lower() in hidden or any(m in key.lower() for m in markers):
            return REDACTED
        if isinstance(value, dict):
            return {k: clean(str(k), v) for k, v in value.items()}
        return value

    return {str(k): clean(str(k), v) for k, v in (arguments or {}).items()}


def record_tool_invocation(
    session: Session, session_id: uuid.UUID, *, tool_name: str, function_name: str, arguments: dict[str, Any],
    result: Any = None, error: str | None = None, duration_ms: float | None = None,
    agent_tool_id: uuid.UUID | None = None, secret_fields: tuple[str, ...] | list[str] = (),
) -> ToolInvocation:
    row = ToolInvocation(
        call_session_id=session_id, agent_tool_id=agent_tool_id, tool_name=tool_name, function_name=function_name,
        arguments=redact(arguments, secret_fields), result=result, error=error, duration_ms=duration_ms,
    )
    session.add(row)
    session.flush()
    return row


def tool_invocations(session: Session, session_id: uuid.UUID) -> list[ToolInvocation]:
    return tool_invocations_of(session, [session_id]).get(session_id, [])


def tool_invocations_of(session: Session, session_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[ToolInvocation]]:
    """The tool invocations of several sessions in one query, each session's in order."""
    out: dict[uuid.UUID, list[ToolInvocation]] = {}
    if session_ids:
        for row in session.exec(select(ToolInvocation).where(ToolInvocation.call_session_id.in_(session_ids))
                                .order_by(ToolInvocation.call_session_id, ToolInvocation.created_at, ToolInvocation.id)):
            out.setdefault(row.call_session_id, []).append(row)
    return out


def record_setup_times(session: Session, session_id: uuid.UUID, *, ours_ms: float, model_ms: float | None) -> None:
    session.execute(
        update(CallSession).where(CallSession.id == session_id)
        .values(setup_ours_ms=ours_ms, setup_model_ms=model_ms, updated_at=utcnow())
    )


def _duration(call: CallSession, ended: datetime) -> float:
    begun = aware(call.answered_at) or aware(call.started_at) or ended
    return max(0.0, (ended - begun).total_seconds())


def finish_session(
    session: Session, session_id: uuid.UUID, *, reason: str, error: str | None = None,
    ended_at: datetime | None = None, duration_seconds: float | None = None,
) -> bool:
    """Close an open session once. Returns False when it was already closed (nothing changes).

    The same statement marks the ``call.ended`` webhook event as owed and the analysis as
    pending, so neither can be lost between the close and the background loops that do them.
    """
    call = session.get(CallSession, session_id, populate_existing=True)
    if call is None or call.status not in OPEN_STATUSES:
        return False
    ended = ended_at or utcnow()
    status = FAILED if (reason in FAILED_REASONS or error) else COMPLETED
    duration = duration_seconds if duration_seconds is not None else _duration(call, ended)
    changed = session.execute(
        update(CallSession)
        .where(CallSession.id == session_id, CallSession.status.in_(OPEN_STATUSES))
        .values(status=status, end_reason=reason[:40], error=error, ended_at=ended, duration_seconds=duration,
                updated_at=utcnow(), pending_events=CallSession.pending_events.op("|")(EVENT_ENDED),
                analysis_status=ANALYSIS_PENDING)
        .returning(CallSession.id)
    ).first()
    if changed is not None:
        wakeups.after_commit(session, wakeups.WEBHOOKS, wakeups.ANALYSES)
        if call.campaign_contact_id is not None:
            campaign_outcomes.call_ended(session, call.campaign_contact_id, call.id, reason=reason, status=status,
                                         now=ended)
        telemetry.instruments().call_duration.record(duration, {"kind": call.kind, "status": status})
        if call.kind == PHONE:
            billing.call_ended(session, call, duration_seconds=duration)
    return changed is not None


def find_by_call_sid(session: Session, call_sid: str) -> CallSession | None:
    if not call_sid:
        return None
    return session.exec(select(CallSession).where(CallSession.provider_call_id == call_sid[:64])).first()


# Twilio's word for how the <Dial> leg into LiveKit ended -> our end reason.
DIAL_FAILURES = {"failed": "dial_failed", "busy": "busy", "no-answer": "no_answer", "canceled": "canceled"}
# Final CallStatus values of Twilio's status callback (others, e.g. ringing, change nothing).
FINAL_CALL_STATUSES = {"completed": "caller_hangup", "busy": "busy", "no-answer": "no_answer",
                       "failed": "failed", "canceled": "canceled"}


def dial_ended(session: Session, call_sid: str, dial_status: str) -> bool:
    """The Dial ``action``: how the SIP leg ended. True when the caller must hear an apology.

    A leg that never connected (LiveKit unreachable, busy, no answer) fails the session
    with the reason. A leg that connected and ended is an apology only when the worker
    failed the session (the model unreachable): the caller was not served.
    """
    call = find_by_call_sid(session, call_sid)
    failure = DIAL_FAILURES.get(dial_status)
    if call is None:
        return failure is not None
    if failure is not None and call.status in OPEN_STATUSES:
        finish_session(session, call.id, reason=failure, error=f"the SIP leg into LiveKit ended: {dial_status}")
        return True
    return call.status == FAILED


def call_status_changed(session: Session, call_sid: str, call_status: str, duration: str | None) -> bool:
    """Twilio's status callback closes the session once; retries and late callbacks change nothing."""
    reason = FINAL_CALL_STATUSES.get(call_status)
    call = find_by_call_sid(session, call_sid) if reason else None
    if call is None:
        return False
    seconds = None
    if duration and duration.isdigit():
        seconds = float(duration)
    return finish_session(session, call.id, reason=reason, duration_seconds=seconds)


def store_recording(
    session: Session, call_sid: str, *, recording_sid: str, url: str | None, duration: str | None,
) -> bool:
    """The recording Twilio made of the call (record-from-answer-dual): its SID, URL and length."""
    call = find_by_call_sid(session, call_sid)
    if call is None or not recording_sid:
        return False
    seconds = float(duration) if duration and duration.isdigit() else None
    session.execute(
        update(CallSession).where(CallSession.id == call.id)
        .values(recording_sid=recording_sid[:64], recording_url=(url or None) and url[:500],
                recording_duration_seconds=seconds, updated_at=utcnow())
    )
    return True


def end_test_session(session: Session, actor: User, agent_id: uuid.UUID, session_id: uuid.UUID) -> bool:
    """The test chat's reset: close the conversation (a new message starts a new one)."""
    _test_session(session, actor, agent_id, session_id)
    return finish_session(session, session_id, reason="agent_ended")


def _test_session(session: Session, actor: User, agent_id: uuid.UUID, session_id: uuid.UUID) -> CallSession:
    """A test chat of this agent that ``actor`` may read; anything else is "not found"."""
    call = session.get(CallSession, session_id)
    if call is None or call.kind != TEST or call.agent_id != agent_id:
        raise NotFound("Conversation not found")
    require(session, actor, "agent:read", call.organization_id, not_found="Conversation not found")
    return call
