"""``/agents/[agent_id]/tools``: attach tools to an agent, configure them and pick their functions."""

from __future__ import annotations

import reflex as rx

from voice_platform.components import empty_state, error_callout, not_found_state, page_header, signed_in_page
from voice_platform.components.tool_card import tool_card, tool_card_skeleton
from voice_platform.state.agent_tools import AgentToolsState as S


def breadcrumb() -> rx.Component:
    return rx.hstack(
        rx.link("Agents", href="/agents", color_scheme="gray", size="2", underline="none"),
        rx.icon("chevron-right", size=14, color=rx.color("gray", 9)),
        rx.link(S.agent_name, href="/agents/" + S.page_agent_id, color_scheme="gray", size="2", underline="none",
                aria_label="Back to agent"),
        rx.icon("chevron-right", size=14, color=rx.color("gray", 9)),
        rx.text("Tools", size="2", weight="medium"),
        align="center",
        spacing="1",
        as_="nav",
        aria_label="Breadcrumb",
        margin_bottom="12px",
    )


def read_only_notice() -> rx.Component:
    return rx.cond(
        ~S.can_configure,
        rx.callout(
            "You can see this agent's tools, but your role cannot change them. Ask an organization admin.",
            icon="lock", color_scheme="gray", variant="surface", width="100%", data_testid="read-only-notice",
        ),
    )


def content() -> rx.Component:
    return rx.vstack(
        read_only_notice(),
        rx.cond(S.load_error != "", error_callout(S.load_error)),
        rx.cond(
            S.tools.length() > 0,
            rx.foreach(S.tools, tool_card),
            rx.card(empty_state("wrench", "No tools available yet",
                                "A platform administrator has not published any tools."), width="100%"),
        ),
        spacing="5",
        width="100%",
    )


def loading() -> rx.Component:
    return rx.vstack(
        rx.skeleton(rx.box(height="18px", width="220px"), loading=True),
        rx.skeleton(rx.box(height="40px", width="300px"), loading=True),
        tool_card_skeleton(),
        spacing="4",
        width="100%",
    )


def page() -> rx.Component:
    return signed_in_page(
        rx.cond(
            S.loading,
            loading(),
            rx.cond(
                S.not_found,
                not_found_state("agent"),
                rx.fragment(
                    breadcrumb(),
                    page_header("Tools", "What " + S.agent_name + " can do during a call: attach tools, "
                                "connect accounts and choose each function the model may use."),
                    content(),
                ),
            ),
        ),
    )
