"""Wake-ups fire when the transaction that left the work commits, never on a rollback."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from voice_platform.db import session_scope
from voice_platform.services import wakeups


def test_a_commit_sets_the_signals_a_rollback_does_not(test_database):
    committed, rolled_back = threading.Event(), threading.Event()
    with session_scope() as session:
        wakeups.after_commit(session, committed)
        assert not committed.is_set()  # not before the commit
    assert committed.is_set()
    with pytest.raises(RuntimeError):
        with session_scope() as session:
            session.execute(text("SELECT 1"))  # a transaction really begun, so really rolled back
            wakeups.after_commit(session, rolled_back)
            raise RuntimeError("the transaction fails")
    assert not rolled_back.is_set()
    with session_scope():  # a later commit of another transaction does not fire the forgotten one
        pass
    assert not rolled_back.is_set()
