"""The organization's phone numbers page: list, assign, release; Twilio search, buy and import.

Thin like every state: each event opens ``session_scope()`` and calls
``services.phone_numbers`` (which holds the rules and talks to Twilio); the state keeps
plain rows for the page. ``"none"`` stands for "no agent" in the assignment select,
because a select item cannot carry an empty value.
"""

from __future__ import annotations

import uuid

import reflex as rx

from voice_platform.db import session_scope
from voice_platform.errors import DomainError, NotAuthenticated
from voice_platform.services import agents as agent_service
from voice_platform.services import phone_numbers as number_service
from voice_platform.state.auth import AuthState

UNASSIGNED = "none"
SEARCH_FIELDS = ("country", "area_code", "contains")


class PhoneNumbersState(AuthState):
    numbers: list[dict[str, str]] = []
    agents: list[dict[str, str]] = []
    available: list[dict[str, str]] = []
    importable: list[dict[str, str]] = []
    twilio_configured: bool = False
    voice_url: str = ""
    status_callback_url: str = ""
    errors: dict[str, str] = {}
    import_error: str = ""
    searched: bool = False
    loading: bool = True

    @rx.var
    def can_manage_numbers(self) -> bool:
        return "org:manage" in self.permissions

    @rx.var
    def has_manual(self) -> bool:
        return any(n["source"] == "manual" for n in self.numbers)

    def _refresh(self, session, user) -> None:
        org = self._require_org()
        status = number_service.provider_status()
        self.twilio_configured = status.twilio_configured
        self.voice_url, self.status_callback_url = status.voice_url, status.status_callback_url
        self.numbers = [
            {"id": str(v.number.id), "e164": v.number.e164, "friendly_name": v.number.friendly_name or "",
             "source": v.number.source, "agent_id": str(v.agent_id) if v.agent_id else UNASSIGNED,
             "agent_name": v.agent_name or ""}
            for v in number_service.list_numbers(session, user, org)
        ]
        page = agent_service.list_agents(session, user, org, limit=200)
        self.agents = sorted(({"id": str(a.id), "name": a.name} for a in page.items), key=lambda a: a["name"].lower())

    def _refresh_importable(self, session, user) -> None:
        """The Twilio account's numbers nobody imported yet; a Twilio failure is shown, not raised."""
        self.importable, self.import_error = [], ""
        if not (self.twilio_configured and self.can_manage_numbers):
            return
        try:
            self.importable = [{"sid": n.sid, "e164": n.e164, "friendly_name": n.friendly_name,
                                "voice_url": n.voice_url or "(none)"}
                               for n in number_service.importable(session, user, self._require_org())]
        except DomainError as exc:
            self.import_error = exc.message

    @rx.event
    def load(self):
        self.loading, self.errors, self.available, self.searched = True, {}, [], False
        try:
            with session_scope() as session:
                user = self._current_user(session)
                self._load_session(session, user)
                self._refresh(session, user)
                self._refresh_importable(session, user)
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            self.errors = {"": exc.message}
        finally:
            self.loading = False
        return None

    @rx.event
    def search(self, form: dict):
        self.errors, self.searched = {}, False
        filters = {k: str(form.get(k) or "").strip() for k in SEARCH_FIELDS}
        try:
            with session_scope() as session:
                user = self._current_user(session)
                found = number_service.search_available(session, user, self._require_org(), **filters)
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            self.available = []
            self.errors = {exc.field or "search": exc.message}
            return None
        self.available = [{"e164": n.e164, "friendly_name": n.friendly_name,
                           "place": ", ".join(p for p in (n.locality, n.region, n.iso_country) if p)} for n in found]
        self.searched = True
        return None

    @rx.event
    def buy(self, e164: str):
        def bought(session, user):
            number_service.buy(session, user, self._require_org(), e164)
            self.available = [n for n in self.available if n["e164"] != e164]

        return self._act(bought, f"{e164} is yours")

    @rx.event
    def import_number(self, sid: str):
        return self._act(lambda s, u: number_service.import_number(s, u, self._require_org(), sid=sid),
                         "Number imported; its calls now come here", refresh_importable=True)

    @rx.event
    def assign(self, number_id: str, agent_id: str):
        def change(session, user):
            if agent_id == UNASSIGNED:
                number_service.unassign(session, user, uuid.UUID(number_id))
            else:
                number_service.assign(session, user, uuid.UUID(number_id), uuid.UUID(agent_id))

        return self._act(change, "Number unassigned" if agent_id == UNASSIGNED else "Number assigned")

    @rx.event
    def release(self, number_id: str):
        return self._act(lambda s, u: number_service.release(s, u, uuid.UUID(number_id)), "Number released",
                         refresh_importable=True)

    @rx.event
    def refresh_importable(self):
        return self._act(lambda s, u: None, "", refresh_importable=True)

    def _act(self, change, done: str, *, refresh_importable: bool = False):
        """Run one change in one transaction, then show the list as it really is (also after a refusal)."""
        try:
            with session_scope() as session:
                user = self._current_user(session)
                change(session, user)
        except NotAuthenticated:
            return self._signed_out()
        except (DomainError, ValueError) as exc:
            self._reload(refresh_importable)
            return rx.toast.error(getattr(exc, "message", "Invalid request"))
        self._reload(refresh_importable)
        return rx.toast.success(done) if done else None

    def _reload(self, refresh_importable: bool) -> None:
        try:
            with session_scope() as session:
                user = self._current_user(session)
                self._refresh(session, user)
                if refresh_importable:
                    self._refresh_importable(session, user)
        except DomainError as exc:
            self.errors = {"": exc.message}
