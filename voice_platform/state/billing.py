"""The billing page: plan, this period's usage, the billing events, changing plan.

Thin like every state: each event opens ``session_scope()`` and calls ``services.billing``
(which checks permissions, counts and refuses); the state formats the answer into plain
strings for the page (money from cents, dates, event types in words).
"""

from __future__ import annotations

import reflex as rx

from voice_platform.db import session_scope
from voice_platform.errors import DomainError, NotAuthenticated
from voice_platform.models import BillingEvent, Plan
from voice_platform.models.billing import CALL_MINUTES, PERIOD_STARTED, PLAN_CHANGED
from voice_platform.services import billing as billing_service
from voice_platform.state.auth import AuthState

EVENTS_PAGE_SIZE = 20
EVENT_TYPES = {CALL_MINUTES: "Call minutes", PLAN_CHANGED: "Plan changed", PERIOD_STARTED: "Period started"}


def money(cents: int) -> str:
    """``1990`` -> ``$19.90``; whole dollars keep their cents so columns line up."""
    return f"${cents / 100:,.2f}"


def _day(value) -> str:
    return value.strftime("%b %d, %Y") if value else ""


def _when(value) -> str:
    return value.strftime("%b %d, %Y %H:%M UTC") if value else ""


def _minutes(n: int) -> str:
    return f"{n:,} minute{'' if n == 1 else 's'}"


def plan_row(plan: Plan, current_id: str = "") -> dict[str, str]:
    """A plan's limits in words, for the current plan's card and the plan choices."""
    return {
        "id": plan.id,
        "name": plan.name,
        "price": money(plan.monthly_price_cents) + " / month",
        "included": _minutes(plan.included_minutes) + " included",
        "overage": ("No overage billed" if plan.overage_cents_per_minute == 0
                    else money(plan.overage_cents_per_minute) + " per extra minute"),
        "cap": "No minute cap" if plan.minute_cap is None else f"Calls stop at {plan.minute_cap:,} minutes",
        "concurrent": f"{plan.max_concurrent_calls} concurrent call{'' if plan.max_concurrent_calls == 1 else 's'}",
        "agents": f"{plan.max_agents} agent{'' if plan.max_agents == 1 else 's'}",
        "current": "yes" if plan.id == current_id else "",
    }


def _plan_names(session) -> dict[str, str]:
    return {p.id: p.name for p in billing_service.plans(session)}


def event_row(event: BillingEvent, plan_names: dict[str, str]) -> dict[str, str]:
    payload = event.payload or {}
    if event.event_type == CALL_MINUTES:
        quantity = _minutes(int(event.quantity))
        overage = int(payload.get("overage_minutes") or 0)
        detail = f"{overage} over the included minutes" if overage else "Within the included minutes"
    elif event.event_type == PLAN_CHANGED:
        quantity = ""
        old, new = payload.get("from", ""), payload.get("to", "")
        detail = f"{plan_names.get(old, old)} → {plan_names.get(new, new)}"
        if payload.get("by"):
            detail += f" by {payload['by']}"
    elif event.event_type == PERIOD_STARTED:
        quantity = ""
        plan = payload.get("plan", "")
        detail = f"{plan_names.get(plan, plan)} plan" if plan else ""
    else:
        quantity = f"{event.quantity:g}" if event.quantity else ""
        detail = ""
    return {
        "id": str(event.id),
        "when": _when(event.created_at),
        "type": EVENT_TYPES.get(event.event_type, event.event_type.replace("_", " ").capitalize()),
        "quantity": quantity,
        "amount": money(event.amount_cents),
        "detail": detail,
        "call_href": f"/calls/{event.call_session_id}" if event.call_session_id else "",
    }


class BillingState(AuthState):
    plan: dict[str, str] = {}
    usage: dict[str, str] = {}
    used_percent: int = 0
    over_included: bool = False
    days: list[dict[str, str | int]] = []
    plan_choices: list[dict[str, str]] = []
    can_manage_billing: bool = False
    events: list[dict[str, str]] = []
    events_total: int = 0
    events_offset: int = 0
    plan_error: str = ""
    loading: bool = True
    error: str = ""

    @rx.var
    def page_label(self) -> str:
        if self.events_total == 0:
            return "No events"
        last = min(self.events_offset + EVENTS_PAGE_SIZE, self.events_total)
        return f"{self.events_offset + 1}–{last} of {self.events_total}"

    @rx.var
    def has_previous(self) -> bool:
        return self.events_offset > 0

    @rx.var
    def has_next(self) -> bool:
        return self.events_offset + EVENTS_PAGE_SIZE < self.events_total

    @rx.event
    def load(self):
        self.loading, self.error, self.plan_error, self.events_offset = True, "", "", 0
        return self._load_page(self._refresh)

    @rx.event
    def next_page(self):
        self.events_offset += EVENTS_PAGE_SIZE
        return self._fetch_events()

    @rx.event
    def previous_page(self):
        self.events_offset = max(0, self.events_offset - EVENTS_PAGE_SIZE)
        return self._fetch_events()

    @rx.event
    def change_plan(self, plan_id: str):
        """Switch plan (the service refuses non-admins and plans with fewer agents than the org has)."""
        try:
            with session_scope() as session:
                user = self._current_user(session)
                billing_service.change_plan(session, user, self._require_org(), plan_id)
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            self.plan_error = exc.message
            return rx.toast.error(exc.message)
        self.plan_error, self.events_offset = "", 0
        try:
            with session_scope() as session:
                self._refresh(session, self._current_user(session))
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            self.error = exc.message
            return None
        return rx.toast.success(f"Switched to the {self.plan.get('name', plan_id)} plan")

    def _refresh(self, session, user) -> None:
        org = self._require_org()
        s = billing_service.summary(session, user, org)
        sub = s.subscription
        self.plan = plan_row(s.plan, s.plan.id)
        self.plan_choices = [plan_row(p, s.plan.id) for p in billing_service.plans(session)]
        self.can_manage_billing = s.can_manage
        included = max(s.included_minutes, 0)
        # Any use shows on the bar (3 of 5,000 minutes is 1%, not an empty bar).
        self.used_percent = 0 if not s.minutes_used else (
            100 if included == 0 else min(100, max(1, round(s.minutes_used * 100 / included))))
        self.over_included = s.minutes_used > included
        cap = s.plan.minute_cap
        self.usage = {
            "period": f"{_day(sub.current_period_start)} – {_day(sub.current_period_end)}",
            "minutes": f"{s.minutes_used:,} of {included:,} minutes",
            "overage": money(s.overage_cents),
            "overage_minutes": _minutes(s.overage_minutes) + " over",
            "projected_overage": money(s.projected_overage_cents),
            "projected_minutes": _minutes(s.projected_minutes) + " at this pace",
            "calls": f"{s.active_calls} of {s.plan.max_concurrent_calls}",
            "agents": f"{s.agents} of {s.plan.max_agents}",
            "cap_note": "" if cap is None else f"Calls are refused once this period reaches {cap:,} minutes.",
        }
        self.days = [{"day": d.day.strftime("%m-%d"), "minutes": d.minutes} for d in s.days]
        self._load_events(session, user, org)

    def _load_events(self, session, user, org) -> None:
        page = billing_service.events(session, user, org, offset=self.events_offset, limit=EVENTS_PAGE_SIZE)
        names = _plan_names(session)
        self.events = [event_row(e, names) for e in page.items]
        self.events_total = page.total

    def _fetch_events(self):
        try:
            with session_scope() as session:
                user = self._current_user(session)
                self._load_events(session, user, self._require_org())
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            return rx.toast.error(exc.message)
        return None
