"""The "1–20 of 45  ‹ Previous  Next ›" footer of paginated tables (agents, calls)."""

from __future__ import annotations

import reflex as rx


def pager(state) -> rx.Component:
    """``state`` has ``page_label``, ``has_previous``, ``has_next``, ``previous_page`` and ``next_page``."""
    return rx.hstack(
        rx.text(state.page_label, size="2", color_scheme="gray"),
        rx.spacer(),
        rx.button(rx.icon("chevron-left", size=14), "Previous", variant="soft", color_scheme="gray", size="1",
                  disabled=~state.has_previous, on_click=state.previous_page, aria_label="Previous page"),
        rx.button("Next", rx.icon("chevron-right", size=14), variant="soft", color_scheme="gray", size="1",
                  disabled=~state.has_next, on_click=state.next_page, aria_label="Next page"),
        align="center", spacing="2", padding_top="12px", padding_x="12px",
        border_top=f"1px solid {rx.color('gray', 4)}",
    )
