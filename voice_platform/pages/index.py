"""``/``: the front door. Signed-in people go to their agents, everyone else to sign in."""

from __future__ import annotations

import reflex as rx

from voice_platform.components import not_found_state, signed_in_page
from voice_platform.components.layout import loading_screen


def page() -> rx.Component:
    """Shown only for the moment ``AuthState.go_home`` takes to decide where to send the visitor."""
    return loading_screen()


def not_found_page() -> rx.Component:
    return signed_in_page(not_found_state("page"))
