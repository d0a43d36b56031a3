"""``/forgot-password`` and ``/reset-password/[reset_token]`` (``services.password_reset``).

The route's parameter is ``reset_token``, not ``token``: ``AuthState.token`` is the session.
"""

from __future__ import annotations

import reflex as rx

from voice_platform.db import session_scope
from voice_platform.errors import DomainError
from voice_platform.services import password_reset
from voice_platform.state.auth import HOME_ROUTE, AuthState

UNAVAILABLE = password_reset.UNAVAILABLE


class PasswordResetState(AuthState):
    reset_available: bool = False
    reset_checked: bool = False  # on_load answered (the page shows nothing about availability before)
    reset_errors: dict[str, str] = {}
    reset_sent: str = ""  # the neutral answer once a link was asked for
    reset_submitting: bool = False
    link_state: str = "loading"  # loading | valid | invalid
    link_email: str = ""

    @rx.event
    def load_forgot(self):
        self.reset_available, self.reset_checked = password_reset.available(), True
        self.reset_errors, self.reset_sent, self.reset_submitting = {}, "", False

    @rx.event
    def request_link(self, form: dict):
        self.reset_errors = {}
        try:
            with session_scope() as session:
                self.reset_sent = password_reset.request(session, str(form.get("email") or ""))
        except DomainError as exc:
            self.reset_errors = {exc.field or "": exc.message}

    @rx.event
    def load_reset(self):
        self.link_state, self.link_email, self.reset_errors, self.reset_submitting = "loading", "", {}, False
        try:
            with session_scope() as session:
                self.link_email = password_reset.check(session, self._reset_token()).email
            self.link_state = "valid"
        except DomainError:
            self.link_state = "invalid"

    @rx.event
    def set_new_password(self, form: dict):
        self.reset_errors = {}
        password = str(form.get("password") or "")
        if password != str(form.get("password_again") or ""):
            self.reset_errors = {"password_again": "The two passwords differ"}
            return None
        try:
            with session_scope() as session:
                result = password_reset.confirm(session, self._reset_token(), password)
                self.token = result.access_token
                self._load_session(session, result.user)
        except password_reset.ResetLinkInvalid as exc:
            self.link_state, self.reset_errors = "invalid", {"": exc.message}
            return None
        except DomainError as exc:
            self.reset_errors = {exc.field or "": exc.message}
            return None
        return [rx.redirect(HOME_ROUTE),
                rx.toast.success("Your password was changed; every other session was signed out")]

    def _reset_token(self) -> str:
        return getattr(self, "reset_token", "") or ""
