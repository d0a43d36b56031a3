"""/api/v1/auth/oauth: Sign in with Google, and linking Google to the signed-in account.

Thin: the rules are in ``services/google_signin.py``. The callback is reached by the
browser coming back from Google with no session of ours; it never answers an error
page: every outcome is a redirect to the dashboard with a reason code (the page words
it), and it never puts an access token in a URL — a sign-in ends with a one-time
handoff code that ``/signin/google`` (or an API client, ``POST /auth/oauth/exchange``)
swaps for the token. A link ends on ``/account``, which finishes it as the signed-in
user who started it (or ``POST /auth/oauth/google/link/complete`` for an API client).
"""

from __future__ import annotations

import logging
from typing import Literal
from urllib.parse import urlencode

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from voice_platform.api.deps import AccountUser, SessionDep
from voice_platform.api.schemas import TokenOut, UserOut
from voice_platform.models import User
from voice_platform.services import auth as auth_service
from voice_platform.services import google_signin as google
from voice_platform.settings import get_settings

log = logging.getLogger(__name__)
router = APIRouter(prefix="/oauth", tags=["auth"])

SIGNIN_PAGE, HANDOFF_PAGE, ACCOUNT_PAGE = "/signin", "/signin/google", "/account"


class OAuthStartIn(BaseModel):
    provider: Literal["google"]
    next: str | None = Field(default=None, max_length=500, description="Dashboard path to land on after signing in")
    binding: str | None = Field(
        default=None, min_length=16, max_length=200,
        description="A random value you keep; the handoff code is then redeemable only together with it",
    )


class AuthorizationUrlOut(BaseModel):
    authorization_url: str


class HandoffIn(BaseModel):
    code: str = Field(max_length=200)
    binding: str | None = Field(default=None, max_length=200)


class LinkCompleteIn(BaseModel):
    state: str = Field(max_length=4000)
    code: str = Field(max_length=2000)


class GoogleLinkOut(BaseModel):
    linked: bool
    google_email: str | None
    has_password: bool


def _link_out(user: User) -> GoogleLinkOut:
    return GoogleLinkOut(linked=bool(user.google_subject), google_email=user.google_email,
                         has_password=auth_service.has_password(user))


def _refused(exc: google.SigninRefused) -> JSONResponse:
    """Returned, not raised: a state burnt before the refusal must be committed."""
    return JSONResponse({"detail": exc.message, "reason": exc.reason}, status_code=exc.status_code)


_START_ERRORS = {422: {"description": "Unknown provider"}, 503: {"description": "Google client not configured"}}


@router.post("", response_model=AuthorizationUrlOut, responses=_START_ERRORS)
def start(body: OAuthStartIn, session: SessionDep) -> AuthorizationUrlOut:
    """Start "Sign in with Google": send the browser to ``authorization_url``; it comes back
    signed in on the dashboard (or, with ``binding``, redeem the handoff code via /oauth/exchange)."""
    return AuthorizationUrlOut(authorization_url=google.start_signin(session, next_path=body.next, binding=body.binding))


@router.post("/exchange", response_model=TokenOut, responses={403: {"description": "Unknown, spent or expired code"}})
def exchange(body: HandoffIn, session: SessionDep) -> TokenOut | JSONResponse:
    try:
        handed = google.exchange_handoff(session, body.code, body.binding)
    except google.SigninRefused as exc:
        return _refused(exc)
    return TokenOut(access_token=handed.signed_in.access_token, user=UserOut.model_validate(handed.signed_in.user))


@router.get("/google/callback", status_code=status.HTTP_303_SEE_OTHER, response_class=RedirectResponse)
def callback(session: SessionDep, state: str | None = None, code: str | None = None, error: str | None = None) -> RedirectResponse:
    """Where Google sends the browser back (the redirect URI to register)."""
    purpose = google.state_purpose(state)
    if purpose == google.LINK:
        try:
            google.check_state(session, state)
        except google.SigninRefused as exc:
            return _to(ACCOUNT_PAGE, {"google": "error", "reason": exc.reason})
        if error or not code:
            return _to(ACCOUNT_PAGE, {"google": "error", "reason": "declined" if error else "provider"})
        return _to(ACCOUNT_PAGE, {"google": "link", "state": state or "", "code": code})
    try:
        if error or not code:
            google.consume_state(session, state)  # declined on Google's page: burn it so it cannot be reused
            return _to(SIGNIN_PAGE, {"google_error": "declined" if error else "provider"})
        handoff = google.finish_signin(session, state, code)
    except google.SigninRefused as exc:
        return _to(SIGNIN_PAGE, {"google_error": exc.reason})
    except Exception:  # noqa: BLE001 - the browser gets a message, never a 500
        log.exception("google sign-in callback failed")
        session.rollback()
        return _to(SIGNIN_PAGE, {"google_error": "provider"})
    return _to(HANDOFF_PAGE, {"code": handoff})


def _to(path: str, query: dict[str, str]) -> RedirectResponse:
    base = get_settings().public_base_url.rstrip("/")
    return RedirectResponse(f"{base}{path}?{urlencode(query)}", status_code=status.HTTP_303_SEE_OTHER)


_ACCOUNT = {401: {"description": "Not signed in"}, 403: {"description": "API keys cannot use account endpoints"}}


@router.get("/google", response_model=GoogleLinkOut, responses=_ACCOUNT)
def link_status(user: AccountUser) -> GoogleLinkOut:
    return _link_out(user)


@router.post("/google/link", response_model=AuthorizationUrlOut, responses={**_ACCOUNT, 503: {"description": "Google client not configured"}})
def start_link(user: AccountUser, session: SessionDep) -> AuthorizationUrlOut:
    """Start linking a Google account to yours; finish with /google/link/complete (the dashboard does it on /account)."""
    return AuthorizationUrlOut(authorization_url=google.start_link(session, user))


@router.post(
    "/google/link/complete", response_model=GoogleLinkOut,
    responses={**_ACCOUNT, 403: {"description": "Invalid, spent or another user's state; or an API key"},
               409: {"description": "That Google account is linked to another user"}, 502: {"description": "Google refused"}},
)
def complete_link(body: LinkCompleteIn, user: AccountUser, session: SessionDep) -> GoogleLinkOut | JSONResponse:
    try:
        return _link_out(google.complete_link(session, body.state, body.code, actor=user))
    except google.SigninRefused as exc:
        return _refused(exc)


@router.delete("/google/link", response_model=GoogleLinkOut,
               responses={**_ACCOUNT, 409: {"description": "Not linked, or no password to sign in with afterwards"}})
def unlink(user: AccountUser, session: SessionDep) -> GoogleLinkOut:
    return _link_out(google.unlink(session, user))
