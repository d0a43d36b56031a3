"""The "Sign in with Google" block of /signin and /signup and the Google card of /account."""

from __future__ import annotations

import reflex as rx

from voice_platform.components.feedback import error_callout
from voice_platform.state.account import AccountState
from voice_platform.state.google_signin import GoogleLinkState as L
from voice_platform.state.google_signin import GoogleSigninState as G


def _g_mark() -> rx.Component:
    return rx.text("G", weight="bold", size="3", aria_hidden="true")


def google_signin_block(label: str = "Sign in with Google") -> rx.Component:
    """Hidden unless the server has a Google client; its error (from the callback) shows either way."""
    return rx.vstack(
        rx.cond(G.google_error != "", rx.box(error_callout(G.google_error), data_testid="google-error", width="100%")),
        rx.cond(
            G.google_enabled,
            rx.vstack(
                rx.hstack(rx.separator(size="4"), rx.text("or", size="1", color_scheme="gray"), rx.separator(size="4"),
                          align="center", width="100%"),
                rx.button(_g_mark(), label, on_click=G.start, type="button", variant="outline", size="3",
                          width="100%", loading=G.google_starting, aria_label=label),
                spacing="4", width="100%",
            ),
        ),
        spacing="4", width="100%",
    )


def google_handoff_page() -> rx.Component:
    """/signin/google: shown for the moment the one-time code is being swapped for a session."""
    return rx.center(
        rx.vstack(rx.spinner(size="3"), rx.text("Signing you in with Google…", size="2", color_scheme="gray"),
                  align="center", spacing="3"),
        min_height="100vh", width="100%",
    )


def google_account_card(card) -> rx.Component:
    """``card(title, description, *content)`` is the account page's card helper."""
    return card(
        "Google", "Sign in with your Google account instead of typing a password.",
        rx.cond(
            L.google_linked,
            rx.vstack(
                rx.text("Linked as ", rx.text.strong(L.google_email), size="2", data_testid="google-linked"),
                rx.cond(
                    AccountState.has_password,  # the Password card's: one answer for both cards
                    rx.button("Unlink Google", on_click=L.unlink, variant="soft", color_scheme="red", size="2",
                              width="fit-content", aria_label="Unlink Google"),
                    rx.text("Set a password above before unlinking Google: Google is your only way to sign in.",
                            size="2", color_scheme="gray"),
                ),
                spacing="3",
            ),
            rx.cond(
                L.google_available,
                rx.button(_g_mark(), "Link Google", on_click=L.link, variant="outline", size="2", width="fit-content",
                          aria_label="Link Google"),
                rx.text("Google sign-in is not configured on this server.", size="2", color_scheme="gray"),
            ),
        ),
    )
