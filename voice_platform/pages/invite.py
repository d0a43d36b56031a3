"""``/invite/[invite_token]``: join an organization with an invitation link."""

from __future__ import annotations

import reflex as rx

from voice_platform.components import auth_card
from voice_platform.state.invite import InviteState as S

STATES = {
    "expired": "This invitation has expired. Ask the person who invited you for a new one.",
    "used": "This invitation has already been used.",
    "revoked": "This invitation was withdrawn.",
    "missing": "Invitation not found: this link is not valid. Check that you copied all of it.",
}


def _wrong_account() -> rx.Component:
    return rx.vstack(
        rx.callout(rx.text("This invitation was sent to ", rx.text.strong(S.invite_email), ", but you are signed in as ",
                           rx.text.strong(S.signed_in_as), ". Sign in with the invited address to join."),
                   icon="user-x", color_scheme="amber", width="100%", data_testid="invite-wrong-account"),
        rx.button("Sign in with another account", size="3", width="100%", variant="soft", on_click=S.use_another_account),
        width="100%",
    )


def _join() -> rx.Component:
    return rx.vstack(
        rx.text("Signed in as " + S.signed_in_as, size="2", color_scheme="gray"),
        rx.button("Join " + S.invite_org, size="3", width="100%", on_click=S.join, aria_label="Join organization"),
        width="100%",
    )


def _sign_in_first() -> rx.Component:
    return rx.vstack(
        rx.link(rx.button("Sign in to accept", size="3", width="100%"), href="/signin?next=" + S.invite_path,
                width="100%"),
        rx.link(rx.button("Create an account", size="3", width="100%", variant="soft"),
                href="/signup?next=" + S.invite_path, width="100%"),
        width="100%",
    )


def _valid() -> rx.Component:
    return rx.vstack(
        rx.text("You are invited to join ", rx.text.strong(S.invite_org), " as ",
                rx.text.strong(S.invite_role.to(str).replace("_", " ")), ". The invitation is for ",
                rx.text.strong(S.invite_email), ".", size="3"),
        rx.cond(S.signed_in_as == "", _sign_in_first(), rx.cond(S.wrong_account, _wrong_account(), _join())),
        rx.cond(S.invite_error != "", rx.callout(S.invite_error, icon="triangle-alert", color_scheme="red",
                                                  width="100%", data_testid="invite-error")),
        spacing="4", width="100%",
    )


def page() -> rx.Component:
    return auth_card(
        "Invitation", "Join an organization on Voiceline",
        rx.cond(
            S.invite_loading,
            rx.skeleton(rx.box(height="80px", width="100%"), loading=True),
            rx.match(
                S.invite_state,
                ("valid", _valid()),
                *[(state, rx.callout(text, icon="info", width="100%", data_testid="invite-" + state))
                  for state, text in STATES.items()],
                rx.callout(STATES["missing"], icon="info", width="100%"),
            ),
        ),
    )
