"""Empty, loading, not-found and error states, so every page says what is going on."""

from __future__ import annotations

import reflex as rx


def empty_state(icon: str, title: str, text: str, action: rx.Component | None = None) -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.center(rx.icon(icon, size=28, color=rx.color("accent", 11)), background=rx.color("accent", 3),
                      border_radius="9999px", width="56px", height="56px"),
            rx.heading(title, size="4", weight="medium"),
            rx.text(text, color_scheme="gray", size="2", text_align="center", max_width="380px"),
            action if action is not None else rx.fragment(),
            align="center",
            spacing="3",
        ),
        padding_y="64px",
        width="100%",
    )


def not_found_state(what: str = "page", back_href: str = "/agents", back_label: str = "Back to agents") -> rx.Component:
    """The app's one not-found look: unknown ids and other tenants' ids both land here."""
    return rx.card(
        empty_state(
            "search-x",
            f"This {what} does not exist",
            f"It may have been deleted, or it belongs to an organization you are not a member of.",
            rx.link(rx.button(rx.icon("arrow-left", size=16), back_label, variant="soft"), href=back_href),
        ),
        width="100%",
        data_testid="not-found",
    )


def page_skeleton(rows: int = 4) -> rx.Component:
    return rx.vstack(
        *[rx.skeleton(rx.box(height="44px", width="100%"), loading=True) for _ in range(rows)],
        spacing="3",
        width="100%",
    )


def error_callout(message: rx.Var | str) -> rx.Component:
    return rx.callout(message, icon="triangle-alert", color_scheme="red", role="alert", width="100%")
