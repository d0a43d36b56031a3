"""``/account``: your name, your password, call summaries by e-mail, signing out on every device,
and the theme."""

from __future__ import annotations

import reflex as rx
from reflex.style import color_mode, set_color_mode

from voice_platform.components import page_header, page_skeleton, signed_in_page, text_field
from voice_platform.components.google_signin import google_account_card
from voice_platform.state.account import AccountState as S
from voice_platform.state.account import SummaryMailState as M

THEMES = (("light", "sun", "Light"), ("dark", "moon", "Dark"), ("system", "monitor", "System"))


def _card(title: str, description: str, *content: rx.Component) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(title, size="4"),
            rx.text(description, size="2", color_scheme="gray"),
            *content,
            spacing="3", width="100%",
        ),
        size="3", width="100%",
    )


def profile() -> rx.Component:
    return rx.form(
        _card(
            "Profile", "How you appear to the other members of your organizations.",
            text_field("Name", "full_name", S.profile_errors, default_value=S.user_name, placeholder="Grace Hopper"),
            rx.vstack(rx.text("E-mail", size="2", weight="medium"), rx.text(S.user_email, size="2", data_testid="account-email"),
                      spacing="1"),
            rx.hstack(rx.spacer(), rx.button("Save profile", type="submit", size="3", aria_label="Save profile"),
                      width="100%"),
        ),
        on_submit=S.save_profile, key=S.form_key, width="100%",
    )


def _new_password_fields() -> tuple[rx.Component, ...]:
    return (
        text_field("New password", "new_password", S.password_errors, type="password", required=True,
                   hint="At least 8 characters."),
        text_field("Confirm new password", "confirm_password", S.password_errors, type="password", required=True),
        rx.cond(S.password_errors.contains(""), rx.text(S.password_errors[""], color_scheme="red", size="2")),
    )


def _submit(label: str) -> rx.Component:
    return rx.hstack(rx.spacer(), rx.button(label, type="submit", size="3", aria_label=label), width="100%")


def change_password() -> rx.Component:
    return rx.form(
        _card(
            "Password", "Changing it signs you out everywhere else; this browser stays signed in.",
            text_field("Current password", "current_password", S.password_errors, type="password", required=True),
            *_new_password_fields(),
            _submit("Change password"),
        ),
        on_submit=S.change_password, key=S.password_key, width="100%",
    )


def set_password() -> rx.Component:
    """An account made by "Sign in with Google" has no password until it sets one here."""
    return rx.form(
        _card(
            "Password", "You sign in with Google. Set a password to sign in with your e-mail too.",
            *_new_password_fields(),
            _submit("Set password"),
        ),
        on_submit=S.set_password, key=S.password_key, width="100%",
    )


def password() -> rx.Component:
    return rx.cond(S.has_password, change_password(), set_password())


def sessions() -> rx.Component:
    return _card(
        "Sessions", "Lost a laptop or signed in on a shared computer? Sign out on every device at once.",
        rx.alert_dialog.root(
            rx.alert_dialog.trigger(
                rx.button(rx.icon("log-out", size=16), "Sign out everywhere", color_scheme="red", variant="soft",
                          size="3", aria_label="Sign out everywhere", width="fit-content"),
            ),
            rx.alert_dialog.content(
                rx.alert_dialog.title("Sign out on every device?"),
                rx.alert_dialog.description("Every browser and API token signed in as you stops working, this one too."),
                rx.hstack(
                    rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                    rx.alert_dialog.action(rx.button("Sign out everywhere", color_scheme="red",
                                                     on_click=S.sign_out_everywhere, aria_label="Confirm sign out everywhere")),
                    justify="end", spacing="3", margin_top="16px",
                ),
            ),
        ),
    )


def _toggle_agent(agent_id: rx.Var):
    return lambda checked: M.toggle_agent(agent_id, checked)


def _agent_choice() -> rx.Component:
    return rx.vstack(
        rx.radio_group.root(
            rx.vstack(
                rx.text(rx.radio_group.item(value="all", aria_label="Every agent"), "Every agent", size="2",
                              as_="label", display="flex", align_items="center", gap="8px"),
                rx.text(rx.radio_group.item(value="chosen", aria_label="Chosen agents"), "Chosen agents", size="2",
                              as_="label", display="flex", align_items="center", gap="8px"),
                spacing="2",
            ),
            value=rx.cond(M.every_agent, "all", "chosen"), on_change=M.set_every_agent,
        ),
        rx.cond(~M.every_agent, rx.vstack(
            rx.foreach(M.agent_options, lambda agent: rx.text(
                rx.checkbox(checked=M.chosen_agents.contains(agent["id"]), on_change=_toggle_agent(agent["id"]),
                            aria_label="Summaries of " + agent["name"]),
                agent["name"], size="2", as_="label", display="flex", align_items="center", gap="8px",
            )),
            spacing="2", padding_left="24px",
        )),
        spacing="2",
    )


def summaries() -> rx.Component:
    """One e-mail per analysed phone call of the current organization: its summary, caller,
    duration, verdict and a link to the call; each has a one-click unsubscribe link."""
    return _card(
        "Call summaries by e-mail",
        "A summary of each analysed phone call of " + M.org_name + ", sent to " + M.user_email + ".",
        rx.cond(
            M.mail_available,
            rx.vstack(
                rx.badge(rx.icon(rx.cond(M.subscribed, "mail-check", "mail"), size=12), M.subscribed_label,
                         color_scheme=rx.cond(M.subscribed, "green", "gray"), variant="soft",
                         data_testid="summaries-subscribed"),
                _agent_choice(),
                rx.hstack(
                    rx.cond(M.subscribed, rx.button("Unsubscribe", variant="soft", color_scheme="gray", size="2",
                                                    on_click=M.unsubscribe, aria_label="Unsubscribe from summaries")),
                    rx.button(rx.cond(M.subscribed, "Save choice", "Subscribe"), size="2", on_click=M.subscribe,
                              aria_label=rx.cond(M.subscribed, "Save summary choice", "Subscribe to summaries")),
                    justify="end", spacing="3", width="100%",
                ),
                spacing="3", width="100%",
            ),
            rx.callout("E-mail is not configured on this installation (SMTP), so summaries cannot be sent.",
                       icon="mail-x", color_scheme="gray", width="100%", data_testid="summaries-no-mail"),
        ),
    )


def theme() -> rx.Component:
    return _card(
        "Theme", "Remembered by this browser.",
        rx.hstack(
            *[rx.button(rx.icon(icon, size=16), label, on_click=set_color_mode(mode), size="2",
                        variant=rx.cond(color_mode == mode, "solid", "soft"), aria_label=f"{label} theme",
                        aria_pressed=rx.cond(color_mode == mode, "true", "false"))
              for mode, icon, label in THEMES],
            spacing="2",
        ),
    )


def page() -> rx.Component:
    return signed_in_page(
        page_header("Account", "Your own settings, in every organization"),
        rx.cond(S.loading, rx.card(page_skeleton(4), width="100%"),
                rx.vstack(profile(), password(), google_account_card(_card), rx.cond(M.summaries_shown, summaries()),
                          theme(), sessions(), spacing="5", width="100%")),
    )
