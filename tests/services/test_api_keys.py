"""API keys in the service: who may make them, the secret seen once and stored as a hash only,
the actor a key becomes (its organization and role, nothing else), revocation, last use."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import timedelta

import pytest
from sqlmodel import select, update

from voice_platform.db import session_scope
from voice_platform.errors import NotAuthenticated, NotFound, PermissionDenied, ValidationFailed
from voice_platform.models import ApiKey, AuditEvent
from voice_platform.models.base import aware, utcnow
from voice_platform.services import agents, api_keys, auth, invitations, organizations, rbac

PASSWORD = "long enough pw"


def _admin(session, name: str):
    signed, org = auth.signup(session, email=f"{name}-{uuid.uuid4().hex[:6]}@example.com", password=PASSWORD,
                              organization_name=name)
    return signed.user, org


def test_create_shows_the_secret_once_and_stores_only_its_hash(session):
    admin, org = _admin(session, "keys")
    made = api_keys.create_key(session, admin, org.id, name="  CRM sync ", role="member")
    assert re.fullmatch(r"vp_[A-Za-z0-9_-]{40,}", made.secret)
    row = session.get(ApiKey, made.key.id)
    assert row.key_hash == hashlib.sha256(made.secret.encode()).hexdigest()
    assert made.secret not in {str(v) for v in row.model_dump().values()}
    assert row.prefix == made.secret[:11] and made.key.prefix == row.prefix
    assert (made.key.name, made.key.role, made.key.created_by) == ("CRM sync", "member", admin.email)
    listed = api_keys.list_keys(session, admin, org.id)
    assert [(k.id, k.name, k.prefix, k.role, k.created_by, k.last_used_at, k.revoked_at) for k in listed] == [
        (row.id, "CRM sync", row.prefix, "member", admin.email, None, None)]
    assert not any(made.secret in str(v) for k in listed for v in vars(k).values())  # never again
    second = api_keys.create_key(session, admin, org.id, name="CRM sync", role="member")
    assert second.secret != made.secret


@pytest.mark.parametrize("name,role,field", [("", "member", "name"), ("x" * 101, "member", "name"),
                                             ("ok", "platform_admin", "role"), ("ok", "owner", "role")])
def test_create_validates_name_and_role(session, name, role, field):
    admin, org = _admin(session, "keys-valid")
    with pytest.raises(ValidationFailed) as caught:
        api_keys.create_key(session, admin, org.id, name=name, role=role)
    assert caught.value.field == field


def test_only_the_organizations_admins_manage_keys(session):
    admin, org = _admin(session, "keys-owner")
    member, _ = _admin(session, "keys-member")
    organizations.add_member(session, admin, org.id, email=member.email, role="member")
    stranger, _ = _admin(session, "keys-stranger")
    made = api_keys.create_key(session, admin, org.id, name="ci", role="org_admin")
    for call in (lambda u: api_keys.create_key(session, u, org.id, name="mine", role="member"),
                 lambda u: api_keys.list_keys(session, u, org.id),
                 lambda u: api_keys.revoke_key(session, u, org.id, made.key.id)):
        with pytest.raises(PermissionDenied):
            call(member)
        with pytest.raises(NotFound):
            call(stranger)
    other_admin, other_org = _admin(session, "keys-other")
    with pytest.raises(NotFound):  # a key id of another organization is "not found"
        api_keys.revoke_key(session, other_admin, other_org.id, made.key.id)


def test_a_key_acts_as_its_role_in_its_organization_and_a_stranger_elsewhere(session):
    admin, org = _admin(session, "keys-actor")
    _other_admin, other = _admin(session, "keys-elsewhere")
    secrets = [api_keys.create_key(session, admin, org.id, name=n, role=r).secret
               for n, r in (("reader", "member"), ("writer", "org_admin"))]
    session.commit()  # as in a request: the key is authenticated before the request writes anything
    reader, writer = (api_keys.authenticate(session, s) for s in secrets)
    assert (reader.id, reader.is_platform_admin, reader.email) == (None, False, "API key reader")
    assert rbac.role_of(session, reader, org.id) == "member" and rbac.role_of(session, writer, org.id) == "org_admin"
    assert rbac.permissions_of(session, reader, org.id) == {"org:read", "agent:read", "tool:read", "call:read"}
    assert "org:manage" in rbac.permissions_of(session, writer, org.id)
    assert rbac.role_of(session, writer, other.id) is None and rbac.permissions_of(session, writer, other.id) == set()
    with pytest.raises(NotFound):
        rbac.require(session, writer, "org:read", other.id)
    with pytest.raises(PermissionDenied):
        agents.create_agent(session, reader, org.id, {"name": "Nope"})
    agent = agents.create_agent(session, writer, org.id, {"name": "By key"})
    assert [a.id for a in agents.list_agents(session, reader, org.id).items] == [agent.id]
    with pytest.raises(NotFound):
        agents.list_agents(session, writer, other.id)
    assert [(o.organization.id, o.role) for o in organizations.list_organizations(session, writer)] == [(org.id, "org_admin")]
    entry = session.exec(select(AuditEvent).where(AuditEvent.action == "agent.created")).one()
    assert (entry.actor_label, entry.actor_api_key_id, entry.actor_user_id) == ("API key writer", writer.api_key_id, None)


def test_what_only_a_person_does_is_refused_to_keys(session):
    admin, org = _admin(session, "keys-person")
    _x, other = _admin(session, "keys-person-other")
    secret = api_keys.create_key(session, admin, org.id, name="admin key", role="org_admin").secret
    session.commit()
    key = api_keys.authenticate(session, secret)
    refusals = [
        lambda: organizations.create_organization(session, key, name="Key Co"),
        lambda: organizations.leave_organization(session, key, org.id),
        lambda: api_keys.create_key(session, key, org.id, name="child", role="member"),
        lambda: invitations.accept(session, key, "some-token-value"),
    ]
    for refuse in refusals:
        with pytest.raises(PermissionDenied, match="^API keys cannot"):
            refuse()
    with pytest.raises(NotFound):  # another organization: not found first, as everywhere
        organizations.leave_organization(session, key, other.id)
    # what a key may do for its organization works: inviting someone (no inviting user recorded)
    made = invitations.create_invitation(session, key, org.id, email="new@example.com", role="member")
    assert made.invitation.invited_by_id is None
    assert api_keys.revoke_key(session, key, org.id, api_keys.list_keys(session, key, org.id)[0].id).revoked_at


def test_revoked_or_unknown_keys_are_refused(session):
    admin, org = _admin(session, "keys-revoke")
    made = api_keys.create_key(session, admin, org.id, name="temp", role="member")
    session.commit()
    assert api_keys.authenticate(session, made.secret).api_key_id == made.key.id
    revoked = api_keys.revoke_key(session, admin, org.id, made.key.id)
    assert revoked.revoked_at is not None
    again = api_keys.revoke_key(session, admin, org.id, made.key.id)  # idempotent
    assert again.revoked_at == revoked.revoked_at
    for secret in (made.secret, made.secret[:-1] + ("A" if made.secret[-1] != "A" else "B"), "vp_", "vp_\x00", None, ""):
        with pytest.raises(NotAuthenticated):
            api_keys.authenticate(session, secret)
    assert [k.revoked_at is not None for k in api_keys.list_keys(session, admin, org.id)] == [True]
    actions = session.exec(select(AuditEvent.action).where(AuditEvent.organization_id == org.id)).all()
    assert sorted(actions) == ["api_key.created", "api_key.revoked"]  # the second revoke changed nothing


def test_last_used_is_written_at_most_once_a_minute(test_database):
    with session_scope() as session:
        admin, org = _admin(session, "keys-used")
        made = api_keys.create_key(session, admin, org.id, name="busy", role="member")
    with session_scope() as session:
        api_keys.authenticate(session, made.secret)
    with session_scope() as session:
        first = aware(session.get(ApiKey, made.key.id).last_used_at)
    assert first is not None and utcnow() - first < timedelta(seconds=30)
    for _ in range(5):
        with session_scope() as session:
            api_keys.authenticate(session, made.secret)
    with session_scope() as session:
        assert aware(session.get(ApiKey, made.key.id).last_used_at) == first  # no write within the minute
        session.execute(update(ApiKey).where(ApiKey.id == made.key.id).values(last_used_at=first - timedelta(minutes=2)))
    try:
        with session_scope() as session:
            api_keys.authenticate(session, made.secret)
            raise RuntimeError("the request fails after authenticating")
    except RuntimeError:
        pass
    with session_scope() as session:
        later = aware(session.get(ApiKey, made.key.id).last_used_at)
    assert later > first  # a minute later it is marked again, even when the request rolled back
