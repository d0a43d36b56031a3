"""The "New campaign" form on ``/campaigns``: the settings, and contacts from a CSV file.

The file is parsed by ``services.campaign_rules.parse_csv`` (the same rules the API applies to
JSON contacts) as soon as it is dropped, so the rejected rows and their reasons are on screen
before anything is created; creating sends only the accepted contacts to
``services.campaigns.create``. Those contacts (up to 10,000) stay on the server, in a
backend-only var: the browser gets a count and a short preview, not the whole list.
"""

from __future__ import annotations

import re
from typing import Any

import reflex as rx

from voice_platform.db import session_scope
from voice_platform.errors import DomainError, NotAuthenticated
from voice_platform.services import agents as agent_service
from voice_platform.services import campaign_rules
from voice_platform.services import campaigns as campaign_service
from voice_platform.state.auth import AuthState

UPLOAD_ID = "campaign_contacts"
DAYS = list(campaign_rules.DAYS)
PREVIEW_ROWS = 5
FORM_ERROR = "form"
# The service's field names -> the form's error slots.
ERROR_KEYS = {"name": "name", "agent_id": "agent_id", "window": "days", "window.days": "days",
              "window.start": "start", "window.end": "end", "max_concurrent": "max_concurrent",
              "retry": "attempts", "retry.attempts": "attempts", "retry.delay_minutes": "delay_minutes",
              "contacts": "file", "file": "file"}


def whole(text: object) -> object:
    """A typed whole number as an int; anything else as typed, for the service to refuse in its words."""
    raw = str(text or "").strip()
    return int(raw) if re.fullmatch(r"\d{1,6}", raw) else raw


def decode(raw: bytes) -> str:
    """Spreadsheets save UTF-8 (often with a BOM) or, in older Windows versions, cp1252."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def preview_row(contact: dict[str, Any]) -> dict[str, str]:
    variables = contact.get("variables") or {}
    return {"to": contact["to"], "variables": ", ".join(f"{k}={v}" for k, v in sorted(variables.items()))}


def toggled(days: list[str], day: str, checked: bool) -> list[str]:
    """The window's days after one checkbox changed, in the week's order."""
    if day not in DAYS:
        return days
    wanted = set(days) | {day} if checked else set(days) - {day}
    return [d for d in DAYS if d in wanted]


def settings_of(form: dict, agent_id: str, days: list[str]) -> dict[str, Any]:
    """A campaign's settings as the service takes them, from the settings fields' form data."""
    return {
        "name": str(form.get("name") or "").strip(), "agent_id": agent_id,
        "window": {"days": list(days), "start": str(form.get("start") or "").strip(),
                   "end": str(form.get("end") or "").strip()},
        "max_concurrent": whole(form.get("max_concurrent")),
        "retry": {"attempts": whole(form.get("attempts")), "delay_minutes": whole(form.get("delay_minutes"))},
    }


class NewCampaignState(AuthState):
    form_open: bool = False
    agent_options: list[dict[str, str]] = []
    chosen_agent: str = ""
    days: list[str] = list(campaign_rules.DEFAULT_WINDOW["days"])
    errors: dict[str, str] = {}
    file_name: str = ""
    accepted: int = 0
    variable_names: str = ""
    preview: list[dict[str, str]] = []
    rejected: list[dict[str, str]] = []
    form_key: int = 0
    _contacts: list[dict[str, Any]] = []  # backend only: the accepted contacts, sent to create

    @rx.var
    def can_create(self) -> bool:
        return self.accepted > 0 and self.chosen_agent != ""

    def _forget_file(self) -> None:
        self.file_name, self.accepted, self.variable_names = "", 0, ""
        self.preview, self.rejected, self._contacts = [], [], []

    @rx.event
    def toggle(self):
        """Open the form (agents listed fresh: one may have got its number since) or close it."""
        if self.form_open:
            self.form_open = False
            return None
        self.errors, self.days = {}, list(campaign_rules.DEFAULT_WINDOW["days"])
        self._forget_file()
        self.form_key += 1
        try:
            with session_scope() as session:
                user = self._current_user(session)
                agents = agent_service.list_agents(session, user, self._require_org(), limit=200).items
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            return rx.toast.error(exc.message)
        self.agent_options = [{"id": str(a.id), "name": a.name + (f" ({a.phone_number})" if a.phone_number
                                                                     else " (no number)")} for a in agents]
        callers = [str(a.id) for a in agents if a.phone_number and a.is_active]
        self.chosen_agent = callers[0] if callers else (self.agent_options[0]["id"] if agents else "")
        self.form_open = True
        return None

    @rx.event
    def close(self):
        """on_load of /campaigns: a visit starts with the form closed and no file held."""
        self.form_open, self.errors = False, {}
        self._forget_file()

    @rx.event
    def set_agent(self, value: str):
        self.chosen_agent = value

    @rx.event
    def toggle_day(self, day: str, checked: bool):
        self.days = toggled(self.days, day, checked)

    @rx.event
    async def upload_csv(self, files: list[rx.UploadFile]):
        """Parse the dropped file at once: accepted contacts kept, rejected rows shown with reasons."""
        self.errors = {k: v for k, v in self.errors.items() if k != "file"}
        self._forget_file()
        if not files:
            return None
        try:
            with session_scope() as session:
                self._current_user(session)  # only a signed-in person's file is read
        except NotAuthenticated:
            return self._signed_out()
        upload = files[0]
        raw = await upload.read()
        self.file_name = upload.name or "contacts.csv"
        if len(raw) > campaign_rules.MAX_CSV_CHARS:
            limit = campaign_rules.MAX_CSV_CHARS // 1_000_000
            self.errors = {**self.errors, "file": f"The file is larger than {limit} MB"}
            return None
        try:
            contacts, rejected = campaign_service.parse_csv(decode(raw))
        except DomainError as exc:
            self.errors = {**self.errors, "file": exc.message}
            return None
        self._contacts, self.accepted = contacts, len(contacts)
        names = sorted({k for c in contacts for k in (c.get("variables") or {})})
        self.variable_names = ", ".join(names)
        self.preview = [preview_row(c) for c in contacts[:PREVIEW_ROWS]]
        self.rejected = [{"row": str(r["row"]), "reason": r["reason"]} for r in rejected]
        if not contacts:
            self.errors = {**self.errors, "file": "No row of the file can be called; see the reasons below"}
        return None

    @rx.event
    def create(self, form: dict):
        self.errors = {}
        data = {**settings_of(form, self.chosen_agent, self.days), "contacts": list(self._contacts)}
        if not data["contacts"]:
            self.errors = {"file": "Upload a CSV file with a 'to' column first"}
            return None
        try:
            with session_scope() as session:
                made = campaign_service.create(session, self._current_user(session), self._require_org(), data)
                campaign_id = str(made.id)
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            self.errors = {ERROR_KEYS.get(exc.field or "", FORM_ERROR): exc.message}
            return rx.toast.error(exc.message)
        self.form_open = False
        self._forget_file()
        return [rx.redirect(f"/campaigns/{campaign_id}"),
                rx.toast.success(f"Campaign created with {len(data['contacts'])} contacts; start it when ready")]
