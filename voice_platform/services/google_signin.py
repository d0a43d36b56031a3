"""Sign in with Google (OpenID Connect, authorization code + PKCE) and linking Google to an account.

The plumbing is the Calendar connection's (``services/oauth_state.py``, shared with
services/oauth.py): the ``state`` we hand Google is a signed, short-lived token carrying a
nonce that names a ``signin_states`` row; the row makes it single-use and keeps the PKCE
verifier encrypted. The ID token Google returns is verified with
google-auth against Google's published certificates: signature, issuer, audience (our
client id), expiry, and the OIDC nonce we sent.

Who a Google identity is, in order:

* an account linked to that Google ``sub`` signs in (the e-mail does not matter: it can change);
* an unverified Google e-mail is refused;
* a verified e-mail that already has an account WITHOUT a link is refused: only the owner,
  signed in with their password, may link it — otherwise a recycled or newly claimed
  address would hand over someone's account;
* a new e-mail gets an account and its organization exactly as sign-up makes them
  (``auth.signup``), with an unusable password, linked to the ``sub``.

The callback carries no session of ours, so it never puts an access token in a URL: it
stores a one-time *handoff* code (a ``signin_states`` row, purpose ``handoff``, keyed by the
code's hash) that the dashboard page exchanges within two minutes. The code is bound to the
browser that started the flow: its hash covers a random value the dashboard keeps in
localStorage, so a handoff link sent to someone else does not sign them into the sender's
account. Linking, like the Calendar connection, is finished by the signed-in user who
started it (the account page), never by whoever opens the callback link.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from voice_platform import security
from voice_platform.errors import SPENT_OR_FORGED_PROOF, Conflict, DomainError, IntegrationNotConfigured
from voice_platform.models import SigninState, User
from voice_platform.services import auth as auth_service
from voice_platform.services import oauth_state
from voice_platform.settings import get_settings

log = logging.getLogger(__name__)

# What Google calls "openid email profile" (its token response names the long forms; asking for
# those keeps oauthlib from seeing a "scope changed" warning).
SCOPES = (
    "openid",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/userinfo.profile",
)
GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")
STATE_PURPOSE = "google_signin_state"
SIGNIN, LINK = "signin", "link"
HANDOFF, WELCOME = "handoff", "welcome"  # a handoff row; "welcome" when the account was just created
HANDOFF_TTL = timedelta(minutes=2)
CLOCK_SKEW_SECONDS = 10
NOT_CONFIGURED = "Google sign-in is not configured: set GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET on the server."

# Reason codes travel in redirects; pages show these messages (never free text from a URL).
MESSAGES = {
    "declined": "Google sign-in was cancelled.",
    "state": "This Google sign-in link is invalid, has expired or was already used; please start again.",
    "provider": "Google did not complete the sign-in; please try again.",
    "email_exists": "An account with this e-mail exists. Sign in with your password and link Google from your account page.",
    "unverified": "Your Google account's e-mail address is not verified, so it cannot be used here.",
    "inactive": "This account is disabled.",
    "not_configured": "Sign in with Google is not available on this server.",
    "handoff": "This Google sign-in could not be finished in this browser; please start again.",
    "linked_elsewhere": "This Google account is already linked to another account.",
    "other_user": "This link was started by another user; start it again from your account page.",
    "no_password": "Your account has no password yet: unlinking Google would leave no way to sign in.",
    "not_linked": "No Google account is linked.",
}
_STATUS = {"email_exists": 409, "linked_elsewhere": 409, "no_password": 409, "not_linked": 409, "unverified": 403,
           "inactive": 403, "provider": 502, "not_configured": 503, "state": SPENT_OR_FORGED_PROOF,
           "handoff": SPENT_OR_FORGED_PROOF, "other_user": SPENT_OR_FORGED_PROOF}


class SigninRefused(DomainError):
    """Why a Google sign-in or link did not happen; ``reason`` is one of ``MESSAGES``."""

    def __init__(self, reason: str) -> None:
        super().__init__(MESSAGES.get(reason, MESSAGES["provider"]))
        self.reason = reason if reason in MESSAGES else "provider"
        self.status_code = _STATUS.get(self.reason, 400)


@dataclass(frozen=True)
class GoogleIdentity:
    subject: str
    email: str
    email_verified: bool
    name: str | None


@dataclass(frozen=True)
class HandedOver:
    signed_in: auth_service.SignedIn
    next_path: str | None
    created: bool


def configured() -> bool:
    return get_settings().google_oauth_configured


def message(reason: str | None) -> str:
    return MESSAGES.get(reason or "", MESSAGES["provider"])


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def binding_hash(binding: str | None) -> str:
    """What the state carries of the browser's binding value (the value itself stays in the browser)."""
    return _hash("binding:" + binding) if binding else ""


