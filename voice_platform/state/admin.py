"""``/admin``: the platform admin's tool catalogue and organizations (thin over services.platform_admin)."""

from __future__ import annotations

import reflex as rx

from voice_platform.db import session_scope
from voice_platform.errors import DomainError, NotAuthenticated, PermissionDenied
from voice_platform.services import platform_admin
from voice_platform.state.auth import HOME_ROUTE, AuthState

PAGE_SIZE = 25


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


class AdminState(AuthState):
    tools: list[dict[str, str]] = []
    org_rows: list[dict[str, str]] = []
    org_total: int = 0
    org_offset: int = 0
    search: str = ""
    loading: bool = True
    refused: bool = False
    error: str = ""

    @rx.var
    def page_label(self) -> str:
        if self.org_total == 0:
            return "No organizations"
        return f"{self.org_offset + 1}–{min(self.org_offset + PAGE_SIZE, self.org_total)} of {self.org_total}"

    @rx.var
    def has_previous(self) -> bool:
        return self.org_offset > 0

    @rx.var
    def has_next(self) -> bool:
        return self.org_offset + PAGE_SIZE < self.org_total

    @rx.event
    def load(self):
        self.loading, self.refused, self.error, self.org_offset, self.search = True, False, "", 0, ""
        return self._fetch(with_tools=True)

    @rx.event
    def apply_search(self, form: dict):
        self.search, self.org_offset = str(form.get("q") or "").strip()[:100], 0
        return self._fetch()

    @rx.event
    def next_page(self):
        self.org_offset += PAGE_SIZE
        return self._fetch()

    @rx.event
    def previous_page(self):
        self.org_offset = max(0, self.org_offset - PAGE_SIZE)
        return self._fetch()

    @rx.event
    def open_org(self, org_id: str):
        """Look at an organization as its admins do (the switcher lists every one for a platform admin,
        so the next page's guard keeps this choice; for anyone else it would fall back to their own)."""
        name = next((o["name"] for o in self.org_rows if o["id"] == org_id), "")
        if not self.is_platform_admin or not name:
            return rx.toast.error("That organization is not on this page any more")
        self.org_id = org_id
        return [rx.redirect(HOME_ROUTE), rx.toast.info(f"Switched to {name}")]

    def _fetch(self, with_tools: bool = False):
        try:
            with session_scope() as session:
                user = self._current_user(session)
                if with_tools:
                    self._load_session(session, user)
                    self.tools = [
                        {"name": t.name, "description": t.description, "active": "1" if t.is_active else "",
                         "functions": ",".join(t.functions), "agents": str(t.agents),
                         "enabled": str(t.agents_enabled), "changed": _when(t.last_changed)}
                        for t in platform_admin.tool_catalogue(session, user)
                    ]
                page = platform_admin.organizations(session, user, search=self.search or None,
                                                    offset=self.org_offset, limit=PAGE_SIZE)
                self.org_rows = [{"id": str(o.id), "name": o.name, "members": str(o.members), "agents": str(o.agents),
                                  "created": _when(o.created_at)} for o in page.items]
                self.org_total = page.total
        except NotAuthenticated:
            return self._signed_out()
        except PermissionDenied:
            self.refused, self.tools, self.org_rows = True, [], []
        except DomainError as exc:
            self.error = exc.message
            return rx.toast.error(exc.message)
        finally:
            self.loading = False
        return None
