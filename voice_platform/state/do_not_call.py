"""State of ``/do-not-call``: the numbers the organization's agents must never dial.

Thin: ``services.do_not_call`` holds the rules (``call:read`` to see the list, ``agent:update``
to change it, E.164 normalisation and its message, the audit log). Removing a number lets the
agents call that person again, so the page asks once more before it does (``removing``).
"""

from __future__ import annotations

import reflex as rx

from voice_platform.db import session_scope
from voice_platform.errors import DomainError, NotAuthenticated
from voice_platform.services import do_not_call as dnc_service
from voice_platform.state.auth import AuthState

AGENT_SOURCE = "agent (asked on a call)"  # what services.do_not_call.add_from_call records


def entry_row(entry: dnc_service.Entry) -> dict[str, str]:
    """One listed number for the page: who added it (a person's e-mail, or the agent on a call)."""
    return {
        "number": entry.number,
        "source": entry.source or "unknown",
        "by_agent": "yes" if entry.source == AGENT_SOURCE else "",
        "call_id": str(entry.call_session_id) if entry.call_session_id else "",
        "added": entry.created_at.strftime("%b %d, %Y %H:%M UTC") if entry.created_at else "",
    }


class DoNotCallState(AuthState):
    entries: list[dict[str, str]] = []
    search: str = ""
    error: str = ""  # the add form's message (the service's E.164 message)
    form_key: int = 0  # a new key empties the add form after a success
    loading: bool = True
    busy: bool = False

    @rx.var
    def can_change(self) -> bool:
        return "agent:update" in self.permissions

    def _refresh(self, session, user) -> None:
        found = dnc_service.list_numbers(session, user, self._require_org(), search=self.search or None)
        self.entries = [entry_row(e) for e in found]

    @rx.event
    def load(self):
        self.loading, self.error, self.entries, self.search = True, "", [], ""
        self.form_key += 1
        return self._load_page(self._refresh, on_error=lambda message: setattr(self, "error", message))

    def _write(self, change, success: str):
        try:
            with session_scope() as session:
                user = self._current_user(session)
                change(session, user, self._require_org())
                self._refresh(session, user)
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            return exc
        return rx.toast.success(success)

    @rx.event
    def apply_search(self, form: dict):
        self.search = str(form.get("search") or "").strip()
        return self._reload()

    @rx.event
    def clear_search(self):
        self.search = ""
        self.form_key += 1
        return self._reload()

    def _reload(self):
        try:
            with session_scope() as session:
                self._refresh(session, self._current_user(session))
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            return rx.toast.error(exc.message)
        return None

    @rx.event
    def add(self, form: dict):
        number = str(form.get("number") or "").strip()
        self.error, self.busy = "", True
        try:
            outcome = self._write(lambda s, u, org: dnc_service.add(s, u, org, number), "Added to the do-not-call list")
        finally:
            self.busy = False
        if isinstance(outcome, DomainError):
            self.error = outcome.message
            return rx.toast.error(outcome.message)
        self.form_key += 1
        return outcome

    @rx.event
    def remove(self, number: str):
        outcome = self._write(lambda s, u, org: dnc_service.remove(s, u, org, number),
                              f"{number} removed: the agents may call it again")
        if isinstance(outcome, DomainError):
            return rx.toast.error(outcome.message)
        return outcome
