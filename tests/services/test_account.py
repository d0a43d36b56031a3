"""The account rules in the auth service: the profile name, the password change (and the first
password of an account made by Google) and signing out everywhere.

The API (tests/api/test_account_api.py) and the page (tests/e2e/test_account.py) prove the same
rules from their side; here they are checked once, against the service itself.
"""

from __future__ import annotations

import pytest

from tests.fakes.smtp_server import mail_configured, smtp_server  # noqa: F401 - fixtures
from voice_platform import security
from voice_platform.errors import NotAuthenticated, ValidationFailed
from voice_platform.services import auth

PASSWORD = "the old secret"
NEW_PASSWORD = "a brand new secret"


def _user(session, email: str = "me@example.com"):
    return auth.create_user(session, email=email, password=PASSWORD, full_name="Old Name")


def _token(user) -> str:
    return security.create_access_token(user.id, user.token_version)


def test_profile_name_is_trimmed_and_may_be_emptied(session):
    user = _user(session)
    assert auth.update_profile(session, user, full_name="  Grace Hopper  ").full_name == "Grace Hopper"
    assert auth.update_profile(session, user, full_name="   ").full_name is None
    assert auth.update_profile(session, user, full_name=None).full_name is None


def test_profile_name_too_long_is_refused_on_its_field(session):
    user = _user(session)
    with pytest.raises(ValidationFailed) as exc:
        auth.update_profile(session, user, full_name="x" * 201)
    assert exc.value.field == "full_name"
    assert user.full_name == "Old Name"
    assert auth.update_profile(session, user, full_name="x" * 200).full_name == "x" * 200


def test_profile_change_keeps_sessions(session):
    user = _user(session)
    token = _token(user)
    auth.update_profile(session, user, full_name="New Name")
    assert auth.user_from_token(session, token).id == user.id


def test_wrong_current_password_is_refused_and_changes_nothing(session):
    user = _user(session)
    token, before = _token(user), user.password_hash
    with pytest.raises(ValidationFailed) as exc:
        auth.change_password(session, user, current_password="not it", new_password=NEW_PASSWORD)
    assert exc.value.field == "current_password"
    assert "current password" in exc.value.message.lower()
    assert user.password_hash == before
    assert auth.user_from_token(session, token).id == user.id  # nobody was signed out


@pytest.mark.parametrize("weak", ["short", "", "x" * (auth.MAX_PASSWORD + 1), PASSWORD])
def test_weak_or_unchanged_new_password_is_refused_on_its_field(session, weak):
    user = _user(session)
    token = _token(user)
    with pytest.raises(ValidationFailed) as exc:
        auth.change_password(session, user, current_password=PASSWORD, new_password=weak)
    assert exc.value.field == "new_password"
    assert security.verify_password(PASSWORD, user.password_hash)
    assert auth.user_from_token(session, token).id == user.id


def test_password_change_signs_out_every_other_token_and_returns_a_working_one(session):
    user = _user(session)
    this_browser, other_browser = _token(user), _token(user)

    signed_in = auth.change_password(session, user, current_password=PASSWORD, new_password=NEW_PASSWORD)

    for old in (this_browser, other_browser):
        with pytest.raises(NotAuthenticated):
            auth.user_from_token(session, old)
    assert auth.user_from_token(session, signed_in.access_token).id == user.id
    assert security.verify_password(NEW_PASSWORD, user.password_hash)
    assert not security.verify_password(PASSWORD, user.password_hash)


def test_new_password_signs_in_and_the_old_one_does_not(test_database):
    from voice_platform.db import session_scope

    with session_scope() as session:
        user = _user(session, "switch@example.com")
        auth.change_password(session, user, current_password=PASSWORD, new_password=NEW_PASSWORD)
    with pytest.raises(NotAuthenticated), session_scope() as session:
        auth.signin(session, email="switch@example.com", password=PASSWORD)
    with session_scope() as session:
        signed_in = auth.signin(session, email="switch@example.com", password=NEW_PASSWORD)
        assert auth.user_from_token(session, signed_in.access_token).email == "switch@example.com"


def test_sign_out_everywhere_ends_every_token(session):
    user = _user(session)
    tokens = [_token(user), _token(user)]
    auth.signout(session, user)
    for token in tokens:
        with pytest.raises(NotAuthenticated):
            auth.user_from_token(session, token)


# --- the first password of an account made by "Sign in with Google" ---------------------------
def _google_user(session, email: str = "google-made@gmail.example"):
    """Made the way the Google callback makes it: sign-up with an unusable password, linked to a ``sub``."""
    from voice_platform.services import google_signin

    identity = google_signin.GoogleIdentity(subject=f"sub-{email}", email=email, email_verified=True, name="G User")
    user, created = google_signin.user_for_identity(session, identity)
    assert created and not auth.has_password(user)
    return user


def test_google_made_account_sets_a_password_then_signs_in_with_it(test_database):
    from voice_platform.db import session_scope
    from voice_platform.services import google_signin

    email = "first-password@gmail.example"
    with session_scope() as session:
        user = _google_user(session, email)
        this_browser, other_browser = _token(user), _token(user)
        signed_in = auth.set_password(session, user, new_password=NEW_PASSWORD)
        assert auth.has_password(user)  # the Google side sees it too: unlink below needs it
        for old in (this_browser, other_browser):  # every session from before is signed out
            with pytest.raises(NotAuthenticated):
                auth.user_from_token(session, old)
        assert auth.user_from_token(session, signed_in.access_token).id == user.id
        assert user.google_subject == f"sub-{email}"  # still linked: Google keeps working too
    with session_scope() as session:
        assert auth.signin(session, email=email, password=NEW_PASSWORD).user.email == email
        user = auth.find_user_by_email(session, email)
        assert google_signin.unlink(session, user).google_subject is None  # a password to sign in with now


def test_the_owner_is_told_by_mail_when_a_first_password_is_set(test_database, mail_configured):
    from voice_platform.db import session_scope

    email = "told@gmail.example"
    with session_scope() as session:
        auth.set_password(session, _google_user(session, email), new_password=NEW_PASSWORD)
    [notice] = mail_configured.wait_for(email)
    assert notice.subject == "A password was set on your account"
    assert "Was this not you?" in notice.text and NEW_PASSWORD not in notice.text
    assert notice.link("/forgot-password") == "http://localhost:3000/forgot-password"


def test_set_password_is_refused_once_the_account_has_one(session):
    user = _user(session)
    token, before = _token(user), user.password_hash
    with pytest.raises(ValidationFailed) as exc:
        auth.set_password(session, user, new_password=NEW_PASSWORD)
    assert exc.value.field == "current_password"
    assert exc.value.message == auth.ALREADY_HAS_PASSWORD
    assert user.password_hash == before
    assert auth.user_from_token(session, token).id == user.id  # nobody was signed out

    google_user = _google_user(session)
    auth.set_password(session, google_user, new_password=NEW_PASSWORD)
    with pytest.raises(ValidationFailed) as again:  # the second time it takes the current one
        auth.set_password(session, google_user, new_password="yet another secret")
    assert again.value.field == "current_password"
    assert security.verify_password(NEW_PASSWORD, google_user.password_hash)


@pytest.mark.parametrize("weak", ["short", "", "x" * (auth.MAX_PASSWORD + 1), None])
def test_weak_first_password_is_refused_on_its_field(session, weak):
    user = _google_user(session)
    token = _token(user)
    with pytest.raises(ValidationFailed) as exc:
        auth.set_password(session, user, new_password=weak)
    assert exc.value.field == "new_password"
    assert not auth.has_password(user)
    assert auth.user_from_token(session, token).id == user.id
