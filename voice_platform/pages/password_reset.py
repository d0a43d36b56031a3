"""``/forgot-password`` (ask for a link by e-mail) and ``/reset-password/[reset_token]`` (choose a new password)."""

from __future__ import annotations

import reflex as rx

from voice_platform.components import auth_card, auth_footer, auth_form, error_callout, text_field
from voice_platform.state.password_reset import UNAVAILABLE
from voice_platform.state.password_reset import PasswordResetState as S


def _ask() -> rx.Component:
    return auth_form(
        rx.cond(S.reset_errors.contains(""), error_callout(S.reset_errors[""])),
        text_field("E-mail", "email", S.reset_errors, type="email", placeholder="you@company.com",
                   auto_complete="email", required=True, auto_focus=True),
        rx.button("Send me a link", type="submit", size="3", width="100%", aria_label="Send me a link"),
        on_submit=S.request_link,
    )


def _sent() -> rx.Component:
    return rx.callout(S.reset_sent, icon="mail-check", color_scheme="green", width="100%", role="status",
                      data_testid="reset-sent")


def _unavailable() -> rx.Component:
    return rx.callout(UNAVAILABLE, icon="info", width="100%", data_testid="reset-unavailable")


def forgot_page() -> rx.Component:
    return auth_card(
        "Forgot your password?",
        "We e-mail you a link to choose a new one.",
        rx.cond(
            S.reset_checked,
            rx.cond(S.reset_available, rx.cond(S.reset_sent != "", _sent(), _ask()), _unavailable()),
            rx.skeleton(rx.box(height="80px", width="100%"), loading=True),
        ),
        auth_footer("Remembered it?", "Sign in", "/signin"),
    )


def _choose() -> rx.Component:
    return auth_form(
        rx.cond(S.reset_errors.contains(""), error_callout(S.reset_errors[""])),
        rx.text("For ", rx.text.strong(S.link_email), size="2", color_scheme="gray"),
        # lets a password manager file the new password under the right account
        rx.el.input(type="email", name="username", value=S.link_email, auto_complete="username", read_only=True,
                    hidden=True),
        text_field("New password", "password", S.reset_errors, type="password", placeholder="At least 8 characters",
                   auto_complete="new-password", required=True, auto_focus=True),
        text_field("New password again", "password_again", S.reset_errors, type="password",
                   auto_complete="new-password", required=True),
        rx.button("Set new password", type="submit", size="3", width="100%", aria_label="Set new password"),
        on_submit=S.set_new_password,
    )


def _invalid() -> rx.Component:
    return rx.vstack(
        rx.callout("This password-reset link is invalid, has expired or was already used.", icon="info",
                   width="100%", data_testid="reset-link-invalid"),
        rx.link(rx.button("Ask for a new link", size="3", width="100%", variant="soft"), href="/forgot-password",
                width="100%"),
        width="100%",
    )


def reset_page() -> rx.Component:
    return auth_card(
        "Choose a new password",
        "Every other session of your account is signed out.",
        rx.match(
            S.link_state,
            ("valid", _choose()),
            ("invalid", _invalid()),
            rx.skeleton(rx.box(height="80px", width="100%"), loading=True),
        ),
        auth_footer("Remembered it?", "Sign in", "/signin"),
    )
