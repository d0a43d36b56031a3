"""``/`` sends people to their agents (the guard there sends signed-out people to sign in)."""

from __future__ import annotations

import reflex as rx

from voice_platform.components import not_found_state, signed_in_page
from voice_platform.components.layout import loading_screen


def go_home():
    return rx.redirect("/agents")


def page() -> rx.Component:
    return loading_screen()


def not_found_page() -> rx.Component:
    return signed_in_page(not_found_state("page"))
