"""State of ``/campaigns``: the organization's campaigns with their progress.

Thin: ``services.campaigns`` reads them (``call:read``) with their counts per contact state in
one query. The shaping helpers here (``campaign_row``, ``count_rows``) are shared with the
campaign's own page, so the list and the page say the same thing about the same campaign.
The "New campaign" form is ``state/campaign_form.py``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import reflex as rx

from voice_platform.models.outbound import CONTACT_STATES
from voice_platform.services import agents as agent_service
from voice_platform.services import campaigns as campaign_service
from voice_platform.state.auth import AuthState

OPEN_STATES = ("queued", "calling")  # a contact in these is not settled yet
STATE_LABELS = {
    "queued": "Queued", "calling": "Calling", "completed": "Completed", "voicemail": "Voicemail",
    "no_answer": "No answer", "busy": "Busy", "failed": "Failed", "do_not_call": "Do not call",
    "cancelled": "Cancelled",
}
STATE_COLORS = {
    "queued": "gray", "calling": "blue", "completed": "green", "voicemail": "violet", "no_answer": "amber",
    "busy": "orange", "failed": "red", "do_not_call": "crimson", "cancelled": "gray",
}
DAY_LABELS = {"mon": "Mon", "tue": "Tue", "wed": "Wed", "thu": "Thu", "fri": "Fri", "sat": "Sat", "sun": "Sun"}


def when(value: datetime | None) -> str:
    return value.strftime("%b %d, %Y %H:%M UTC") if value else ""


def window_text(window: dict[str, Any]) -> str:
    """``Mon, Tue, Wed 09:00–17:00``: how people write a weekly window."""
    days = window.get("days") or []
    named = "Every day" if len(days) == 7 else ", ".join(DAY_LABELS.get(d, d) for d in days)
    return f"{named} {window.get('start', '')}–{window.get('end', '')}"


def count_rows(counts: dict[str, int], *, every_state: bool = False) -> list[dict[str, Any]]:
    """The counts as the page draws them, in the states' natural order; the list shows only
    states some contact is in, the campaign's page every state (a zero says something there)."""
    return [{"state": s, "label": STATE_LABELS[s], "count": counts.get(s, 0), "color": STATE_COLORS[s]}
            for s in CONTACT_STATES if every_state or counts.get(s, 0)]


def campaign_row(view: campaign_service.CampaignView, agent_name: str) -> dict[str, Any]:
    """One campaign with its progress: settled contacts (neither queued nor calling) of all."""
    c, total = view.campaign, view.total
    settled = total - sum(view.counts.get(s, 0) for s in OPEN_STATES)
    return {
        "id": str(c.id), "name": c.name, "status": c.status, "agent": agent_name, "agent_id": str(c.agent_id),
        "total": total, "settled": settled, "percent": round(settled * 100 / total) if total else 0,
        "progress": f"{settled} of {total} settled", "counts": count_rows(view.counts),
        "window": window_text(c.window or {}), "timezone": view.timezone, "in_window": view.in_window,
        "max_concurrent": c.max_concurrent,
        "retry": (f"{c.retry_attempts} more after {c.retry_delay_minutes} min" if c.retry_attempts else "none"),
        "created": when(c.created_at), "started": when(c.started_at), "finished": when(c.finished_at),
    }


def agent_names(session, user, org) -> dict[str, str]:
    return {str(a.id): a.name for a in agent_service.list_agents(session, user, org, limit=200).items}


class CampaignsState(AuthState):
    campaigns: list[dict[str, Any]] = []
    loading: bool = True
    error: str = ""

    @rx.event
    def load(self):
        self.loading, self.error, self.campaigns = True, "", []

        def listing(session, user) -> None:
            org = self._require_org()
            names = agent_names(session, user, org)
            self.campaigns = [campaign_row(v, names.get(str(v.campaign.agent_id), "an agent no longer listed"))
                              for v in campaign_service.list_campaigns(session, user, org)]

        return self._load_page(listing)
