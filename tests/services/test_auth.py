import pytest

from voice_platform import security
from voice_platform.errors import NotAuthenticated
from voice_platform.services import auth


class _CountingContext:
    """Wraps passlib's context to count argon2 verifications (the expensive, timing-relevant step)."""

    def __init__(self, inner):
        self.inner, self.verifications = inner, 0

    def verify(self, *args, **kwargs):
        self.verifications += 1
        return self.inner.verify(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_unknown_email_and_wrong_password_do_the_same_work(test_database, monkeypatch):
    from voice_platform.db import session_scope

    # Committed first: sign-in records failures in its own transaction (SQLite allows one writer).
    with session_scope() as session:
        auth.create_user(session, email="known@example.com", password="the right one")
    counting = _CountingContext(security._pwd_context)
    monkeypatch.setattr(security, "_pwd_context", counting)

    errors = []
    for email in ("known@example.com", "unknown@example.com"):
        before = counting.verifications
        with pytest.raises(NotAuthenticated) as exc, session_scope() as session:
            auth.signin(session, email=email, password="a wrong one")
        errors.append(exc.value.message)
        assert counting.verifications - before == 1, email
    assert errors[0] == errors[1]


def test_token_of_a_deactivated_user_is_refused(session):
    user = auth.create_user(session, email="leaver@example.com", password="long enough pw")
    token = security.create_access_token(user.id, user.token_version)
    assert auth.user_from_token(session, token).id == user.id
    user.is_active = False
    session.flush()
    with pytest.raises(NotAuthenticated):
        auth.user_from_token(session, token)


def test_expired_token_is_refused(session):
    user = auth.create_user(session, email="late@example.com", password="long enough pw")
    token = security.create_access_token(user.id, user.token_version, minutes=-1)
    with pytest.raises(NotAuthenticated):
        auth.user_from_token(session, token)
