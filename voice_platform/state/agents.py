"""The agents list and the agent form; both call ``services.agents`` only."""

from __future__ import annotations

import uuid
from typing import Any

import reflex as rx

from voice_platform.db import session_scope
from voice_platform.errors import DomainError, NotAuthenticated, NotFound
from voice_platform.services import agents as agent_service
from voice_platform.services import phone_numbers as number_service
from voice_platform.state import agent_plan
from voice_platform.state.auth import AGENTS_ROUTE, AuthState

PAGE_SIZE = 20
PLAN_SECTION_ID = "after-the-call"  # the form's "After the call" card: a plan refusal scrolls there
DEFAULT_VOICE = "Puck"
DEFAULT_LANGUAGE = "en-US"
TEXT_FIELDS = ("name", "phone_number", "system_prompt", "greeting", "language", "transfer_number", "recording_notice")
# Text inputs of the form that are not columns of the agents list (outbound calls, "After the call").
EXTRA_TEXT_FIELDS = ("voicemail_message", "hold_music_url", *agent_plan.PROMPTS)
FORM_FIELDS = (*TEXT_FIELDS, *EXTRA_TEXT_FIELDS, "voice", "model", "voicemail_action", "transfer_mode")  # element ids
DEFAULT_VOICEMAIL_ACTION, DEFAULT_TRANSFER_MODE = agent_service.VOICEMAIL_ACTIONS[0], agent_service.TRANSFER_MODES[0]


def agent_row(agent, activity=None) -> dict[str, str | bool]:
    """What a list row or the form needs, as plain JSON-able values."""
    last = activity.last_call_at if activity else None
    return {
        "tools": ", ".join(activity.tools) if activity and activity.tools else "",
        "last_call": last.strftime("%b %d, %H:%M UTC") if last else "",
        "id": str(agent.id),
        "name": agent.name,
        "phone_number": agent.phone_number or "",
        "system_prompt": agent.system_prompt or "",
        "greeting": agent.greeting or "",
        "voice": agent.voice or "",
        "model": agent.model or "",
        "language": agent.language or "",
        "is_active": bool(agent.is_active),
        "transfer_number": agent.transfer_number or "",
        "recording_notice": agent.recording_notice or "",
        "record_calls": bool(agent.record_calls),
        "updated": agent.updated_at.strftime("%b %d, %Y") if getattr(agent, "updated_at", None) else "",
    }


class AgentsState(AuthState):
    """One page of the current organization's agents."""

    agents: list[dict[str, str | bool]] = []
    total: int = 0
    offset: int = 0
    loading: bool = True
    error: str = ""
    search: str = ""

    @rx.var
    def page_label(self) -> str:
        if not self.total:
            return ""
        return f"{self.offset + 1}–{min(self.offset + PAGE_SIZE, self.total)} of {self.total}"

    @rx.var
    def has_previous(self) -> bool:
        return self.offset > 0

    @rx.var
    def has_next(self) -> bool:
        return self.offset + PAGE_SIZE < self.total

    @rx.event
    def load(self):
        """on_load of /agents (after guard): the first page; ``?q=`` deep-links a search."""
        self.offset = 0
        self.loading = True
        self.search = self.router.url.query_parameters.get("q", "") or ""
        return self._fetch(refresh_session=True)

    @rx.event
    def apply_search(self, form: dict):
        self.search, self.offset = str(form.get("q") or "").strip(), 0
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
                if refresh_session or not self.session_ready:
                    self._load_session(session, user)
                org = self._org_uuid()
                if org is None:
                    self.agents, self.total = [], 0
                else:
                    page = agent_service.list_agents(session, user, org, offset=self.offset, limit=PAGE_SIZE,
                                                     search=self.search or None)
                    activity = agent_service.activity_of(session, [a.id for a in page.items])
                    self.agents = [agent_row(a, activity.get(a.id)) for a in page.items]
                    self.total = page.total
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            self.agents, self.total, self.error = [], 0, exc.message
        finally:
            self.loading = False
        return None


