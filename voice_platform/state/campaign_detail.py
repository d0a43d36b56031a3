"""State of ``/campaigns/[campaign_id]``: one campaign's progress, its controls and its contacts.

Reads ``services.campaigns.detail`` (``call:read``; another organization's campaign is "not
found") and steers with ``services.campaigns.change`` (``agent:update``; the service refuses a
change the status does not allow, in words the page shows). The dialer works in the background,
so while the campaign runs (or calls are still in flight) the page looks again every
``POLL_SECONDS`` (``follow``): the bar, the counts and the contacts on screen move without a
reload. It stops when nothing can change any more, or after ``FOLLOW_SECONDS``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import reflex as rx

from voice_platform.db import session_scope
from voice_platform.errors import DomainError, NotAuthenticated, NotFound
from voice_platform.models.outbound import CONTACT_STATES, RUNNING
from voice_platform.services import agents as agent_service
from voice_platform.services import auth as auth_service
from voice_platform.services import campaigns as campaign_service
from voice_platform.state.auth import AuthState
from voice_platform.state.campaigns import STATE_LABELS, campaign_row, count_rows

PAGE_SIZE = 50
ALL = "all"
POLL_SECONDS = 1.5
FOLLOW_SECONDS = 2 * 60 * 60  # a page left open longer stops following (a reload starts again)


def contact_row(view: campaign_service.ContactView) -> dict[str, Any]:
    c = view.contact
    return {
        "id": str(c.id), "position": str(c.position + 1), "number": c.to_number,
        "variables": ", ".join(f"{k}={v}" for k, v in sorted((c.variables or {}).items())),  # JSONB keeps no order
        "state": c.state, "state_label": STATE_LABELS.get(c.state, c.state), "attempts": str(c.attempts),
        "error": c.last_error or "",
        "calls": [{"id": str(call.id), "label": f"Call {i}",
                   "outcome": (call.end_reason or call.status or "").replace("_", " ")}
                  for i, call in enumerate(view.calls, start=1)],
    }


def _snapshot(session, user, org: uuid.UUID, campaign_id: uuid.UUID, state: str, offset: int) -> dict[str, Any]:
    """Everything the page shows, read in one transaction (the load and every poll)."""
    detail = campaign_service.detail(session, user, org, campaign_id, offset=offset, limit=PAGE_SIZE,
                                     state=None if state == ALL else state)
    try:
        agent = agent_service.get_agent(session, user, detail.view.campaign.agent_id).name
    except DomainError:
        agent = "an agent no longer listed"
    counts = detail.view.counts
    return {"campaign": campaign_row(detail.view, agent), "counts": count_rows(counts, every_state=True),
            "contacts": [contact_row(c) for c in detail.contacts],
            "listed": detail.view.total if state == ALL else counts.get(state, 0)}


def _events(*events) -> list:
    """Event lists for Reflex: what a helper returned (nothing, one, a list) and a toast."""
    out: list = []
    for event in events:
        out.extend(event if isinstance(event, list) else [] if event is None else [event])
    return out


def _snapshot_as(token: str, org_id: str, campaign_id: str, state: str, offset: int) -> dict[str, Any]:
    """``_snapshot`` as the signed-in user, outside the state's lock (the follower's thread)."""
    with session_scope() as session:
        user = auth_service.user_from_token(session, token or None)
        return _snapshot(session, user, uuid.UUID(org_id), uuid.UUID(campaign_id), state, offset)


class CampaignDetailState(AuthState):
    campaign: dict[str, Any] = {}
    counts: list[dict[str, Any]] = []
    contacts: list[dict[str, Any]] = []
    state_filter: str = ALL
    offset: int = 0
    listed: int = 0
    loading: bool = True
    not_found: bool = False
    busy: str = ""  # the action in flight
    follow_generation: int = 0

    @rx.var
    def status(self) -> str:
        return str(self.campaign.get("status", ""))

    @rx.var
    def still_moving(self) -> bool:
        """Running, or calls of a paused or cancelled campaign still in flight."""
        calling = next((c["count"] for c in self.counts if c["state"] == "calling"), 0)
        return self.status == RUNNING or calling > 0

    @rx.var
    def page_label(self) -> str:
        if not self.listed:
            return "No contacts"
        return f"{self.offset + 1}–{min(self.offset + PAGE_SIZE, self.listed)} of {self.listed}"

    @rx.var
    def has_previous(self) -> bool:
        return self.offset > 0

    @rx.var
    def has_next(self) -> bool:
        return self.offset + PAGE_SIZE < self.listed

    def _campaign_id(self) -> uuid.UUID:
        try:
            return uuid.UUID(getattr(self, "campaign_id", "") or "")
        except ValueError:
            raise NotFound(campaign_service.NOT_FOUND) from None

    def _show(self, snap: dict[str, Any]) -> None:
        self.campaign, self.counts, self.contacts, self.listed = (snap["campaign"], snap["counts"],
                                                                  snap["contacts"], snap["listed"])

    def _read(self):
        """Read the page now; a follower starts when something may still change."""
        try:
            with session_scope() as session:
                user = self._current_user(session)
                self._show(_snapshot(session, user, self._require_org(), self._campaign_id(), self.state_filter,
                                     self.offset))
        except NotAuthenticated:
            return self._signed_out()
        except NotFound:
            self.not_found = True
            return None
        return self._following()

    def _following(self):
        self.follow_generation += 1
        return CampaignDetailState.follow if self.still_moving else None

    @rx.event
    def load(self):
        self.loading, self.not_found, self.busy = True, False, ""
        self.campaign, self.counts, self.contacts, self.state_filter, self.offset = {}, [], [], ALL, 0
        self.follow_generation += 1  # a follower of an earlier visit stops
        try:
            with session_scope() as session:
                self._load_session(session, self._current_user(session))
        except NotAuthenticated:
            return self._signed_out()
        try:
            return self._read()
        finally:
            self.loading = False

    @rx.event
    def refresh(self):
        """The page as it is now (after the draft's edit dialog saved)."""
        return self._read()

    @rx.event
    def set_state_filter(self, value: str):
        self.state_filter = value if value in CONTACT_STATES else ALL
        self.offset = 0
        return self._read()

    @rx.event
    def previous_page(self):
        self.offset = max(0, self.offset - PAGE_SIZE)
        return self._read()

    @rx.event
    def next_page(self):
        if self.has_next:
            self.offset += PAGE_SIZE
        return self._read()

    @rx.event
    def change(self, action: str):
        """start | pause | resume | cancel, then the page as it is now."""
        if action not in campaign_service.ACTIONS:
            return None
        self.busy = action
        try:
            with session_scope() as session:
                campaign_service.change(session, self._current_user(session), self._require_org(),
                                        self._campaign_id(), action)
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            return _events(self._read(), rx.toast.error(exc.message))
        finally:
            self.busy = ""
        done = {"start": "Campaign started", "pause": "Campaign paused: calls in flight finish",
                "resume": "Campaign resumed", "cancel": "Campaign cancelled: queued contacts will not be called"}
        return _events(self._read(), rx.toast.success(done[action]))

    @rx.event(background=True)
    async def follow(self):
        """Look again every POLL_SECONDS while the campaign may still change on this page."""
        async with self:
            generation, token, org = self.follow_generation, self.token, self.org_id
            raw, state, offset = getattr(self, "campaign_id", "") or "", self.state_filter, self.offset
        ends = time.monotonic() + FOLLOW_SECONDS
        while time.monotonic() < ends:
            await asyncio.sleep(POLL_SECONDS)
            try:
                snap = await asyncio.to_thread(_snapshot_as, token, org, raw, state, offset)
            except (DomainError, ValueError):  # signed out, switched organization, gone: a load says so
                return
            async with self:
                if self.follow_generation != generation:
                    return
                self._show(snap)
                if not self.still_moving:
                    return
