"""A number registered inside a request that fails is not left behind (on SQLite too)."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import select

from tests.support.api import signup, unique_phone


def test_a_registration_is_rolled_back_with_its_request(client):
    from voice_platform.db import session_scope
    from voice_platform.models import PhoneNumber
    from voice_platform.services import number_inventory

    org_id = uuid.UUID(signup(client, "rollback").org_id)
    number = unique_phone()
    with pytest.raises(RuntimeError):
        with session_scope() as session:
            number_inventory.ensure_registered(session, org_id, number)
            raise RuntimeError("the rest of the request failed")
    with session_scope() as session:
        assert session.exec(select(PhoneNumber).where(PhoneNumber.e164 == number)).first() is None
        first = number_inventory.ensure_registered(session, org_id, number)
        again = number_inventory.ensure_registered(session, org_id, number)  # idempotent within the organization
        assert first.id == again.id
    other = uuid.UUID(signup(client, "other").org_id)
    with session_scope() as session, pytest.raises(Exception) as taken:
        number_inventory.ensure_registered(session, other, number)
    assert "another organization" in str(taken.value)


def test_changes_during_a_trunk_sync_make_exactly_one_more_that_reads_them(client, monkeypatch):
    """One sync at a time; two commits while one runs make one more sync, which sees both numbers."""
    import threading

    from voice_platform.db import session_scope
    from voice_platform.services import number_inventory

    ours = [unique_phone() for _ in range(3)]
    started, release = threading.Event(), threading.Event()
    seen: list[list[str]] = []

    def read_inventory() -> bool:  # what the real sync hands LiveKit: the inventory committed by now
        with session_scope() as session:
            seen.append([n for n in number_inventory.platform_numbers(session) if n in ours])
        started.set()
        assert release.wait(10), "the test never let the first sync finish"
        return True

    number_inventory.wait_for_trunk_sync(10)  # no sync of an earlier test still running
    monkeypatch.setattr(number_inventory, "sync_now", read_inventory)
    org_id = uuid.UUID(signup(client, "trunk-sync").org_id)

    with session_scope() as session:
        number_inventory.ensure_registered(session, org_id, ours[0])
    assert started.wait(10)
    for number in ours[1:]:  # two commits while the first sync still runs
        with session_scope() as session:
            number_inventory.ensure_registered(session, org_id, number)
    release.set()

    assert number_inventory.wait_for_trunk_sync(10) is True
    assert seen == [ours[:1], sorted(ours)]