class AgentFormState(AuthState):
    """Create (/agents/new) or edit (/agents/[agent_id]) one agent.

    The route's ``agent_id`` is a Reflex dynamic-route var on the root state
    (shared with /agents/[agent_id]/tools); this state never defines its own.
    """

    editing_id: str = ""
    values: dict[str, str] = {}
    voice: str = DEFAULT_VOICE
    model: str = agent_service.MODELS[0]
    is_active: bool = True
    record_calls: bool = False
    errors: dict[str, str] = {}
    loading: bool = True
    saving: bool = False
    not_found: bool = False
    # Bumped after each load so uncontrolled inputs remount with fresh defaults.
    form_key: int = 0
    # The organization's free numbers (plus this agent's own), offered first in the phone field.
    number_options: list[str] = []
    voicemail_action: str = DEFAULT_VOICEMAIL_ACTION
    transfer_mode: str = DEFAULT_TRANSFER_MODE
    # "After the call": the analysis plan's fields (state/agent_plan.py); ``plan_seq`` names new rows.
    plan_rows: list[dict[str, Any]] = []
    plan_seq: int = 0

    @rx.var
    def is_new(self) -> bool:
        return self.editing_id == ""

    @rx.var
    def title(self) -> str:
        return "New agent" if self.editing_id == "" else (self.values.get("name") or "Agent")

    @rx.var
    def can_save(self) -> bool:
        needed = "agent:create" if self.editing_id == "" else "agent:update"
        return needed in self.permissions

    @rx.var
    def can_add_plan_field(self) -> bool:
        return agent_plan.can_add(self.plan_rows)

    def _reset_form(self) -> None:
        self.values = {k: "" for k in (*TEXT_FIELDS, *EXTRA_TEXT_FIELDS)} | {"language": DEFAULT_LANGUAGE}
        self.voice, self.model, self.is_active, self.record_calls = DEFAULT_VOICE, agent_service.MODELS[0], True, False
        self.voicemail_action, self.transfer_mode = DEFAULT_VOICEMAIL_ACTION, DEFAULT_TRANSFER_MODE
        self.plan_rows, self.plan_seq = [], 0
        self.errors, self.not_found, self.saving = {}, False, False
        self.number_options = []

    def _show_agent(self, agent) -> None:
        """The stored agent into the form (on load, and after a save: what the service kept)."""
        row = agent_row(agent)
        plan = agent.analysis_plan
        self.values = {k: str(row[k]) for k in TEXT_FIELDS} | {"voicemail_message": agent.voicemail_message or "",
                                                               "hold_music_url": agent.hold_music_url or ""} \
            | agent_plan.prompts_of(plan)
        self.voice = str(row["voice"]) or DEFAULT_VOICE
        self.model = str(row["model"]) or agent_service.MODELS[0]
        self.is_active = bool(row["is_active"])
        self.record_calls = bool(row["record_calls"])
        self.voicemail_action = agent.voicemail_action or DEFAULT_VOICEMAIL_ACTION
        self.transfer_mode = agent.transfer_mode or DEFAULT_TRANSFER_MODE
        self.plan_rows = agent_plan.rows_of(plan)
        self.plan_seq = len(self.plan_rows)

    @rx.event
    def load(self):
        """on_load of /agents/new and /agents/[agent_id]."""
        self._reset_form()
        self.loading = True
        # "" on /agents/new: the dynamic-route var is empty when the route has no such arg.
        self.editing_id = getattr(self, "agent_id", "") or ""
        try:
            with session_scope() as session:
                user = self._current_user(session)
                if not self.editing_id:
                    self._load_session(session, user)
                    org = self._org_uuid()
                    self.number_options = number_service.assignable_numbers(session, user, org) if org else []
                    return None
                try:
                    agent = agent_service.get_agent(session, user, uuid.UUID(self.editing_id))
                except ValueError:
                    raise NotFound(agent_service.NOT_FOUND) from None
                # Following a link to another of the user's orgs switches the switcher too.
                self._load_session(session, user, prefer_org=str(agent.organization_id))
                self.number_options = number_service.assignable_numbers(session, user, agent.organization_id, agent.id)
                self._show_agent(agent)
        except NotAuthenticated:
            return self._signed_out()
        except NotFound:
            self.not_found = True
        except DomainError as exc:
            self.errors = {"": exc.message}
        finally:
            self.loading = False
            self.form_key += 1
        return None

    @rx.event
    def set_voice(self, value: str):
        self.voice = value

    @rx.event
    def set_model(self, value: str):
        self.model = value

    @rx.event
    def set_is_active(self, value: bool):
        self.is_active = value

    @rx.event
    def set_record_calls(self, value: bool):
        self.record_calls = value

    @rx.event
    def set_voicemail_action(self, value: str):
        if value in agent_service.VOICEMAIL_ACTIONS:
            self.voicemail_action = value

    @rx.event
    def set_transfer_mode(self, value: str):
        if value in agent_service.TRANSFER_MODES:
            self.transfer_mode = value

    @rx.event
    def add_plan_field(self):
        if agent_plan.can_add(self.plan_rows):
            self.plan_rows = [*self.plan_rows, agent_plan.new_row(f"r{self.plan_seq}")]
            self.plan_seq += 1

    @rx.event
    def remove_plan_field(self, key: str):
        self.plan_rows = [r for r in self.plan_rows if r["key"] != key]

    @rx.event
    def set_plan_type(self, key: str, value: str):
        if value in agent_plan.FIELD_TYPES:
            self.plan_rows = [{**r, "type": value} if r["key"] == key else r for r in self.plan_rows]

    @rx.event
    def set_plan_required(self, key: str, value: bool):
        self.plan_rows = [{**r, "required": bool(value)} if r["key"] == key else r for r in self.plan_rows]

    @rx.event
    def save(self, form: dict):
        """The service validates; its message lands next to the field it names (a plan's field
        row included: ``agent_plan.place_error``)."""
        data = {k: (form.get(k) or "") for k in TEXT_FIELDS}
        data["phone_number"] = data["phone_number"].strip() or None
        data["transfer_number"] = data["transfer_number"].strip() or None
        data.update(voice=self.voice, model=self.model, is_active=self.is_active, record_calls=self.record_calls,
                    voicemail_action=self.voicemail_action, transfer_mode=self.transfer_mode,
                    voicemail_message=str(form.get("voicemail_message") or "").strip() or None,
                    hold_music_url=str(form.get("hold_music_url") or "").strip() or None,
                    analysis_plan=agent_plan.plan_of(form, self.plan_rows))
        self.values = {k: str(form.get(k) or "") for k in (*TEXT_FIELDS, *EXTRA_TEXT_FIELDS)}
        self.plan_rows = agent_plan.typed_values(form, self.plan_rows)
        self.errors = {}
        creating = self.editing_id == ""
        try:
            with session_scope() as session:
                user = self._current_user(session)
                if creating:
                    org = self._org_uuid()
                    if org is None:
                        raise NotFound("Choose an organization first")
                    agent = agent_service.create_agent(session, user, org, data)
                else:
                    agent = agent_service.update_agent(session, user, uuid.UUID(self.editing_id), data)
                name = agent.name
                if not creating:
                    self._show_agent(agent)
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            self.plan_rows, plan_key = agent_plan.place_error(self.plan_rows, exc.field, exc.message)
            if plan_key is not None:
                self.errors = {plan_key: exc.message} if plan_key else {}
                return [rx.scroll_to(PLAN_SECTION_ID), rx.toast.error("Please fix the highlighted field")]
            self.errors = {exc.field or "": exc.message}
            if exc.field in FORM_FIELDS:
                return [rx.scroll_to(exc.field), rx.toast.error("Please fix the highlighted field")]
            return rx.toast.error(exc.message)
        if creating:
            return [rx.redirect(AGENTS_ROUTE), rx.toast.success(f"Agent “{name}” created")]
        return rx.toast.success("Changes saved")

    @rx.event
    def delete(self):
        try:
            with session_scope() as session:
                user = self._current_user(session)
                agent_service.delete_agent(session, user, uuid.UUID(self.editing_id))
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            return rx.toast.error(exc.message)
        return [rx.redirect(AGENTS_ROUTE), rx.toast.success("Agent deleted")]
