"""Sign in with Google on /signin and /signup, the handoff page /signin/google, and linking on /account.

Thin: every rule is in ``services/google_signin.py``. Starting a sign-in keeps a random
*binding* value in this browser's localStorage; the handoff code Google's round trip
ends with is redeemable only together with it, so a handoff link opened in another
browser signs nobody in. Messages come from the service's table by reason code: the
address bar never puts its own words on our pages.
"""

from __future__ import annotations

import json
import secrets

import reflex as rx

from voice_platform.db import session_scope
from voice_platform.errors import DomainError, NotAuthenticated
from voice_platform.services import google_signin as google
from voice_platform.state.auth import AGENTS_ROUTE, HOME_ROUTE, SIGNIN_ROUTE, AuthState
from voice_platform.state.session import _safe_next

ACCOUNT_ROUTE = "/account"


class GoogleSigninState(AuthState):
    google_binding: str = rx.LocalStorage("", name="vp_google_binding")
    google_enabled: bool = False
    google_error: str = ""
    google_starting: bool = False

    @rx.event
    def prepare(self):
        """on_load of /signin and /signup: show the button only when the Google client is configured."""
        self.google_enabled = google.configured()
        self.google_starting = False
        reason = self.router.url.query_parameters.get("google_error")
        self.google_error = google.message(reason) if reason else ""

    @rx.event
    def start(self):
        """The "Sign in with Google" button: off to Google's consent page."""
        self.google_error = ""
        wanted = self.router.url.query_parameters.get("next")
        binding = secrets.token_urlsafe(32)
        try:
            with session_scope() as session:
                url = google.start_signin(session, next_path=_safe_next(wanted) if wanted else None, binding=binding)
        except DomainError as exc:
            self.google_error = exc.message
            return None
        self.google_binding = binding  # written to localStorage before the browser leaves (same delta)
        self.google_starting = True
        return rx.redirect(url)

    @rx.event
    def finish(self):
        """on_load of /signin/google: swap the one-time code for this browser's session."""
        code = self.router.url.query_parameters.get("code")
        binding, self.google_binding = self.google_binding, ""
        if not binding:  # this browser did not start a Google sign-in: never redeem someone else's code
            return rx.redirect(f"{SIGNIN_ROUTE}?google_error=handoff")
        try:
            with session_scope() as session:
                handed = google.exchange_handoff(session, code, binding)
                self.token = handed.signed_in.access_token
                self._load_session(session, handed.signed_in.user)
        except google.SigninRefused as exc:
            return rx.redirect(f"{SIGNIN_ROUTE}?google_error={exc.reason}")
        if handed.next_path:
            target = _safe_next(handed.next_path)
        else:
            target = AGENTS_ROUTE if handed.created else HOME_ROUTE
        welcome = "Welcome! Your organization is ready." if handed.created else "Signed in with Google."
        return [rx.redirect(target), rx.toast.success(welcome)]


class GoogleLinkState(AuthState):
    """The account page's Google card."""

    google_linked: bool = False
    google_email: str = ""
    google_available: bool = False

    def _fill(self, user) -> None:
        self.google_linked = bool(user.google_subject)
        self.google_email = user.google_email or ""
        self.google_available = google.configured()

    @rx.event
    def load(self):
        """on_load of /account; finishes a link Google sent the browser back with."""
        params = self.router.url.query_parameters
        events: list = []
        try:
            with session_scope() as session:
                user = self._current_user(session)
                if params.get("google") == "link":
                    try:
                        google.complete_link(session, params.get("state"), params.get("code"), actor=user)
                        events.append(rx.toast.success(f"Google linked as {user.google_email}."))
                    except google.SigninRefused as exc:  # the burnt state is committed with the scope
                        events.append(rx.toast.error(exc.message))
                self._fill(user)
        except NotAuthenticated:
            return self._signed_out()
        if params.get("google") == "error":
            events.append(rx.toast.error(google.message(params.get("reason"))))
        if params.get("google"):
            # A reload must neither repeat the toast nor resend the spent code.
            events.append(rx.call_script(f"window.history.replaceState(null, '', {json.dumps(ACCOUNT_ROUTE)})"))
        return events

    @rx.event
    def link(self):
        try:
            with session_scope() as session:
                url = google.start_link(session, self._current_user(session))
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            return rx.toast.error(exc.message)
        return rx.redirect(url)

    @rx.event
    def unlink(self):
        try:
            with session_scope() as session:
                user = google.unlink(session, self._current_user(session))
                self._fill(user)
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            return rx.toast.error(exc.message)
        return rx.toast.success("Google unlinked.")
