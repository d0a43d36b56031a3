"""State of ``/webhooks``: the organization's webhook endpoints and their recent deliveries.

Thin like every state: each event calls ``services.webhooks`` (org admins only, validation, the
SSRF guard and the audit log live there) and keeps plain dicts for the page. The signing
secret comes back from the service twice only, on create and on rotate: it is held in
``new_secret`` until the admin dismisses it or leaves the page, and never listed again.

Deliveries are sent by a background loop, so after "Send test" or "Redeliver" the open delivery
lists are looked at again every second (``follow_deliveries``) until none of them is pending,
for a bounded time.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import reflex as rx

from voice_platform.db import session_scope
from voice_platform.errors import DomainError, NotAuthenticated
from voice_platform.services import agents as agent_service
from voice_platform.services import auth as auth_service
from voice_platform.services import webhooks as webhook_service
from voice_platform.state.auth import AuthState

ALL = "all"  # the agent filter's "every agent"
EVENT_TYPES = list(webhook_service.EVENT_TYPES)
FORM_FIELDS = ("url", "events", "agent_id", "description")
FORM_ERROR = "form"
EDIT = "edit_"  # the edit dialog's inputs and error keys: its own ids next to the add form's
FOLLOW_POLL_SECONDS = 1.0
FOLLOW_SECONDS = 120


def _when(value) -> str:
    return value.strftime("%b %d, %H:%M:%S UTC") if value else ""


def delivery_row(d: webhook_service.DeliveryView) -> dict[str, str]:
    return {
        "id": str(d.id), "event_id": d.event_id, "event_type": d.event_type, "status": d.status,
        "attempts": str(d.attempts), "response_status": "" if d.response_status is None else str(d.response_status),
        "duration": "" if d.duration_ms is None else f"{d.duration_ms:.0f} ms",
        "next_attempt": _when(d.next_attempt_at), "created": _when(d.created_at), "last_error": d.last_error or "",
    }


def endpoint_row(view: webhook_service.EndpointView, agent_names: dict[str, str],
                 kept: dict[str, Any] | None = None) -> dict[str, Any]:
    """One endpoint for the page; ``kept``: its earlier row, whose open delivery list stays open."""
    agent_id = str(view.agent_id) if view.agent_id else ""
    return {
        "id": str(view.id), "url": view.url, "events": list(view.events), "description": view.description or "",
        "agent_id": agent_id or ALL,
        "agent_name": agent_names.get(agent_id, "an agent no longer listed") if agent_id else "every agent",
        "enabled": bool(view.enabled), "disabled_reason": view.disabled_reason or "",
        "failing_since": _when(view.failing_since), "created": _when(view.created_at),
        "deliveries_open": bool(kept and kept["deliveries_open"]),
        "deliveries": list(kept["deliveries"]) if kept else [],
    }


def form_key_of(field: str | None, prefix: str = "") -> str:
    """The errors-dict key a refusal shows under: its field in that form, else the form's callout."""
    return prefix + field if field in FORM_FIELDS else FORM_ERROR


