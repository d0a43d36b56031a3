"""The embedded default (`make run` with no DATABASE_URL) is SQLite: what broke only there.

The suite runs on PostgreSQL in CI; these run on a SQLite file of their own whatever the suite's
database is, for behaviour that differs by dialect (SQLite gives times back without a zone).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from tests.support import databases
from voice_platform.db import dispose_engines, session_scope
from voice_platform.models import PasswordReset
from voice_platform.models.base import utcnow
from voice_platform.services import auth, password_reset
from voice_platform.settings import reset_settings_cache


@pytest.fixture()
def embedded(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'embedded.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    reset_settings_cache()
    dispose_engines()
    databases.TestDatabase(url=url, name=None).migrate()
    yield url
    dispose_engines()
    monkeypatch.undo()
    reset_settings_cache()
    dispose_engines()


def test_a_password_reset_link_works_on_sqlite(embedded):
    """The link's single use is a conditional UPDATE; SQLAlchemy used to re-check its condition in
    Python on the loaded row (a zoneless time against an aware one: TypeError, a 500)."""
    with session_scope() as session:
        signed, _ = auth.signup(session, email="embedded@example.com", password="old password 123",
                                organization_name="Embedded Co")
        user_id = signed.user.id
        token = "embedded-token"
        session.add(PasswordReset(user_id=user_id, token_hash=hashlib.sha256(token.encode()).hexdigest(),
                                  expires_at=utcnow() + timedelta(minutes=30)))
    with session_scope() as session:
        password_reset.check(session, token)  # the page's check of the link passes too
        password_reset.confirm(session, token, "brand new password 456")
    with session_scope() as session:
        assert auth.signin(session, email="embedded@example.com", password="brand new password 456").user.id == user_id


@pytest.mark.parametrize("config", [{"calendar_id": "\udfff"}, {"\ud800": "x"}, {"ids": ["ok", "\ud83d"]}])
def test_a_lone_surrogate_in_a_tool_config_is_refused_before_any_database(config):
    """PostgreSQL refuses it as it encodes the value (a 422 there); SQLite stored it and the answer
    echoing it could not be encoded (a 500). The service refuses it first, on both."""
    from voice_platform.errors import ValidationFailed
    from voice_platform.services import tool_config

    with pytest.raises(ValidationFailed, match="lone surrogate"):
        tool_config.reject_unstorable(config, "config")
    tool_config.reject_unstorable({"calendar_id": "primary", "name": "Café ☕"}, "config")
