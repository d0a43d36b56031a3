import pytest
from pydantic import ValidationError

from voice_platform.settings import DEFAULT_SECRET_KEY, Settings


def test_production_refuses_the_default_secret_key():
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(environment="production", secret_key=DEFAULT_SECRET_KEY, encryption_keys="k", _env_file=None)


def test_production_requires_explicit_encryption_keys():
    with pytest.raises(ValidationError, match="ENCRYPTION_KEYS"):
        Settings(environment="production", secret_key="s" * 40, encryption_keys="", _env_file=None)


def test_postgres_urls_use_psycopg3():
    assert Settings(database_url="postgresql://u@h/db", _env_file=None).sqlalchemy_url == "postgresql+psycopg://u@h/db"
    assert Settings(database_url="postgres://u@h/db", _env_file=None).sqlalchemy_url == "postgresql+psycopg://u@h/db"


def test_embedded_default_is_a_sqlite_file(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = Settings(_env_file=None)
    assert settings.is_sqlite and settings.database_url.endswith(".db")


def test_env_example_documents_every_setting():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    missing = [name for name in Settings.model_fields if f"\n{name.upper()}=" not in text]
    assert missing == []


def test_oauth_redirect_defaults_to_the_public_url_of_the_one_port_app():
    settings = Settings(public_base_url="https://app.example.com/", _env_file=None)
    assert settings.oauth_redirect_uri == "https://app.example.com/api/v1/tools/callback"
    split = Settings(public_base_url="https://app.example.com", api_base_url="https://api.example.com", _env_file=None)
    assert split.oauth_redirect_uri == "https://api.example.com/api/v1/tools/callback"


def test_blank_values_in_env_mean_the_default(monkeypatch):
    monkeypatch.setenv("BACKEND_PORT", "")
    monkeypatch.setenv("ENCRYPTION_KEYS", "")
    monkeypatch.setenv("GOOGLE_CLIENT_ID", "")
    settings = Settings(_env_file=None)
    assert settings.backend_port is None and settings.google_client_id is None and settings.encryption_keys == ""
