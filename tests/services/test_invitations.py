"""Invitations in the service: who may invite, a link that works once, for its address, until it expires."""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta

import pytest
from sqlmodel import select, update

from voice_platform.db import session_scope
from voice_platform.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from voice_platform.models import Invitation, User
from voice_platform.models.base import aware, utcnow
from voice_platform.services import auth, invitations, organizations, rbac
from voice_platform.settings import get_settings, reset_settings_cache

PASSWORD = "long enough pw"


def _user(session, name: str, org: str | None = None):
    signed, made = auth.signup(session, email=f"{name}@example.com", password=PASSWORD, organization_name=org or name)
    return signed.user, made


def _token(link: str) -> str:
    return link.rsplit("/invite/", 1)[1]


def _expire(session, invitation_id) -> None:
    session.execute(update(Invitation).where(Invitation.id == invitation_id)
                    .values(expires_at=utcnow() - timedelta(minutes=1)))


def test_create_stores_only_the_hash_and_returns_the_link(session):
    admin, org = _user(session, "inv-admin")
    made = invitations.create_invitation(session, admin, org.id, email="  New.Person@Example.COM ", role="org_admin")
    token = _token(made.link)
    assert made.link == get_settings().public_base_url.rstrip("/") + "/invite/" + token
    stored = session.get(Invitation, made.invitation.id)
    assert stored.email == "new.person@example.com" and stored.role == "org_admin"
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest() != token
    assert token not in {str(v) for v in stored.model_dump().values()}
    ttl = timedelta(hours=get_settings().invitation_ttl_hours)
    assert abs(aware(stored.expires_at) - (utcnow() + ttl)) < timedelta(minutes=1)
    assert stored.invited_by_id == admin.id
    assert [i.id for i in invitations.pending_invitations(session, admin, org.id)] == [stored.id]
    found = invitations.preview(session, token)
    assert (found.organization_name, found.email, found.role, found.state) == (
        "inv-admin", "new.person@example.com", "org_admin", invitations.VALID)


def test_ttl_comes_from_the_settings(session, monkeypatch):
    admin, org = _user(session, "ttl-admin")
    monkeypatch.setenv("INVITATION_TTL_HOURS", "2")
    reset_settings_cache()
    try:
        made = invitations.create_invitation(session, admin, org.id, email="soon@example.com", role="member")
    finally:
        monkeypatch.delenv("INVITATION_TTL_HOURS")
        reset_settings_cache()
    assert abs(aware(made.invitation.expires_at) - (utcnow() + timedelta(hours=2))) < timedelta(minutes=1)


def test_only_member_managers_invite_and_revoke(session):
    admin, org = _user(session, "perm-admin")
    plain, _ = _user(session, "perm-plain")
    stranger, _ = _user(session, "perm-stranger")
    organizations.add_member(session, admin, org.id, email=plain.email, role="member")
    made = invitations.create_invitation(session, admin, org.id, email="guest@example.com", role="member")

    with pytest.raises(PermissionDenied):
        invitations.create_invitation(session, plain, org.id, email="x@example.com", role="member")
    with pytest.raises(PermissionDenied):
        invitations.revoke_invitation(session, plain, org.id, made.invitation.id)
    assert len(invitations.pending_invitations(session, plain, org.id)) == 1  # members may see them
    for call in (lambda: invitations.create_invitation(session, stranger, org.id, email="x@example.com", role="member"),
                 lambda: invitations.pending_invitations(session, stranger, org.id),
                 lambda: invitations.revoke_invitation(session, stranger, org.id, made.invitation.id)):
        with pytest.raises(NotFound):  # another tenant learns nothing
            call()


def test_create_validates_and_refuses_existing_members(session):
    admin, org = _user(session, "val-admin")
    member, _ = _user(session, "val-member")
    organizations.add_member(session, admin, org.id, email=member.email, role="member")
    with pytest.raises(ValidationFailed):
        invitations.create_invitation(session, admin, org.id, email="not an address", role="member")
    with pytest.raises(ValidationFailed):
        invitations.create_invitation(session, admin, org.id, email="x@example.com", role=rbac.PLATFORM_ADMIN)
    with pytest.raises(Conflict):
        invitations.create_invitation(session, admin, org.id, email=member.email.upper(), role="member")
    with pytest.raises(Conflict):
        invitations.create_invitation(session, admin, org.id, email=admin.email, role="member")


def test_a_newer_invitation_replaces_the_pending_one(session):
    admin, org = _user(session, "repl-admin")
    first = invitations.create_invitation(session, admin, org.id, email="twice@example.com", role="member")
    second = invitations.create_invitation(session, admin, org.id, email="TWICE@example.com", role="org_admin")
    assert [(i.id, i.role) for i in invitations.pending_invitations(session, admin, org.id)] == [
        (second.invitation.id, "org_admin")]
    assert invitations.preview(session, _token(first.link)).state == invitations.REVOKED


