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


def test_concurrent_guesses_cannot_outrun_the_throttle(test_database):
    """30 wrong guesses at once: exactly SIGNIN_MAX_FAILURES reach the password check, the rest are
    refused with TooManyAttempts, and none fails for another reason (no pool exhaustion, no 500)."""
    from concurrent.futures import ThreadPoolExecutor

    from voice_platform.db import session_scope
    from voice_platform.errors import TooManyAttempts
    from voice_platform.settings import get_settings

    with session_scope() as session:
        auth.create_user(session, email="target@example.com", password="the right one")

    def guess(_):
        try:
            with session_scope() as session:
                auth.signin(session, email="target@example.com", password="a wrong guess")
        except NotAuthenticated:
            return "401"
        except TooManyAttempts:
            return "429"
        return "200"

    with ThreadPoolExecutor(max_workers=30) as pool:
        outcomes = list(pool.map(guess, range(30)))
    assert outcomes.count("401") == get_settings().signin_max_failures
    assert outcomes.count("429") == 30 - get_settings().signin_max_failures
