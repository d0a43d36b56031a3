import pytest

from voice_platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from voice_platform.services import auth, organizations, rbac


def _user(session, name):
    signed, org = auth.signup(session, email=f"{name}@example.com", password="long enough pw", organization_name=name)
    return signed.user, org


def test_signup_makes_the_user_org_admin_of_a_new_org(session):
    user, org = _user(session, "founder")
    assert rbac.role_of(session, user, org.id) == "org_admin"
    assert "tool:configure" in rbac.permissions_of(session, user, org.id)
    assert "platform:tools" not in rbac.permissions_of(session, user, org.id)


def test_last_org_admin_cannot_be_demoted_or_removed(session):
    user, org = _user(session, "solo")
    with pytest.raises(Conflict, match="at least one org admin"):
        organizations.change_member_role(session, user, org.id, user.id, role="member")
    with pytest.raises(Conflict, match="at least one org admin"):
        organizations.remove_member(session, user, org.id, user.id)


def test_members_are_managed_by_admins_only(session):
    admin, org = _user(session, "admin1")
    other, _ = _user(session, "other1")
    member = organizations.add_member(session, admin, org.id, email="other1@example.com", role="member")
    assert member.role == "member"
    with pytest.raises(Conflict):
        organizations.add_member(session, admin, org.id, email="OTHER1@example.com", role="member")
    with pytest.raises(PermissionDenied):
        organizations.update_organization(session, other, org.id, {"name": "Mine now"})
    with pytest.raises(ValidationFailed):
        organizations.add_member(session, admin, org.id, email="x@example.com", role="platform_admin")


def test_non_member_gets_not_found_not_forbidden(session):
    _admin, org = _user(session, "admin2")
    stranger, _ = _user(session, "stranger2")
    with pytest.raises(NotFound):
        organizations.get_organization(session, stranger, org.id)
    with pytest.raises(NotFound):
        rbac.require(session, stranger, "agent:read", org.id)


def test_platform_admin_sees_every_organization(session):
    _admin, org = _user(session, "admin3")
    root = auth.create_user(session, email="root@example.com", password="long enough pw", is_platform_admin=True)
    assert org.id in {o.organization.id for o in organizations.list_organizations(session, root)}
    rbac.require(session, root, "platform:tools", org.id)
