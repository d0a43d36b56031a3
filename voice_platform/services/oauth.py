"""Connecting an agent's tool to a Google account (OAuth 2.0 authorization code + PKCE).

The ``state`` we hand Google is a signed, short-lived token bound to the user, the
agent and the tool, carrying a nonce that names an ``oauth_states`` row; the row makes
it single-use and keeps the PKCE verifier encrypted (``services/oauth_state.py``, shared
with Sign in with Google). Anything wrong with the state raises ``InvalidOAuthState``
before a token is stored.

The code is exchanged only for the *signed-in* user who started the flow
(``complete_authorization(..., actor=)``): Google's redirect carries no session of
ours (the dashboard's token lives in the browser, not in a cookie), so the callback
only checks the state and hands code and state to the dashboard page, which
finishes as its signed-in user. Otherwise anyone could mail a victim their own
consent link and have the victim's calendar land on the attacker's agent.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlmodel import Session

from voice_platform.errors import DomainError, IntegrationNotConfigured, InvalidOAuthState, NotFound, ValidationFailed
from voice_platform.models import OAuthState, PlatformTool, User, VoiceAgent
from voice_platform.services import audit, oauth_state
from voice_platform.services import tools as tool_service
from voice_platform.services.rbac import refuse_api_key, require
from voice_platform.settings import get_settings

log = logging.getLogger(__name__)
STATE_PURPOSE = "oauth_state"
NOT_CONFIGURED = "Google sign-in is not configured: set GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET on the server."


class OAuthProviderError(DomainError):
    """Google refused the exchange (bad code, user denied): the browser is sent back with a message."""

    status_code = 502


@dataclass(frozen=True)
class ConnectedAccount:
    agent_id: uuid.UUID
    tool_name: str
    account: str | None
    agent_tool_id: uuid.UUID


def _google_tool(session: Session, tool_name: str) -> PlatformTool:
    tool = tool_service.find_tool(session, tool_name=tool_name)
    if not tool.is_active:
        raise NotFound(tool_service.TOOL_NOT_FOUND)
    if not tool.requires_auth or tool.auth_type != "oauth2" or (tool.auth_config or {}).get("provider") != "google":
        raise ValidationFailed(f"{tool_name} does not connect to a Google account", field="tool_name")
    return tool


def _flow(scopes: list[str], *, state: str | None = None, code_verifier: str | None = None):
    from google_auth_oauthlib.flow import Flow

    from voice_platform.google_client import client_config

    settings = get_settings()
    return Flow.from_client_config(
        client_config(), scopes=scopes, state=state, redirect_uri=settings.oauth_redirect_uri,
        code_verifier=code_verifier, autogenerate_code_verifier=code_verifier is None,
    )


def start_authorization(session: Session, actor: User, agent_id: uuid.UUID, tool_name: str) -> str:
    """The Google consent URL for this user to connect ``tool_name`` on this agent."""
    agent = session.get(VoiceAgent, agent_id)
    if agent is None:
        raise NotFound(tool_service.AGENT_NOT_FOUND)
    require(session, actor, "tool:configure", agent.organization_id, not_found=tool_service.AGENT_NOT_FOUND)
    refuse_api_key(actor, "connect Google accounts; an admin connects them in the dashboard")
    tool = _google_tool(session, tool_name)
    settings = get_settings()
    if not settings.google_oauth_configured:
        raise IntegrationNotConfigured(NOT_CONFIGURED)
    issued = oauth_state.issue(
        session, OAuthState, state_purpose=STATE_PURPOSE, ttl_seconds=settings.oauth_state_ttl_seconds,
        claims={"uid": str(actor.id), "aid": str(agent.id), "tool": tool.name},
        user_id=actor.id, agent_id=agent.id, tool_name=tool.name,
    )
    flow = _flow(list(tool.auth_config.get("scopes", [])), state=issued.state, code_verifier=issued.code_verifier)
    url, _ = flow.authorization_url(access_type="offline", prompt="consent", include_granted_scopes="true",
                                    code_challenge=issued.code_challenge, code_challenge_method="S256")
    return url


def agent_id_from_state(state: str | None) -> uuid.UUID | None:
    """For the error redirect only: the agent a *validly signed* state names, else None."""
    try:
        return _claims(state)["aid"]
    except InvalidOAuthState:
        return None


def _claims(state: str | None) -> dict:
    try:
        claims = oauth_state.read(state, state_purpose=STATE_PURPOSE)
        claims["uid"], claims["aid"], claims["tool"] = uuid.UUID(claims["uid"]), uuid.UUID(claims["aid"]), str(claims["tool"])
    except (oauth_state.StateInvalid, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise InvalidOAuthState("The sign-in link is invalid or has expired; start again from the dashboard.") from exc
    return claims


def _bound(claims: dict):
    """A state belongs to the user, agent and tool it was issued for."""
    return (OAuthState.user_id == claims["uid"], OAuthState.agent_id == claims["aid"], OAuthState.tool_name == claims["tool"])


def check_state(session: Session, state: str | None) -> uuid.UUID:
    """The callback's check: a genuine, unexpired, unused state. Burns nothing; returns its agent id."""
    claims = _claims(state)
    if not oauth_state.is_pending(session, OAuthState, claims["nonce"], *_bound(claims)):
        raise InvalidOAuthState("The sign-in link was already used or has expired; start again from the dashboard.")
    return claims["aid"]


