"""Google API plumbing shared by the OAuth services and the Calendar tool: an adapter, below both.

Only google-auth / google-api-python-client, no livekit, so the OAuth services may
import it. Endpoints come from settings so tests (and a private deployment) point
the real client libraries at another server.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build

from voice_platform.settings import get_settings

CALENDAR_SCOPES = (
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.readonly",
)


def client_config() -> dict[str, Any]:
    """google-auth-oauthlib's "web" client secrets shape, built from settings."""
    s = get_settings()
    return {
        "web": {
            "client_id": s.google_client_id,
            "client_secret": s.google_client_secret,
            "auth_uri": s.google_auth_uri,
            "token_uri": s.google_token_uri,
            "redirect_uris": [s.oauth_redirect_uri],
        }
    }


def tokens_from_credentials(creds: Credentials) -> dict[str, Any]:
    """What we store (encrypted) under ``sensitive_config["oauth"]``."""
    expiry = creds.expiry
    if expiry is not None and expiry.tzinfo is None:
        expiry = expiry.replace(tzinfo=timezone.utc)
    return {
        "token": creds.token,
        "refresh_token": creds.refresh_token,
        "expiry": expiry.isoformat() if expiry else None,
        "scopes": list(creds.scopes or []),
    }


def credentials_from_tokens(tokens: dict[str, Any]) -> Credentials:
    s = get_settings()
    expiry = None
    if tokens.get("expiry"):
        # google-auth compares against a naive UTC clock
        expiry = datetime.fromisoformat(tokens["expiry"]).astimezone(timezone.utc).replace(tzinfo=None)
    return Credentials(
        token=tokens.get("token"),
        refresh_token=tokens.get("refresh_token"),
        token_uri=s.google_token_uri,
        client_id=s.google_client_id,
        client_secret=s.google_client_secret,
        scopes=tokens.get("scopes") or list(CALENDAR_SCOPES),
        expiry=expiry,
    )


def calendar_service(creds: Credentials):
    """A Calendar v3 client from the bundled discovery document (no network fetch)."""
    endpoint = get_settings().google_calendar_api_endpoint
    options = {"api_endpoint": endpoint} if endpoint else None
    return build(
        "calendar", "v3", credentials=creds, client_options=options, static_discovery=True, cache_discovery=False
    )
