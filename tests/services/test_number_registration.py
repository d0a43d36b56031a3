"""A number registered inside a request that fails is not left behind (on SQLite too)."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import select

from tests.support.api import signup, unique_phone


def test_a_registration_is_rolled_back_with_its_request(client):
    from voice_platform.db import session_scope
    from voice_platform.models import PhoneNumber
    from voice_platform.services import phone_numbers

    org_id = uuid.UUID(signup(client, "rollback").org_id)
    number = unique_phone()
    with pytest.raises(RuntimeError):
        with session_scope() as session:
            phone_numbers.ensure_registered(session, org_id, number)
            raise RuntimeError("the rest of the request failed")
    with session_scope() as session:
        assert session.exec(select(PhoneNumber).where(PhoneNumber.e164 == number)).first() is None
        first = phone_numbers.ensure_registered(session, org_id, number)
        again = phone_numbers.ensure_registered(session, org_id, number)  # idempotent within the organization
        assert first.id == again.id
    other = uuid.UUID(signup(client, "other").org_id)
    with session_scope() as session, pytest.raises(Exception) as taken:
        phone_numbers.ensure_registered(session, other, number)
    assert "another organization" in str(taken.value)