def consume_state(session: Session, state: str | None, *, actor: User | None = None) -> tuple[OAuthState, dict]:
    """Verify signature, expiry, purpose and binding (to ``actor`` when given), then burn the nonce."""
    claims = _claims(state)
    if actor is not None and claims["uid"] != actor.id:
        # Checked before burning: a stranger must not be able to spend someone else's link either.
        raise InvalidOAuthState("This connection was started by another user; start it again from your dashboard.")
    row = oauth_state.consume(session, OAuthState, claims["nonce"], *_bound(claims))
    if row is None:
        raise InvalidOAuthState("The sign-in link was already used, has expired or does not belong to you.")
    return row, claims


def complete_authorization(session: Session, state: str | None, code: str | None, *, actor: User) -> ConnectedAccount:
    """Exchange the code for ``actor`` (who must have started the flow) and store the tokens encrypted.

    InvalidOAuthState: nothing may happen (the API answers 400 and rolls back).
    OAuthProviderError: the state is burned (the caller commits), no token stored.
    """
    refuse_api_key(actor, "connect Google accounts; an admin connects them in the dashboard")
    row, _claims = consume_state(session, state, actor=actor)
    agent = session.get(VoiceAgent, row.agent_id)
    if agent is None or not actor.is_active:
        raise InvalidOAuthState("The sign-in link does not belong to an active user and agent.")
    try:  # the user may have lost the right since starting
        require(session, actor, "tool:configure", agent.organization_id, not_found=tool_service.AGENT_NOT_FOUND)
    except DomainError as exc:
        raise InvalidOAuthState("You may no longer configure this agent's tools.") from exc
    tool = _google_tool(session, row.tool_name)
    if not get_settings().google_oauth_configured:
        raise IntegrationNotConfigured(NOT_CONFIGURED)
    if not code:
        raise OAuthProviderError("Google did not return an authorization code.")
    tokens, account = _exchange(list(tool.auth_config.get("scopes", [])), state or "", row, code)
    agent_tool = tool_service.store_oauth_tokens(session, agent.id, tool, tokens, account)
    audit.record(session, actor, agent.organization_id, "tool.account_connected", target_type="agent_tool",
                 target_id=agent_tool.id, summary=f"Connected {account or 'a Google account'} ({tool.name} on agent {agent.name!r})",
                 after={"connected_account": account})
    return ConnectedAccount(agent.id, tool.name, account, agent_tool.id)


def _exchange(scopes: list[str], state: str, row: OAuthState, code: str) -> tuple[dict, str | None]:
    from oauthlib.oauth2.rfc6749.errors import OAuth2Error
    from requests import RequestException

    from voice_platform.google_client import tokens_from_credentials

    flow = _flow(scopes, state=state, code_verifier=oauth_state.code_verifier(row))
    try:
        flow.fetch_token(code=code)
    except (OAuth2Error, RequestException, ValueError, Warning) as exc:
        log.warning("google token exchange failed: %s", exc.__class__.__name__)
        raise OAuthProviderError("Google refused the connection; please try again.") from exc
    creds = flow.credentials
    if not creds.refresh_token:
        raise OAuthProviderError("Google did not grant offline access; please try again and accept all permissions.")
    return tokens_from_credentials(creds), _account_email(creds)


def _account_email(creds) -> str | None:
    """The primary calendar's id is the account's e-mail; asked over the authenticated API, not from an unverified id_token."""
    from googleapiclient.errors import HttpError

    from voice_platform.google_client import calendar_service

    try:
        return calendar_service(creds).calendars().get(calendarId="primary").execute().get("id")
    except (HttpError, OSError) as exc:
        log.warning("could not read the connected Google account: %s", exc.__class__.__name__)
        return None


def revoke_tokens(tokens: dict | None) -> None:
    """Best effort: tell Google to drop the grant when an admin disconnects."""
    token = (tokens or {}).get("refresh_token") or (tokens or {}).get("token")
    if not token:
        return
    import requests

    try:
        requests.post(get_settings().google_revoke_uri, data={"token": token}, timeout=5)
    except requests.RequestException as exc:
        log.warning("google token revocation failed: %s", exc.__class__.__name__)
