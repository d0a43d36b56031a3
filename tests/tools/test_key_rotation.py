"""``rotate-keys`` re-encrypts every stored secret under the newest ENCRYPTION_KEYS entry."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.fernet import Fernet
from sqlmodel import select

from tests.tools.conftest import attach
from voice_platform.db import session_scope
from voice_platform.models import AgentTool, Membership, OAuthState, SigninState, User, WebhookEndpoint
from voice_platform.security import TokenInvalid, decrypt_json, decrypt_text, encrypt_text
from voice_platform.settings import reset_settings_cache

SECRET = "weather-api-key-123"


def user_org(session, user):
    return session.exec(select(Membership.organization_id).where(Membership.user_id == user.id)).first()


def test_rotation_moves_every_ciphertext_to_the_newest_key(client, admin, agent, catalogue, monkeypatch):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("ENCRYPTION_KEYS", old)
    reset_settings_cache()
    try:
        at = attach(client, admin, agent["id"], "Test_weather", config={"api_key": SECRET})
        with session_scope() as session:
            user = session.exec(select(User).where(User.email == admin.email)).one()
            session.add(OAuthState(
                nonce="n-" + uuid.uuid4().hex, user_id=user.id, agent_id=uuid.UUID(agent["id"]), tool_name="Google_calendar",
                code_verifier_encrypted=encrypt_text("verifier-xyz"), expires_at=datetime.now(timezone.utc) + timedelta(minutes=5),
            ))
            session.add(SigninState(  # a Google sign-in under way keeps its verifier too
                nonce="s-" + uuid.uuid4().hex, purpose="signin", code_verifier_encrypted=encrypt_text("verifier-abc"),
                expires_at=datetime.now(timezone.utc) + timedelta(minutes=5),
            ))
        with session_scope() as session:
            before = session.get(AgentTool, uuid.UUID(at["id"])).sensitive_config
            from voice_platform.services import webhooks

            user = session.exec(select(User).where(User.email == admin.email)).one()
            hook = webhooks.create_endpoint(session, user, user_org(session, user), {
                "url": "https://93.184.216.34/hooks", "events": ["call.ended"], "agent_id": None, "description": ""})

        monkeypatch.setenv("ENCRYPTION_KEYS", f"{new},{old}")  # new key first, old still readable
        reset_settings_cache()
        from voice_platform.cli import main

        assert main(["rotate-keys"]) == 0

        monkeypatch.setenv("ENCRYPTION_KEYS", new)  # the old key is gone
        reset_settings_cache()
        with session_scope() as session:
            row = session.get(AgentTool, uuid.UUID(at["id"]))
            state = session.exec(select(OAuthState)).one()
            assert row.sensitive_config != before and SECRET not in row.sensitive_config
            assert decrypt_json(row.sensitive_config) == {"api_key": SECRET}
            assert decrypt_text(state.code_verifier_encrypted) == "verifier-xyz"
            signin = session.exec(select(SigninState)).one()
            assert decrypt_text(signin.code_verifier_encrypted) == "verifier-abc"
            endpoint = session.exec(select(WebhookEndpoint)).one()
            assert decrypt_text(endpoint.secret_encrypted) == hook.secret
        monkeypatch.setenv("ENCRYPTION_KEYS", old)
        reset_settings_cache()
        with pytest.raises(TokenInvalid):
            decrypt_json(row.sensitive_config)
    finally:
        monkeypatch.undo()
        reset_settings_cache()
