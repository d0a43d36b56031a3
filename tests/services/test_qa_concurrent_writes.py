"""QA: two requests racing past a uniqueness check get a 409 (Conflict), not an IntegrityError 500.

The first writer has flushed but not committed; the second one's SELECT cannot see
the row, so its INSERT waits on the unique index and fails once the first commits.
"""

from __future__ import annotations

import threading
import uuid

import pytest

from voice_platform.db import session_scope
from voice_platform.errors import Conflict
from voice_platform.services import auth as auth_service
from voice_platform.services import organizations as org_service

PASSWORD = "correct horse battery"


def _race(first, second) -> list[BaseException]:
    """Run ``first`` in an open transaction, start ``second`` meanwhile, then commit ``first``."""
    errors: list[BaseException] = []

    def run_second() -> None:
        try:
            with session_scope() as s2:
                second(s2)
        except BaseException as exc:
            errors.append(exc)

    with session_scope() as s1:
        first(s1)
        other = threading.Thread(target=run_second)
        other.start()
        other.join(timeout=1.0)
    other.join(timeout=10)
    assert not other.is_alive()
    return errors


@pytest.fixture()
def postgres(test_database):
    if not test_database.is_postgres:
        pytest.skip("SQLite has one writer: the race needs PostgreSQL")
    return test_database


def test_concurrent_signups_with_one_email(postgres):
    email = f"race-{uuid.uuid4().hex[:8]}@example.com"
    errors = _race(
        lambda s: auth_service.signup(s, email=email, password=PASSWORD),
        lambda s: auth_service.signup(s, email=email, password=PASSWORD),
    )
    assert len(errors) == 1 and isinstance(errors[0], Conflict), errors


def test_concurrent_adds_of_one_member(postgres):
    with session_scope() as s:
        admin, org = auth_service.signup(s, email=f"a-{uuid.uuid4().hex[:8]}@example.com", password=PASSWORD)
        admin_id, org_id = admin.user.id, org.id
        member = auth_service.create_user(s, email=f"m-{uuid.uuid4().hex[:8]}@example.com", password=PASSWORD)
        member_email = member.email

    def add(s):
        actor = auth_service.get_user(s, admin_id)
        org_service.add_member(s, actor, org_id, email=member_email, role="member")

    errors = _race(add, add)
    assert len(errors) == 1 and isinstance(errors[0], Conflict), errors


def test_two_admins_demoting_each_other_at_once_leave_one_admin(postgres):
    from sqlmodel import select

    from voice_platform.models import Membership
    from voice_platform.services.rbac import ORG_ADMIN, role_id

    with session_scope() as s:
        first, org = auth_service.signup(s, email=f"a-{uuid.uuid4().hex[:8]}@example.com", password=PASSWORD)
        second = auth_service.create_user(s, email=f"b-{uuid.uuid4().hex[:8]}@example.com", password=PASSWORD)
        org_service.add_member(s, first.user, org.id, email=second.email, role=ORG_ADMIN)
        a_id, b_id, org_id = first.user.id, second.id, org.id

    def demote(actor_id, target_id):
        def run(s):
            org_service.change_member_role(s, auth_service.get_user(s, actor_id), org_id, target_id, role="member")
        return run

    errors = _race(demote(a_id, b_id), demote(b_id, a_id))
    with session_scope() as s:
        admins = s.exec(select(Membership).where(
            Membership.organization_id == org_id, Membership.role_id == role_id(s, ORG_ADMIN))).all()
    assert len(admins) == 1, errors
