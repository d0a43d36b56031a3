"""``/signin``."""

from __future__ import annotations

import reflex as rx

from voice_platform.components import auth_card, auth_footer, auth_form, error_callout, text_field
from voice_platform.components.google_signin import google_signin_block
from voice_platform.state import SessionFormState
from voice_platform.state.password_reset import UNAVAILABLE

S = SessionFormState


def forgot_password() -> rx.Component:
    """The way to a reset link, or why there is none (this installation sends no e-mail)."""
    return rx.cond(
        S.reset_available,
        rx.link("Forgot password?", href="/forgot-password", size="2", align="right", width="100%"),
        rx.cond(S.reset_checked, rx.text(UNAVAILABLE, size="1", color_scheme="gray", data_testid="reset-unavailable")),
    )


def page() -> rx.Component:
    return auth_card(
        "Welcome back",
        "Sign in to manage your voice agents.",
        auth_form(
            rx.cond(S.errors.contains(""), error_callout(S.errors[""])),
            text_field("E-mail", "email", S.errors, type="email", placeholder="you@company.com",
                       auto_complete="email", required=True, auto_focus=True),
            text_field("Password", "password", S.errors, type="password", placeholder="Your password",
                       auto_complete="current-password", required=True),
            forgot_password(),
            rx.button("Sign in", type="submit", size="3", width="100%", loading=S.submitting,
                      aria_label="Sign in"),
            on_submit=S.sign_in,
        ),
        google_signin_block(),
        auth_footer("New here?", "Create an account", "/signup" + S.next_query),
    )
