"""QA: two function switches flipped at the same time on one attachment both persist.

``set_function_enabled`` reads ``unselected_functions``, edits the list and writes it
back; without a row lock the second writer overwrites the first (a lost update).
"""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlmodel import select

from tests.support.api import create_agent, signup
from tests.tools.conftest import attach
from voice_platform.db import session_scope
from voice_platform.models import AgentTool, User
from voice_platform.services import tools as tool_service


def test_concurrent_switches_on_different_functions_keep_both(client, catalogue, test_database):
    if not test_database.is_postgres:
        pytest.skip("SQLite has one writer: the race needs PostgreSQL")
    admin = signup(client, "qa")
    agent = create_agent(client, admin)
    at_id = uuid.UUID(attach(client, admin, agent["id"], "Google_calendar")["id"])
    errors: list[BaseException] = []

    def second_switch() -> None:
        try:
            with session_scope() as s2:
                user = s2.exec(select(User).where(User.email == admin.email)).one()
                tool_service.set_function_enabled(s2, user, at_id, "cancel_appointment", False)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    with session_scope() as s1:
        user = s1.exec(select(User).where(User.email == admin.email)).one()
        tool_service.set_function_enabled(s1, user, at_id, "book_appointment", False)
        other = threading.Thread(target=second_switch)
        other.start()
        other.join(timeout=1.0)  # it reads (or waits) while the first switch is not yet committed
    other.join(timeout=10)
    assert not other.is_alive() and not errors, errors
    with session_scope() as s:
        stored = s.get(AgentTool, at_id).unselected_functions
    assert sorted(stored) == ["book_appointment", "cancel_appointment"]
