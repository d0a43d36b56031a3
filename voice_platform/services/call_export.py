"""The filtered calls list as CSV, with each analysed call's extracted fields, for a spreadsheet or a CRM import.

The same filters and permission as the list (``call_history.filters``, ``call:read``). The fields
an agent's plan extracts can change between calls, so the columns are the fixed ones followed by
every field name the exported calls have, in the order first seen. Text a caller or the model
wrote is kept from being read as a formula by a spreadsheet (OWASP's CSV injection advice).
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import date
from typing import Any

from sqlmodel import Session, select

from voice_platform.models import CallSession, User, VoiceAgent
from voice_platform.models.base import aware
from voice_platform.models.calls import ANALYSIS_DONE
from voice_platform.services import call_history
from voice_platform.services.rbac import require

MAX_ROWS = 10_000  # newest first; narrow the dates for more
COLUMNS = ("id", "started_at", "agent", "kind", "status", "from", "to", "duration", "end_reason", "success",
           "sentiment", "summary")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")  # a phone number or a sign: never a formula


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def _field_names(session: Session, agent_ids: set[uuid.UUID], analyses: list[dict[str, Any]]) -> list[str]:
    """The agents' current plans' fields in their order, then names only older analyses have
    (the stored data does not keep an order: PostgreSQL's JSONB sorts its keys)."""
    plans = session.exec(select(VoiceAgent.analysis_plan).where(VoiceAgent.id.in_(agent_ids))).all() if agent_ids else []
    planned = [f["name"] for plan in plans if plan for f in plan.get("fields") or []]
    seen = {name for a in analyses for name in (a.get("data") or {})}
    return [n for n in dict.fromkeys(planned) if n in seen] + sorted(seen - set(planned))


def export_csv(
    session: Session, actor: User, org_id: uuid.UUID, *, agent_id: uuid.UUID | None = None,
    status: str | None = None, kind: str | None = None, date_from: date | None = None, date_to: date | None = None,
    success: bool | None = None,
) -> str:
    """The CSV text of the calls the list would show with these filters (at most ``MAX_ROWS``)."""
    require(session, actor, "call:read", org_id)
    where = call_history.filters(org_id, agent_id=agent_id, status=status, kind=kind, date_from=date_from,
                                 date_to=date_to, success=success)
    rows = session.exec(
        select(CallSession, VoiceAgent.name).join(VoiceAgent, VoiceAgent.id == CallSession.agent_id)
        .where(*where).order_by(CallSession.started_at.desc(), CallSession.id).limit(MAX_ROWS)
    ).all()
    analyses = [(c.analysis or {}) if c.analysis_status == ANALYSIS_DONE else {} for c, _name in rows]
    names = _field_names(session, {c.agent_id for c, _name in rows}, analyses)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*COLUMNS, *(f"data.{n}" if n in COLUMNS else n for n in names)])
    for (call, agent_name), analysis in zip(rows, analyses):
        started = aware(call.started_at)
        data = analysis.get("data") or {}
        writer.writerow([_cell(v) for v in (
            str(call.id), started.isoformat() if started else None, agent_name, call.kind, call.status,
            call.from_number, call.to_number, call.duration_seconds, call.end_reason, analysis.get("success"),
            analysis.get("sentiment"), analysis.get("summary"), *(data.get(n) for n in names),
        )])
    return out.getvalue()
