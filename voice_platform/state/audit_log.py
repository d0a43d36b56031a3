"""The organization's audit log (``services.audit.list_events``): filters by action and actor, pages."""

from __future__ import annotations

import json

import reflex as rx

from voice_platform.services import audit
from voice_platform.state.auth import AuthState

PAGE_SIZE = 25
ALL = "all"


def _pretty(values) -> str:
    return json.dumps(values, indent=2, sort_keys=True, default=str) if values else ""


def event_row(event) -> dict[str, str]:
    changes = event.changes or {}
    return {
        "id": str(event.id), "when": event.created_at.strftime("%Y-%m-%d %H:%M:%S UTC") if event.created_at else "",
        "actor": event.actor_label, "action": event.action,
        "target": event.target_type.replace("_", " ") + (f" {event.target_id[:8]}…" if event.target_id else ""),
        "summary": event.summary, "before": _pretty(changes.get("before")), "after": _pretty(changes.get("after")),
    }


class AuditLogState(AuthState):
    events: list[dict[str, str]] = []
    action_filter: str = ALL
    actor_filter: str = ""
    total: int = 0
    offset: int = 0
    loading: bool = True
    error: str = ""

    @rx.var
    def can_read_audit(self) -> bool:
        return "org:manage" in self.permissions

    @rx.var
    def page_label(self) -> str:
        if self.total == 0:
            return "No entries"
        return f"{self.offset + 1}–{min(self.offset + PAGE_SIZE, self.total)} of {self.total}"

    @rx.var
    def has_previous(self) -> bool:
        return self.offset > 0

    @rx.var
    def has_next(self) -> bool:
        return self.offset + PAGE_SIZE < self.total

    def _fetch(self, session, user) -> None:
        page = audit.list_events(session, user, self._require_org(),
                                 action=None if self.action_filter == ALL else self.action_filter,
                                 actor_query=self.actor_filter or None, offset=self.offset, limit=PAGE_SIZE)
        self.events, self.total = [event_row(e) for e in page.items], page.total

    def _reload(self):
        self.error = ""
        return self._load_page(self._fetch_if_allowed)

    def _fetch_if_allowed(self, session, user) -> None:
        if self.can_read_audit:
            self._fetch(session, user)
        else:
            self.events, self.total = [], 0

    @rx.event
    def load(self):
        self.loading, self.offset, self.action_filter, self.actor_filter = True, 0, ALL, ""
        return self._reload()

    @rx.event
    def set_action_filter(self, value: str):
        self.action_filter, self.offset = value, 0
        return self._reload()

    @rx.event
    def apply_actor(self, form: dict):
        self.actor_filter, self.offset = str(form.get("actor") or "").strip()[:320], 0
        return self._reload()

    @rx.event
    def previous_page(self):
        self.offset = max(0, self.offset - PAGE_SIZE)
        return self._reload()

    @rx.event
    def next_page(self):
        if self.offset + PAGE_SIZE < self.total:
            self.offset += PAGE_SIZE
        return self._reload()
