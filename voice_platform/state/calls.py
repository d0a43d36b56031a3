"""The call list (filters, pages, CSV export); it calls ``services.call_history`` and ``services.call_export``.

One call's page is ``state/call_detail.py``."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import date, datetime, timezone

import reflex as rx

from voice_platform.db import session_scope
from voice_platform.errors import DomainError, NotAuthenticated, NotFound
from voice_platform.services import agents as agent_service
from voice_platform.services import call_export, call_history
from voice_platform.state.call_feed import feed
from voice_platform.state.auth import AuthState

PAGE_SIZE = 25
ALL = "all"
FOLLOW_HOURS = 4  # a list left open longer stops following (a reload starts again)
SUCCESS_FILTERS = {ALL: None, "successful": True, "unsuccessful": False}


def _when(value) -> str:
    return value.strftime("%b %d, %Y %H:%M UTC") if value else ""


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    total = int(round(seconds))
    return f"{total // 60}:{total % 60:02d}"


def call_row(call: call_history.CallSummary) -> dict[str, str]:
    """One call as a list row. ``caller`` is the other party: the callee of a call the agent placed."""
    direction = getattr(call, "direction", None) or ""  # on CallSummary once the service carries it
    other = call.to_number if direction == "outbound" else call.from_number
    success = getattr(call, "success", None)
    return {
        "id": str(call.id), "agent": call.agent_name, "kind": call.kind, "status": call.status,
        "direction": direction,
        "caller": other or ("Test chat" if call.kind == "test" else "Unknown"),
        "started": _when(call.started_at), "duration": _duration(call.duration_seconds),
        "end_reason": (call.end_reason or "").replace("_", " "), "tool_calls": str(call.tool_calls),
        "success": "" if success is None else ("yes" if success else "no"),
        "summary_line": getattr(call, "summary_line", None) or "",
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
    success_filter: str = ALL
    exporting: bool = False
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
    def set_success_filter(self, value: str):
        if value in SUCCESS_FILTERS:
            self.success_filter, self.offset = value, 0
        return self._fetch()

    @rx.event
    async def export_csv(self):
        """The filtered calls as a CSV download (``services.call_export``): made here, on a worker
        thread, and handed to the browser, so no signed link to the API is needed."""
        self.exporting = True
        yield
        try:
            text = await asyncio.to_thread(self._export)
        except NotAuthenticated:
            yield self._signed_out()
            return
        except DomainError as exc:
            yield rx.toast.error(exc.message)
            return
        finally:
            self.exporting = False
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M")
        yield rx.download(data=text, filename=f"calls-{stamp}.csv", mime_type="text/csv")

    def _export(self) -> str:
        with session_scope() as session:
            user = self._current_user(session)
            return call_export.export_csv(session, user, self._require_org(), **self._filters())

    def _filters(self) -> dict:
        """The list's filters as the services take them (the list and its export share them)."""
        try:
            agent = uuid.UUID(self.agent_filter) if self.agent_filter != ALL else None
        except ValueError:
            agent, self.agent_filter = None, ALL
        return {"agent_id": agent, "status": None if self.status_filter == ALL else self.status_filter,
                "date_from": _date(self.date_from, "date_from"), "date_to": _date(self.date_to, "date_to"),
                "success": SUCCESS_FILTERS.get(self.success_filter)}

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
                page = call_history.list_calls(session, user, org, **self._filters(), offset=self.offset,
                                               limit=PAGE_SIZE)
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