def _flow(*, state: str | None = None, code_verifier: str | None = None):
    from google_auth_oauthlib.flow import Flow

    from voice_platform.google_client import client_config

    settings = get_settings()
    return Flow.from_client_config(
        client_config(), scopes=list(SCOPES), state=state, redirect_uri=settings.google_signin_redirect_uri,
        code_verifier=code_verifier, autogenerate_code_verifier=code_verifier is None,
    )


# --- starting -------------------------------------------------------------------------------
def _start(session: Session, *, purpose: str, user: User | None, next_path: str | None, binding: str | None) -> str:
    settings = get_settings()
    if not settings.google_oauth_configured:
        raise IntegrationNotConfigured(NOT_CONFIGURED)
    issued = oauth_state.issue(
        session, SigninState, state_purpose=STATE_PURPOSE, ttl_seconds=settings.oauth_state_ttl_seconds,
        claims={"p": purpose, "uid": str(user.id) if user else "", "bh": binding_hash(binding)},
        purpose=purpose, user_id=user.id if user else None, next_path=(next_path or None) and next_path[:500],
    )
    flow = _flow(state=issued.state, code_verifier=issued.code_verifier)
    # The OIDC nonce ties the ID token to this flow; derived, so nothing more is stored.
    url, _ = flow.authorization_url(prompt="select_account", nonce=_hash("oidc:" + issued.nonce),
                                    code_challenge=issued.code_challenge, code_challenge_method="S256")
    return url


def start_signin(session: Session, *, next_path: str | None = None, binding: str | None = None) -> str:
    """The consent URL for signing in (or up). ``binding``: a random value the caller keeps to redeem the handoff."""
    return _start(session, purpose=SIGNIN, user=None, next_path=next_path, binding=binding)


def start_link(session: Session, user: User) -> str:
    """The consent URL for linking a Google account to ``user`` (signed in)."""
    if not user.is_active:
        raise SigninRefused("inactive")
    return _start(session, purpose=LINK, user=user, next_path=None, binding=None)


