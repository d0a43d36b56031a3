"""The agent page's "Call a number" card: one outbound call, placed by ``services.outbound_calls``.

The service does everything (permission, the E.164 number, variables, the do-not-call list, the
plan's lines, Twilio) in transactions of its own, so this state only gathers the form and shows
the outcome: a link to the new call's page, or the service's message (under the number or the
variables when it names them). Twilio may take seconds to answer: the work runs on a worker
thread, so the server's event loop keeps serving every other browser meanwhile.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import reflex as rx

from voice_platform.db import session_scope
from voice_platform.errors import DomainError, NotAuthenticated
from voice_platform.services import outbound_calls
from voice_platform.state.auth import AuthState

FIELDS = ("to", "variables")  # the service's field names this card shows a message under
FORM_ERROR = "call"


def variables_of(form: dict[str, Any], rows: list[int]) -> dict[str, str]:
    """The name/value rows typed into the card; a row without a name is an empty row left over."""
    values: dict[str, str] = {}
    for row in rows:
        name = str(form.get(f"variable_name_{row}") or "").strip()
        if name:
            values[name] = str(form.get(f"variable_value_{row}") or "")
    return values


class OutboundCallState(AuthState):
    variable_rows: list[int] = [0]
    call_errors: dict[str, str] = {}
    placing: bool = False
    placed_call_id: str = ""
    placed_to: str = ""
    form_key: int = 0

    @rx.event
    def reset_card(self):
        """on_load of the agent page: a card left from another agent starts empty."""
        self.variable_rows, self.call_errors, self.placing = [0], {}, False
        self.placed_call_id, self.placed_to = "", ""
        self.form_key += 1

    @rx.event
    def add_variable_row(self):
        self.variable_rows = [*self.variable_rows, max(self.variable_rows, default=-1) + 1]

    @rx.event
    def remove_variable_row(self, row: int):
        self.variable_rows = [r for r in self.variable_rows if r != row]

    @rx.event
    async def place(self, form: dict):
        to = str(form.get("call_to") or "").strip()
        variables = variables_of(form, self.variable_rows)
        self.call_errors, self.placed_call_id, self.placed_to = {}, "", ""
        try:
            agent_id = uuid.UUID(getattr(self, "agent_id", "") or "")
        except ValueError:
            self.call_errors = {FORM_ERROR: "Save the agent first"}
            return
        self.placing = True
        yield
        try:
            placed = await asyncio.to_thread(self._place, agent_id, to, variables)
        except NotAuthenticated:
            yield self._signed_out()
            return
        except DomainError as exc:
            self.call_errors = {exc.field if exc.field in FIELDS else FORM_ERROR: exc.message}
            return
        finally:
            self.placing = False
        self.placed_call_id, self.placed_to = str(placed.call_id), to
        yield rx.toast.success(f"Calling {to}")

    def _place(self, agent_id: uuid.UUID, to: str, variables: dict[str, str]):
        with session_scope() as session:
            user = self._current_user(session)
        return outbound_calls.place_call(user, agent_id, to, variables)
