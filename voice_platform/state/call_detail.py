"""One call's page: what was said, the tools called, the recording and the post-call analysis.

Reads through ``services.call_history`` (``call:read``, another tenant's call is "not found");
"Re-run analysis" is ``services.call_analysis.rerun`` (``agent:update``). The analysis is done by
a background loop after the call ends, so a page showing it pending keeps looking
(``follow_analysis``) until it is done, failed or skipped, for a bounded time.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import reflex as rx

from voice_platform.db import session_scope
from voice_platform.errors import DomainError, NotAuthenticated, NotFound
from voice_platform.services import auth as auth_service
from voice_platform.services import call_analysis, call_history
from voice_platform.state.auth import AuthState
from voice_platform.state.call_analysis_view import analysis_view, data_rows
from voice_platform.state.call_transfer_view import answered_by_label, transfer_view
from voice_platform.state.calls import call_row

ANALYSIS_POLL_SECONDS = 1.0  # a page waiting for its analysis looks again this often...
ANALYSIS_FOLLOW_SECONDS = 180  # ...for at most this long (a reload starts again)


class CallDetailState(AuthState):
    """One call; the recording plays through the API with a short-lived signed link."""

    call: dict[str, str] = {}
    turns: list[dict[str, str]] = []
    invocations: list[dict[str, str]] = []
    analysis: dict[str, str] = {}
    analysis_data: list[dict[str, str]] = []
    transfer: dict[str, str] = {}  # a warm transfer's outcome (call_transfer_view)
    transfer_stages: list[dict[str, str]] = []
    rerunning: bool = False
    loading: bool = True
    not_found: bool = False
    follow_generation: int = 0

    @rx.var
    def analysis_pending(self) -> bool:
        return self.analysis.get("status", "") == "pending"

    def _recording_src(self, session, user, call_id: uuid.UUID) -> str:
        token = call_history.recording_link_token(session, user, call_id)
        return f"/api/v1/calls/{call_id}/recording?token={token}" if token else ""

    def _call_id(self) -> uuid.UUID:
        try:
            return uuid.UUID(getattr(self, "call_id", "") or "")
        except ValueError:
            raise NotFound(call_history.NOT_FOUND) from None

    def _show_analysis(self, analysis) -> None:
        self.analysis, self.analysis_data = analysis_view(analysis), data_rows(analysis)

    @rx.event
    def load(self):
        self.loading, self.not_found, self.call, self.turns, self.invocations = True, False, {}, [], []
        self.analysis, self.analysis_data, self.rerunning = {}, [], False
        self.transfer, self.transfer_stages = {}, []
        self.follow_generation += 1  # a follower left from an earlier visit stops
        try:
            with session_scope() as session:
                user = self._current_user(session)
                call_id = self._call_id()
                detail = call_history.get_call_detail(session, user, call_id)
                self._load_session(session, user, prefer_org=str(detail.summary.organization_id))
                s = detail.summary
                self.call = {
                    **call_row(s),
                    "from": s.from_number or "", "to": s.to_number or "", "error": detail.error or "",
                    "setup": (f"{(detail.setup_ours_ms or 0) + (detail.setup_model_ms or 0):.0f} ms "
                              f"(ours {detail.setup_ours_ms or 0:.0f} ms, model {detail.setup_model_ms or 0:.0f} ms)")
                    if detail.setup_ours_ms is not None else "",
                    "recording_url": self._recording_src(session, user, call_id),
                    "agent_id": str(s.agent_id),
                    "trace_id": detail.trace_id or "—",
                    "answered_by": answered_by_label(detail.answered_by),
                }
                self.transfer, self.transfer_stages = transfer_view(detail.transfer)
                self.turns = [{"role": t["role"], "text": t["text"], "at": t["at"].strftime("%H:%M:%S")} for t in detail.turns]
                self.invocations = [
                    {"name": f"{i['tool']}.{i['function']}", "arguments": json.dumps(i["arguments"], ensure_ascii=False),
                     "outcome": i["error"] or json.dumps(i["result"], ensure_ascii=False, default=str),
                     "is_error": "yes" if i["error"] else "",
                     "latency": f"{i['duration_ms']:.0f} ms" if i["duration_ms"] is not None else ""}
                    for i in detail.tool_invocations
                ]
                self._show_analysis(detail.analysis)
        except NotAuthenticated:
            return self._signed_out()
        except NotFound:
            self.not_found = True
            try:
                with session_scope() as session:
                    self._load_session(session, self._current_user(session))
            except NotAuthenticated:
                return self._signed_out()
        finally:
            self.loading = False
        return CallDetailState.follow_analysis if self.analysis_pending else None

    @rx.event
    def rerun_analysis(self):
        """Analyse again with the agent's current plan; the page then follows the new analysis."""
        self.rerunning = True
        try:
            with session_scope() as session:
                user = self._current_user(session)
                self._show_analysis(call_analysis.rerun(session, user, self._call_id()))
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            return rx.toast.error(exc.message)
        finally:
            self.rerunning = False
        self.follow_generation += 1
        return [CallDetailState.follow_analysis, rx.toast.info("The analysis runs again with the agent's current plan")]

    @rx.event(background=True)
    async def follow_analysis(self):
        """Look again every ANALYSIS_POLL_SECONDS while the analysis is pending on this page."""
        async with self:
            generation, token, raw = self.follow_generation, self.token, getattr(self, "call_id", "") or ""
        ends = time.monotonic() + ANALYSIS_FOLLOW_SECONDS
        while time.monotonic() < ends:
            await asyncio.sleep(ANALYSIS_POLL_SECONDS)
            try:
                analysis = await asyncio.to_thread(_analysis_of, token, raw)
            except (DomainError, ValueError):  # signed out or the call is gone: the next load says so
                return
            async with self:
                if self.follow_generation != generation or not self.analysis_pending:
                    return
                self._show_analysis(analysis)
                if not self.analysis_pending:
                    return


def _analysis_of(token: str, raw_call_id: str):
    """The call's analysis now, read as the signed-in user (outside the state's lock)."""
    with session_scope() as session:
        user = auth_service.user_from_token(session, token or None)
        return call_history.get_call_detail(session, user, uuid.UUID(raw_call_id)).analysis
