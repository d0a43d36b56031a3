"""The call list (filters, pages) and one call's transcript; both call ``services.call_history``."""

from __future__ import annotations

import json
import time
import uuid
from datetime import date

import reflex as rx

from voice_platform.db import session_scope
from voice_platform.errors import DomainError, NotAuthenticated, NotFound
from voice_platform.services import agents as agent_service
from voice_platform.services import call_history
from voice_platform.state.call_feed import feed
from voice_platform.state.auth import AuthState

PAGE_SIZE = 25
ALL = "all"
FOLLOW_HOURS = 4  # a list left open longer stops following (a reload starts again)


def _when(value) -> str:
    return value.strftime("%b %d, %Y %H:%M UTC") if value else ""


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    total = int(round(seconds))
    return f"{total // 60}:{total % 60:02d}"


def call_row(call: call_history.CallSummary) -> dict[str, str]:
    return {
        "id": str(call.id), "agent": call.agent_name, "kind": call.kind, "status": call.status,
        "caller": call.from_number or ("Test chat" if call.kind == "test" else "Unknown"),
        "started": _when(call.started_at), "duration": _duration(call.duration_seconds),
        "end_reason": (call.end_reason or "").replace("_", " "), "tool_calls": str(call.tool_calls),
    }


def _date(value: str, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DomainError("Dates look like 2026-11-25", field=field) from None


class CallsState(AuthState):
    calls: list[dict[str, str]] = []
    agent_options: list[dict[str, str]] = []
    agent_filter: str = ALL
    status_filter: str = ALL
    date_from: str = ""
    date_to: str = ""
    total: int = 0
    offset: int = 0
    loading: bool = True
    error: str = ""
    fingerprint: str = ""
    follow_generation: int = 0

    @rx.var
    def page_label(self) -> str:
        if self.total == 0:
            return "No calls"
        return f"{self.offset + 1}–{min(self.offset + PAGE_SIZE, self.total)} of {self.total}"

    @rx.var
    def has_previous(self) -> bool:
        return self.offset > 0

    @rx.var
    def has_next(self) -> bool:
        return self.offset + PAGE_SIZE < self.total

    @rx.event
    def load(self):
        """on_load of /calls; ``?agent=`` deep-links the agent filter."""
        self.offset, self.loading = 0, True
        self.agent_filter = self.router.url.query_parameters.get("agent", ALL) or ALL
        self.follow_generation += 1  # an older follower of this client stops
        failed = self._fetch(refresh_session=True)
        return failed if failed is not None else CallsState.follow

    @rx.event(background=True)
    async def follow(self):
        """While this list is open, reload it when a call of its organization starts, changes or ends.

        The server pushes: this waits on the process's call feed (one query a second for all
        open pages) and touches the state only on a change. A newer load of the page, another
        route or organization, or FOLLOW_HOURS end it.
        """
        async with self:
            generation, org, known = self.follow_generation, self._org_uuid(), self.fingerprint
        if org is None:
            return
        ends = time.monotonic() + FOLLOW_HOURS * 3600
        while time.monotonic() < ends:
            changed = await feed.wait(org, known, timeout=30)
            async with self:
                if (self.follow_generation != generation or self.org_id != str(org)
                        or not self.router.url.path.startswith("/calls")):
                    return
                if changed:
                    self._fetch()
                    known = self.fingerprint
        return

    @rx.event
    def set_agent_filter(self, value: str):
        self.agent_filter, self.offset = value, 0
        return self._fetch()

    @rx.event
    def set_status_filter(self, value: str):
        self.status_filter, self.offset = value, 0
        return self._fetch()

    @rx.event
    def apply_dates(self, form: dict):
        self.date_from, self.date_to, self.offset = form.get("date_from", ""), form.get("date_to", ""), 0
        return self._fetch()

    @rx.event
    def next_page(self):
        self.offset += PAGE_SIZE
        return self._fetch()

    @rx.event
    def previous_page(self):
        self.offset = max(0, self.offset - PAGE_SIZE)
        return self._fetch()

    def _fetch(self, refresh_session: bool = False):
        self.error = ""
        try:
            with session_scope() as session:
                user = self._current_user(session)
                if refresh_session:
                    self._load_session(session, user)
                org = self._require_org()
                agents = agent_service.list_agents(session, user, org, limit=200).items
                self.agent_options = [{"id": ALL, "name": "All agents"}] + [{"id": str(a.id), "name": a.name} for a in agents]
                try:
                    agent = uuid.UUID(self.agent_filter) if self.agent_filter != ALL else None
                except ValueError:
                    agent, self.agent_filter = None, ALL
                page = call_history.list_calls(
                    session, user, org, agent_id=agent,
                    status=None if self.status_filter == ALL else self.status_filter,
                    date_from=_date(self.date_from, "date_from"), date_to=_date(self.date_to, "date_to"),
                    offset=self.offset, limit=PAGE_SIZE,
                )
                self.calls = [call_row(c) for c in page.items]
                self.total = page.total
                self.fingerprint = call_history.calls_fingerprint(session, user, org)
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            self.error = exc.message
            self.calls, self.total = [], 0
        finally:
            self.loading = False
        return None


class CallDetailState(AuthState):
    """One call; the recording plays through the API with a short-lived signed link."""

    call: dict[str, str] = {}
    turns: list[dict[str, str]] = []
    invocations: list[dict[str, str]] = []
    loading: bool = True
    not_found: bool = False

    def _recording_src(self, session, user, call_id: uuid.UUID) -> str:
        token = call_history.recording_link_token(session, user, call_id)
        return f"/api/v1/calls/{call_id}/recording?token={token}" if token else ""

    @rx.event
    def load(self):
        self.loading, self.not_found, self.call, self.turns, self.invocations = True, False, {}, [], []
        raw = getattr(self, "call_id", "") or ""
        try:
            with session_scope() as session:
                user = self._current_user(session)
                try:
                    call_id = uuid.UUID(raw)
                except ValueError:
                    raise NotFound(call_history.NOT_FOUND) from None
                detail = call_history.get_call_detail(session, user, call_id)
                self._load_session(session, user, prefer_org=str(detail.summary.organization_id))
                s = detail.summary
                self.call = {
                    **call_row(s),
                    "to": s.to_number or "", "error": detail.error or "",
                    "setup": (f"{(detail.setup_ours_ms or 0) + (detail.setup_model_ms or 0):.0f} ms "
                              f"(ours {detail.setup_ours_ms or 0:.0f} ms, model {detail.setup_model_ms or 0:.0f} ms)")
                    if detail.setup_ours_ms is not None else "",
                    "recording_url": self._recording_src(session, user, call_id),
                    "agent_id": str(s.agent_id),
                    "trace_id": detail.trace_id or "—",
                }
                self.turns = [{"role": t["role"], "text": t["text"], "at": t["at"].strftime("%H:%M:%S")} for t in detail.turns]
                self.invocations = [
                    {"name": f"{i['tool']}.{i['function']}", "arguments": json.dumps(i["arguments"], ensure_ascii=False),
                     "outcome": i["error"] or json.dumps(i["result"], ensure_ascii=False, default=str),
                     "is_error": "yes" if i["error"] else "",
                     "latency": f"{i['duration_ms']:.0f} ms" if i["duration_ms"] is not None else ""}
                    for i in detail.tool_invocations
                ]
        except NotAuthenticated:
            return self._signed_out()
        except NotFound:
            self.not_found = True
            try:
                with session_scope() as session:
                    self._load_session(session, self._current_user(session))
            except NotAuthenticated:
                return self._signed_out()
        finally:
            self.loading = False
        return None