def test_accept_works_once_with_the_invited_role(session):
    admin, org = _user(session, "once-admin", org="Once Dental")
    guest, _ = _user(session, "once-guest")
    token = _token(invitations.create_invitation(session, admin, org.id, email=guest.email, role="org_admin").link)

    assert invitations.accept(session, guest, token) == org.id
    assert rbac.role_of(session, guest, org.id) == "org_admin"
    stored = session.exec(select(Invitation)).one()
    assert stored.accepted_by_id == guest.id and stored.accepted_at is not None
    assert invitations.preview(session, token).state == invitations.USED
    assert invitations.pending_invitations(session, admin, org.id) == []
    with pytest.raises(Conflict, match="already been used"):
        invitations.accept(session, guest, token)


def test_accept_needs_the_invited_address(session):
    admin, org = _user(session, "mis-admin")
    other, _ = _user(session, "mis-other")
    made = invitations.create_invitation(session, admin, org.id, email="meant@example.com", role="member")
    with pytest.raises(PermissionDenied, match="meant@example.com"):
        invitations.accept(session, other, _token(made.link))
    assert rbac.role_of(session, other, org.id) is None
    assert invitations.preview(session, _token(made.link)).state == invitations.VALID  # still usable by its owner


def test_accepting_when_already_a_member_only_marks_it_used(session):
    admin, org = _user(session, "already-admin")
    guest, _ = _user(session, "already-guest")
    token = _token(invitations.create_invitation(session, admin, org.id, email=guest.email, role="org_admin").link)
    organizations.add_member(session, admin, org.id, email=guest.email, role="member")  # added meanwhile
    assert invitations.accept(session, guest, token) == org.id
    assert rbac.role_of(session, guest, org.id) == "member"  # the membership is left as it was
    assert invitations.preview(session, token).state == invitations.USED


def test_an_expired_invitation_cannot_be_accepted(session):
    admin, org = _user(session, "exp-admin")
    guest, _ = _user(session, "exp-guest")
    made = invitations.create_invitation(session, admin, org.id, email=guest.email, role="member")
    _expire(session, made.invitation.id)
    session.expire_all()
    assert invitations.preview(session, _token(made.link)).state == invitations.EXPIRED
    assert invitations.pending_invitations(session, admin, org.id) == []
    with pytest.raises(Conflict, match="expired"):
        invitations.accept(session, guest, _token(made.link))
    assert rbac.role_of(session, guest, org.id) is None


def test_a_revoked_invitation_cannot_be_accepted(session):
    admin, org = _user(session, "rev-admin")
    other_admin, other_org = _user(session, "rev-other")
    guest, _ = _user(session, "rev-guest")
    made = invitations.create_invitation(session, admin, org.id, email=guest.email, role="member")
    with pytest.raises(NotFound):  # the id of this org's invitation, through another org
        invitations.revoke_invitation(session, other_admin, other_org.id, made.invitation.id)
    invitations.revoke_invitation(session, admin, org.id, made.invitation.id)
    invitations.revoke_invitation(session, admin, org.id, made.invitation.id)  # twice is harmless
    assert invitations.pending_invitations(session, admin, org.id) == []
    assert invitations.preview(session, _token(made.link)).state == invitations.REVOKED
    with pytest.raises(Conflict, match="withdrawn"):
        invitations.accept(session, guest, _token(made.link))


def test_an_unknown_token_is_not_found(session):
    guest, _ = _user(session, "unknown-guest")
    for token in ("", "x" * 43):
        with pytest.raises(NotFound):
            invitations.preview(session, token)
        with pytest.raises(NotFound):
            invitations.accept(session, guest, token)


def test_two_concurrent_accepts_only_one_wins(test_database, monkeypatch):
    """Both clicks have read a valid invitation before either writes: the conditional UPDATE decides."""
    if not test_database.is_postgres:
        pytest.skip("SQLite has one writer: the race needs PostgreSQL")
    with session_scope() as session:
        admin, org = _user(session, "race-admin")
        guest, _ = _user(session, "race-guest")
        token = _token(invitations.create_invitation(session, admin, org.id, email=guest.email, role="member").link)
    barrier, outcomes, read = threading.Barrier(2), [], invitations.preview

    def read_then_wait(session, token):
        found = read(session, token)
        barrier.wait(10)
        return found

    monkeypatch.setattr(invitations, "preview", read_then_wait)

    def click() -> None:
        try:
            with session_scope() as session:
                invitations.accept(session, session.get(User, guest.id), token)
            outcomes.append("joined")
        except DomainError as exc:
            outcomes.append(f"{type(exc).__name__}: {exc.message}")

    threads = [threading.Thread(target=click) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["Conflict: This invitation has already been used", "joined"], outcomes
    with session_scope() as session:
        assert rbac.role_of(session, session.get(User, guest.id), org.id) == "member"
        assert session.exec(select(Invitation)).one().accepted_by_id == guest.id