# --- the state --------------------------------------------------------------------------------
def _claims(state: str | None) -> dict:
    try:
        claims = oauth_state.read(state, state_purpose=STATE_PURPOSE)
        out = {"nonce": claims["nonce"], "p": str(claims["p"]), "bh": str(claims.get("bh") or "")}
        out["uid"] = uuid.UUID(claims["uid"]) if claims.get("uid") else None
    except (oauth_state.StateInvalid, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise SigninRefused("state") from exc
    if out["p"] not in (SIGNIN, LINK) or (out["p"] == LINK) != (out["uid"] is not None):
        raise SigninRefused("state")
    return out


def state_purpose(state: str | None) -> str | None:
    """For routing the callback only: the purpose a *validly signed* state names, else None."""
    try:
        return _claims(state)["p"]
    except SigninRefused:
        return None


def _bound(claims: dict):
    """A state belongs to its purpose, and a link's to the user who started it (a sign-in's to nobody)."""
    user = SigninState.user_id == claims["uid"] if claims["uid"] else SigninState.user_id.is_(None)
    return SigninState.purpose == claims["p"], user


def check_state(session: Session, state: str | None) -> dict:
    """A genuine, unexpired, unused state. Burns nothing."""
    claims = _claims(state)
    if not oauth_state.is_pending(session, SigninState, claims["nonce"], *_bound(claims)):
        raise SigninRefused("state")
    return claims


def consume_state(session: Session, state: str | None, *, actor: User | None = None) -> tuple[SigninState, dict]:
    """Verify the state (and, for a link, that ``actor`` started it), then burn its nonce."""
    claims = _claims(state)
    if claims["p"] == LINK and (actor is None or claims["uid"] != actor.id):
        raise SigninRefused("other_user")  # checked before burning: a stranger cannot spend it either
    row = oauth_state.consume(session, SigninState, claims["nonce"], *_bound(claims))
    if row is None:
        raise SigninRefused("state")
    return row, claims


# --- Google's answer ----------------------------------------------------------------------------
def _identity(state: str, row: SigninState, code: str | None) -> GoogleIdentity:
    """Exchange the code (with the PKCE verifier) and verify the ID token it brings."""
    from oauthlib.oauth2.rfc6749.errors import OAuth2Error
    from requests import RequestException

    if not configured():
        raise SigninRefused("not_configured")
    if not code:
        raise SigninRefused("provider")
    flow = _flow(state=state, code_verifier=oauth_state.code_verifier(row))
    try:
        token = flow.fetch_token(code=code)
    except (OAuth2Error, RequestException, ValueError, Warning) as exc:
        log.warning("google sign-in token exchange failed: %s", exc.__class__.__name__)
        raise SigninRefused("provider") from exc
    claims = verify_id_token(token.get("id_token"), expected_nonce=_hash("oidc:" + row.nonce))
    email = str(claims.get("email") or "").strip().lower()
    if not email:
        raise SigninRefused("unverified")
    name = str(claims.get("name") or "").strip()[:200] or None
    return GoogleIdentity(subject=str(claims["sub"]), email=email, email_verified=claims.get("email_verified") is True,
                          name=name)


def verify_id_token(id_token: str | None, *, expected_nonce: str | None) -> dict:
    """google-auth checks signature (Google's certificates), expiry and audience; we add issuer and nonce."""
    import google.auth.exceptions
    import google.auth.transport.requests
    import requests
    from google.oauth2 import id_token as google_id_token

    settings = get_settings()
    if not id_token:
        raise SigninRefused("provider")
    try:
        with requests.Session() as http:
            claims = google_id_token.verify_token(
                id_token, google.auth.transport.requests.Request(session=http), audience=settings.google_client_id,
                certs_url=settings.google_certs_uri, clock_skew_in_seconds=CLOCK_SKEW_SECONDS,
            )
    except (ValueError, google.auth.exceptions.GoogleAuthError, requests.RequestException) as exc:
        log.warning("google id_token refused: %s", exc.__class__.__name__)
        raise SigninRefused("provider") from exc
    if claims.get("iss") not in GOOGLE_ISSUERS or not claims.get("sub"):
        log.warning("google id_token refused: issuer or subject")
        raise SigninRefused("provider")
    if expected_nonce is not None and claims.get("nonce") != expected_nonce:
        log.warning("google id_token refused: nonce")
        raise SigninRefused("provider")
    return dict(claims)


# --- signing in -----------------------------------------------------------------------------------
def _linked_user(session: Session, subject: str) -> User | None:
    return session.exec(select(User).where(User.google_subject == subject)).first()


def user_for_identity(session: Session, identity: GoogleIdentity) -> tuple[User, bool]:
    """The rules in the module docstring; returns the user and whether it was just created."""
    user = _linked_user(session, identity.subject)
    if user is not None:
        if not user.is_active:
            raise SigninRefused("inactive")
        return user, False
    if not identity.email_verified:
        raise SigninRefused("unverified")
    if auth_service.find_user_by_email(session, identity.email) is not None:
        raise SigninRefused("email_exists")
    try:
        with session.begin_nested():
            # Sign-up itself (account + its organization); the throwaway password is replaced at once.
            signed_up, _org = auth_service.signup(
                session, email=identity.email, password=secrets.token_urlsafe(32), full_name=identity.name,
            )
            user = signed_up.user
            user.password_hash = security.unusable_password_hash()
            user.google_subject, user.google_email = identity.subject, identity.email
            session.add(user)
            session.flush()
    except (IntegrityError, Conflict) as exc:  # a concurrent sign-up took the e-mail or the subject
        log.info("google sign-up lost a race: %s", exc.__class__.__name__)
        raise SigninRefused("email_exists") from exc
    except DomainError as exc:  # an address our sign-up does not accept
        log.warning("google sign-up refused by validation: %s", exc.message)
        raise SigninRefused("provider") from exc
    return user, True


def finish_signin(session: Session, state: str | None, code: str | None) -> str:
    """The callback's work for a sign-in: returns the one-time handoff code for the dashboard.

    The state is burnt first; a refusal after that (SigninRefused) leaves the burn in the
    session for the caller to commit, and nothing else.
    """
    row, claims = consume_state(session, state)
    if claims["p"] != SIGNIN:
        raise SigninRefused("state")
    identity = _identity(state or "", row, code)
    user, created = user_for_identity(session, identity)
    handoff = secrets.token_urlsafe(32)
    oauth_state.remember(session, SigninState, nonce=_hash(f"{handoff}:{claims['bh']}"), ttl=HANDOFF_TTL,
                         purpose=WELCOME if created else HANDOFF, user_id=user.id, next_path=row.next_path)
    return handoff


def exchange_handoff(session: Session, code: str | None, binding: str | None) -> HandedOver:
    """The dashboard (or an API client) swaps the handoff code, once, for the same token a password sign-in gives."""
    if not code or len(code) > 200 or (binding and len(binding) > 200):
        raise SigninRefused("handoff")
    key = _hash(f"{code}:{binding_hash(binding)}")
    row = oauth_state.consume(session, SigninState, key, SigninState.purpose.in_((HANDOFF, WELCOME)))
    if row is None:
        raise SigninRefused("handoff")
    user = session.get(User, row.user_id) if row.user_id else None
    if user is None or not user.is_active:
        raise SigninRefused("inactive")
    token = security.create_access_token(user.id, user.token_version)
    return HandedOver(auth_service.SignedIn(user=user, access_token=token), row.next_path, row.purpose == WELCOME)


# --- linking --------------------------------------------------------------------------------------
def complete_link(session: Session, state: str | None, code: str | None, *, actor: User) -> User:
    """Link the Google account that consented to ``actor``, who must have started the link."""
    row, claims = consume_state(session, state, actor=actor)
    if claims["p"] != LINK or not actor.is_active:
        raise SigninRefused("state")
    identity = _identity(state or "", row, code)
    if not identity.email_verified:
        raise SigninRefused("unverified")
    other = _linked_user(session, identity.subject)
    if other is not None and other.id != actor.id:
        raise SigninRefused("linked_elsewhere")
    try:
        with session.begin_nested():
            actor.google_subject, actor.google_email = identity.subject, identity.email
            session.add(actor)
            session.flush()
    except IntegrityError as exc:  # linked elsewhere between the check and the write
        raise SigninRefused("linked_elsewhere") from exc
    return actor


def unlink(session: Session, user: User) -> User:
    """Only with a password left to sign in with."""
    if not user.google_subject:
        raise SigninRefused("not_linked")
    if not auth_service.has_password(user):
        raise SigninRefused("no_password")
    user.google_subject, user.google_email = None, None
    session.add(user)
    session.flush()
    return user
