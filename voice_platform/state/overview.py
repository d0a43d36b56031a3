"""The landing page's numbers, from ``services.overview``."""

from __future__ import annotations

import reflex as rx

from voice_platform.db import session_scope
from voice_platform.errors import DomainError, NotAuthenticated
from voice_platform.services import overview as overview_service
from voice_platform.state.auth import AuthState


class OverviewState(AuthState):
    stats: dict[str, str] = {}
    busiest: list[dict[str, str]] = []
    per_day: list[dict[str, str | int]] = []
    loading: bool = True
    error: str = ""

    @rx.event
    def load(self):
        self.loading, self.error = True, ""
        try:
            with session_scope() as session:
                user = self._current_user(session)
                self._load_session(session, user)
                org = self._require_org()
                o = overview_service.overview(session, user, org)
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            self.error = exc.message
            return None
        finally:
            self.loading = False
        self.stats = {
            "today": str(o.calls_today), "week": str(o.calls_this_week), "minutes": f"{o.minutes_this_week:g}",
            "failed": str(o.failed_this_week), "tool_calls": str(o.tool_calls_this_week),
            "tool_errors": "—" if o.tool_error_rate is None else f"{o.tool_error_rate:.0%}", "timezone": o.timezone,
        }
        self.busiest = [{"agent": a, "calls": str(n)} for a, n in o.busiest_agents]
        self.per_day = [{"day": d[5:], "calls": n} for d, n in o.calls_per_day]
        return None
