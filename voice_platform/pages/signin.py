"""``/signin``."""

from __future__ import annotations

import reflex as rx

from voice_platform.components import auth_card, auth_footer, auth_form, error_callout, text_field
from voice_platform.state import SessionFormState

S = SessionFormState


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
            rx.button("Sign in", type="submit", size="3", width="100%", loading=S.submitting,
                      aria_label="Sign in"),
            on_submit=S.sign_in,
        ),
        auth_footer("New here?", "Create an account", "/signup"),
    )
