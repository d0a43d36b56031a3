"""The "Edit campaign" dialog of a draft on ``/campaigns/[campaign_id]``: its name, agent,
window, calls at once and retries, through ``services.campaigns.edit`` (``agent:update``; the
service refuses a campaign that has started, in words the dialog shows). The contacts stay as
uploaded. The inputs start from the draft as stored when the dialog opens.
"""

from __future__ import annotations

import uuid

import reflex as rx

from voice_platform.db import session_scope
from voice_platform.errors import DomainError, NotAuthenticated
from voice_platform.services import agents as agent_service
from voice_platform.services import campaigns as campaign_service
from voice_platform.state.auth import AuthState
from voice_platform.state.campaign_detail import CampaignDetailState
from voice_platform.state.campaign_form import DAYS, ERROR_KEYS, FORM_ERROR, settings_of, toggled


class CampaignEditState(AuthState):
    edit_open: bool = False
    editing: str = ""  # the campaign's id
    agent_options: list[dict[str, str]] = []
    chosen_agent: str = ""
    days: list[str] = []
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    form_key: int = 0
    saving: bool = False

    @rx.event
    def open(self, campaign_id: str):
        """The draft as stored now, and the organization's agents to choose from."""
        try:
            with session_scope() as session:
                user = self._current_user(session)
                org = self._require_org()
                campaign = campaign_service.view(session, user, org, uuid.UUID(campaign_id)).campaign
                agents = agent_service.list_agents(session, user, org, limit=200).items
        except NotAuthenticated:
            return self._signed_out()
        except (DomainError, ValueError) as exc:
            return rx.toast.error(getattr(exc, "message", campaign_service.NOT_FOUND))
        window = campaign.window or {}
        self.editing, self.errors, self.form_key = campaign_id, {}, self.form_key + 1
        self.agent_options = [{"id": str(a.id), "name": a.name + (f" ({a.phone_number})" if a.phone_number
                                                                     else " (no number)")} for a in agents]
        self.chosen_agent = str(campaign.agent_id)
        self.days = [d for d in DAYS if d in (window.get("days") or [])]
        self.values = {"name": campaign.name, "start": str(window.get("start", "")), "end": str(window.get("end", "")),
                       "max_concurrent": str(campaign.max_concurrent), "attempts": str(campaign.retry_attempts),
                       "delay_minutes": str(campaign.retry_delay_minutes)}
        self.edit_open = True
        return None

    @rx.event
    def set_edit_open(self, value: bool):
        self.edit_open = value

    @rx.event
    def set_agent(self, value: str):
        self.chosen_agent = value

    @rx.event
    def toggle_day(self, day: str, checked: bool):
        self.days = toggled(self.days, day, checked)

    @rx.event
    def save(self, form: dict):
        self.errors = {}
        data = settings_of(form, self.chosen_agent, self.days)
        self.saving = True
        try:
            with session_scope() as session:
                campaign_service.edit(session, self._current_user(session), self._require_org(),
                                      uuid.UUID(self.editing), data)
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            self.errors = {ERROR_KEYS.get(exc.field or "", FORM_ERROR): exc.message}
            return rx.toast.error(exc.message)
        finally:
            self.saving = False
        self.edit_open = False
        return [CampaignDetailState.refresh, rx.toast.success("Campaign saved")]