class WebhooksState(AuthState):
    endpoints: list[dict[str, Any]] = []
    agent_options: list[dict[str, str]] = []
    errors: dict[str, str] = {}
    new_events: list[str] = EVENT_TYPES
    new_agent: str = ALL
    form_key: int = 0
    loading: bool = True
    busy: str = ""  # "create", or the id of the endpoint whose request is in flight
    # The secret just made (create, rotate): shown once, forgotten on dismiss or the next load.
    new_secret: str = ""
    new_secret_url: str = ""
    # The edit dialog (one at a time).
    editing_id: str = ""
    edit_url: str = ""
    edit_description: str = ""
    edit_events: list[str] = []
    edit_agent: str = ALL
    edit_errors: dict[str, str] = {}
    follow_generation: int = 0

    @rx.var
    def can_manage(self) -> bool:
        return "org:manage" in self.permissions

    # -- helpers ------------------------------------------------------------------------------
    def _refresh(self, session, user) -> None:
        org = self._require_org()
        agents = agent_service.list_agents(session, user, org, limit=200).items
        names = {str(a.id): a.name for a in agents}
        self.agent_options = [{"id": ALL, "name": "All agents"}] + [{"id": i, "name": n} for i, n in names.items()]
        kept = {e["id"]: e for e in self.endpoints}
        self.endpoints = [endpoint_row(v, names, kept.get(str(v.id)))
                          for v in webhook_service.list_endpoints(session, user, org)]

    def _write(self, change, success: str | None = None):
        """``change(session, user, org)`` then the fresh list, in one transaction; a refusal as a toast."""
        try:
            with session_scope() as session:
                user = self._current_user(session)
                result = change(session, user, self._require_org())
                self._refresh(session, user)
        except NotAuthenticated:
            return False, self._signed_out()
        except (DomainError, ValueError) as exc:
            return False, rx.toast.error(getattr(exc, "message", None) or "Unknown webhook")
        return result if result is not None else True, (rx.toast.success(success) if success else None)

    def _set_row(self, endpoint_id: str, **values: Any) -> None:
        self.endpoints = [{**e, **values} if e["id"] == endpoint_id else e for e in self.endpoints]

    def _load_deliveries(self, session, user, endpoint_id: str) -> None:
        rows = [delivery_row(d) for d in webhook_service.list_deliveries(
            session, user, self._require_org(), uuid.UUID(endpoint_id), limit=20)]
        self._set_row(endpoint_id, deliveries=rows, deliveries_open=True)

    def _following(self):
        self.follow_generation += 1
        return WebhooksState.follow_deliveries

    # -- page and add form ----------------------------------------------------------------------
    @rx.event
    def load(self):
        self.loading, self.errors, self.endpoints, self.busy = True, {}, [], ""
        self.new_secret, self.new_secret_url, self.editing_id = "", "", ""
        self.new_events, self.new_agent = list(EVENT_TYPES), ALL
        self.form_key += 1
        self.follow_generation += 1  # a follower of an earlier visit stops

        def endpoints(session, user) -> None:
            if self.can_manage:
                self._refresh(session, user)

        return self._load_page(endpoints, on_error=lambda message: self.errors.update({FORM_ERROR: message}))

    @rx.event
    def toggle_new_event(self, event: str, checked: bool):
        if event in EVENT_TYPES:
            wanted = set(self.new_events) | {event} if checked else set(self.new_events) - {event}
            self.new_events = [e for e in EVENT_TYPES if e in wanted]

    @rx.event
    def set_new_agent(self, value: str):
        self.new_agent = value

    @rx.event
    def create(self, form: dict):
        self.errors, self.new_secret, self.new_secret_url = {}, "", ""
        data = {"url": str(form.get("url") or "").strip(), "events": list(self.new_events),
                "agent_id": None if self.new_agent == ALL else self.new_agent,
                "description": str(form.get("description") or "").strip()}
        try:
            with session_scope() as session:
                user = self._current_user(session)
                made = webhook_service.create_endpoint(session, user, self._require_org(), data)
                self._refresh(session, user)
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            self.errors = {form_key_of(exc.field): exc.message}
            return rx.toast.error(exc.message)
        self.new_secret, self.new_secret_url = made.secret, made.endpoint.url
        self.new_events, self.new_agent = list(EVENT_TYPES), ALL
        self.form_key += 1
        return rx.toast.success("Webhook added: copy its signing secret now")

    @rx.event
    def dismiss_secret(self):
        self.new_secret, self.new_secret_url = "", ""

    # -- one endpoint ---------------------------------------------------------------------------
    @rx.event
    def set_enabled(self, endpoint_id: str, enabled: bool):
        _, event = self._write(lambda s, u, org: webhook_service.update_endpoint(
            s, u, org, uuid.UUID(endpoint_id), {"enabled": bool(enabled)}),
            "Webhook switched on" if enabled else "Webhook switched off")
        return event

    @rx.event
    def delete(self, endpoint_id: str):
        _, event = self._write(lambda s, u, org: webhook_service.delete_endpoint(s, u, org, uuid.UUID(endpoint_id)),
                               "Webhook deleted")
        return event

    @rx.event
    def rotate(self, endpoint_id: str):
        secret, event = self._write(lambda s, u, org: webhook_service.rotate_secret(s, u, org, uuid.UUID(endpoint_id)))
        if isinstance(secret, str):
            self.new_secret = secret
            self.new_secret_url = next((e["url"] for e in self.endpoints if e["id"] == endpoint_id), "")
            return rx.toast.success("New signing secret made: copy it now; the old one no longer signs")
        return event

    @rx.event
    def send_test(self, endpoint_id: str):
        def ping(session, user, org):
            webhook_service.send_test(session, user, org, uuid.UUID(endpoint_id))
            return True

        done, event = self._write(ping)
        if done is not True:
            return event
        return self._show_deliveries(endpoint_id, "Test ping queued")

    @rx.event
    def redeliver(self, endpoint_id: str, delivery_id: str):
        done, event = self._write(lambda s, u, org: webhook_service.redeliver(
            s, u, org, uuid.UUID(endpoint_id), uuid.UUID(delivery_id)))
        if done is False:
            return event
        return self._show_deliveries(endpoint_id, "Queued again, with the same webhook-id")

    @rx.event
    def toggle_deliveries(self, endpoint_id: str):
        row = next((e for e in self.endpoints if e["id"] == endpoint_id), None)
        if row is not None and row["deliveries_open"]:
            self._set_row(endpoint_id, deliveries_open=False)
            return None
        return self._show_deliveries(endpoint_id)

    def _show_deliveries(self, endpoint_id: str, message: str | None = None):
        try:
            with session_scope() as session:
                self._load_deliveries(session, self._current_user(session), endpoint_id)
        except NotAuthenticated:
            return self._signed_out()
        except (DomainError, ValueError) as exc:
            return rx.toast.error(getattr(exc, "message", None) or "Unknown webhook")
        events = [self._following()]
        return events + [rx.toast.success(message)] if message else events

    # -- the edit dialog ------------------------------------------------------------------------
    @rx.event
    def start_edit(self, endpoint_id: str):
        row = next((e for e in self.endpoints if e["id"] == endpoint_id), None)
        if row is None:
            return
        self.editing_id, self.edit_errors = endpoint_id, {}
        self.edit_url, self.edit_description = row["url"], row["description"]
        self.edit_events, self.edit_agent = list(row["events"]), row["agent_id"]

    @rx.event
    def close_edit(self, open_: bool = False):
        if not open_:
            self.editing_id, self.edit_errors = "", {}

    @rx.event
    def toggle_edit_event(self, event: str, checked: bool):
        if event in EVENT_TYPES:
            wanted = set(self.edit_events) | {event} if checked else set(self.edit_events) - {event}
            self.edit_events = [e for e in EVENT_TYPES if e in wanted]

    @rx.event
    def set_edit_agent(self, value: str):
        self.edit_agent = value

    @rx.event
    def save_edit(self, form: dict):
        changes = {"url": str(form.get(EDIT + "url") or "").strip(), "events": list(self.edit_events),
                   "agent_id": None if self.edit_agent == ALL else self.edit_agent,
                   "description": str(form.get(EDIT + "description") or "").strip()}
        self.edit_errors = {}
        try:
            with session_scope() as session:
                user = self._current_user(session)
                webhook_service.update_endpoint(session, user, self._require_org(), uuid.UUID(self.editing_id), changes)
                self._refresh(session, user)
        except NotAuthenticated:
            return self._signed_out()
        except (DomainError, ValueError) as exc:
            message = getattr(exc, "message", None) or "Unknown webhook"
            self.edit_errors = {form_key_of(getattr(exc, "field", None), EDIT): message}
            return rx.toast.error(message)
        self.editing_id = ""
        return rx.toast.success("Webhook saved")

    # -- following deliveries the background loop sends ------------------------------------------
    @rx.event(background=True)
    async def follow_deliveries(self):
        async with self:
            generation, token, org = self.follow_generation, self.token, self.org_id
        ends = time.monotonic() + FOLLOW_SECONDS
        while time.monotonic() < ends:
            await asyncio.sleep(FOLLOW_POLL_SECONDS)
            async with self:
                if self.follow_generation != generation:
                    return
                open_ids = [e["id"] for e in self.endpoints if e["deliveries_open"]]
            try:
                fresh = await asyncio.to_thread(_deliveries_of, token, org, open_ids)
            except (DomainError, ValueError):  # signed out, switched organization, endpoint deleted
                return
            async with self:
                if self.follow_generation != generation:
                    return
                self.endpoints = [{**e, "deliveries": fresh[e["id"]]} if e["id"] in fresh else e
                                  for e in self.endpoints]
                if not any(d["status"] == "pending" for rows in fresh.values() for d in rows):
                    return


def _deliveries_of(token: str, org_id: str, endpoint_ids: list[str]) -> dict[str, list[dict[str, str]]]:
    """The latest deliveries of these endpoints, read as the signed-in admin (outside the state's lock)."""
    with session_scope() as session:
        user = auth_service.user_from_token(session, token or None)
        org = uuid.UUID(org_id)
        return {i: [delivery_row(d) for d in webhook_service.list_deliveries(session, user, org, uuid.UUID(i), limit=20)]
                for i in endpoint_ids}
