"""``/signup``: a new account always gets its own organization (services.auth.signup)."""

from __future__ import annotations

import reflex as rx

from voice_platform.components import auth_card, auth_footer, auth_form, error_callout, text_field
from voice_platform.components.google_signin import google_signin_block
from voice_platform.state import SessionFormState

S = SessionFormState


def page() -> rx.Component:
    return auth_card(
        "Create your account",
        "Set up an organization and your first phone agent in minutes.",
        auth_form(
            rx.cond(S.errors.contains(""), error_callout(S.errors[""])),
            text_field("Full name", "full_name", S.errors, placeholder="Ada Lovelace", auto_complete="name"),
            text_field("E-mail", "email", S.errors, type="email", placeholder="you@company.com",
                       auto_complete="email", required=True),
            text_field("Password", "password", S.errors, type="password", placeholder="At least 8 characters",
                       auto_complete="new-password", required=True),
            text_field("Organization", "organization_name", S.errors, placeholder="Acme Dental",
                       hint="You can invite teammates later."),
            rx.button("Create account", type="submit", size="3", width="100%", aria_label="Create account"),
            on_submit=S.sign_up,
        ),
        google_signin_block(),
        auth_footer("Already have an account?", "Sign in", "/signin" + S.next_query),
    )
