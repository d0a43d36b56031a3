"""Sign-in and sign-up forms: call the auth service and keep the token in localStorage."""

from __future__ import annotations

from urllib.parse import quote, unquote

import reflex as rx

from voice_platform.db import session_scope
from voice_platform.errors import DomainError
from voice_platform.services import auth as auth_service
from voice_platform.services import password_reset
from voice_platform.state.auth import AGENTS_ROUTE, HOME_ROUTE, AuthState


def _safe_next(raw: str | None) -> str:
    """Only same-site paths: ``?next=//evil.example`` must not become an open redirect."""
    path = unquote(raw or "")
    # Browsers read "/\\host" as "//host" and drop tabs/newlines, so those never pass.
    unsafe = "\\" in path or any(ord(c) < 32 or ord(c) == 127 for c in path)
    if path.startswith("/") and not path.startswith("//") and not path.startswith("/sign") and not unsafe:
        return path
    return HOME_ROUTE


class SessionFormState(AuthState):
    """Errors are keyed by the service's field names ("email", "password", ...); "" is form-level."""

    errors: dict[str, str] = {}
    submitting: bool = False
    # /signin offers "Forgot password?" only when this installation sends e-mail (SMTP settings).
    reset_available: bool = False
    reset_checked: bool = False

    def _next_path(self) -> str:
        return _safe_next(self.router.url.query_parameters.get("next"))

    @rx.var
    def next_query(self) -> str:
        """``?next=...`` for the link to the other form, so switching between sign-in and sign-up
        keeps where the visitor was going (an invitation, a page behind sign-in)."""
        wanted = self.router.url.query_parameters.get("next")
        path = _safe_next(wanted) if wanted else HOME_ROUTE
        return "" if path == HOME_ROUTE else "?next=" + quote(path, safe="/")

    @rx.event
    def redirect_if_signed_in(self):
        """on_load of /signin and /signup: a valid session goes straight to the dashboard."""
        self.errors = {}
        self.submitting = False
        self.reset_available, self.reset_checked = password_reset.available(), True
        if not self.token:
            return None
        try:
            with session_scope() as session:
                self._current_user(session)
        except DomainError:
            self.token = ""
            return None
        return rx.redirect(self._next_path())

    @rx.event
    def sign_in(self, form: dict):
        self.errors = {}
        try:
            with session_scope() as session:
                result = auth_service.signin(session, email=form.get("email", ""), password=form.get("password", ""))
                self.token = result.access_token
                self._load_session(session, result.user)
        except DomainError as exc:
            self.errors = {exc.field or "": exc.message}
            return None
        return rx.redirect(self._next_path())

    @rx.event
    def sign_up(self, form: dict):
        self.errors = {}
        try:
            with session_scope() as session:
                result, org = auth_service.signup(
                    session,
                    email=form.get("email", ""),
                    password=form.get("password", ""),
                    full_name=form.get("full_name") or None,
                    organization_name=form.get("organization_name") or None,
                )
                self.token = result.access_token
                self._load_session(session, result.user, prefer_org=str(org.id))
        except DomainError as exc:
            field = exc.field or ""
            if field == "name":  # the organization's name, in the service's words
                field = "organization_name"
            self.errors = {field: exc.message}
            return None
        # a new account has no agents yet: it starts where it creates the first one, unless it came
        # from somewhere (an invitation link) that it goes back to
        wanted = self.router.url.query_parameters.get("next")
        target = self._next_path() if wanted else AGENTS_ROUTE
        return [rx.redirect(target), rx.toast.success("Welcome! Your organization is ready.")]
