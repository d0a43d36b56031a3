"""``/agents``: the current organization's agents, a page at a time."""

from __future__ import annotations

import reflex as rx

from voice_platform.components.pager import pager

from voice_platform.components import empty_state, error_callout, page_header, page_skeleton, signed_in_page
from voice_platform.state import AgentsState

S = AgentsState


def new_agent_button() -> rx.Component:
    return rx.cond(
        S.can_create_agent,
        rx.link(rx.button(rx.icon("plus", size=16), "New agent", size="3", aria_label="New agent"), href="/agents/new"),
    )


def status_badge(active: rx.Var) -> rx.Component:
    return rx.cond(
        active,
        rx.badge(rx.icon("circle-check", size=12), "Active", color_scheme="green", variant="soft"),
        rx.badge(rx.icon("circle-pause", size=12), "Paused", color_scheme="gray", variant="soft"),
    )


def agent_row(agent: rx.Var) -> rx.Component:
    href = "/agents/" + agent["id"].to(str)
    return rx.table.row(
        rx.table.row_header_cell(
            rx.link(
                rx.hstack(
                    rx.avatar(fallback=agent["name"].to(str)[0:1], size="2", radius="full", variant="soft"),
                    rx.text(agent["name"], weight="medium"),
                    align="center",
                    spacing="3",
                ),
                href=href,
                underline="none",
                color=rx.color("gray", 12),
                aria_label="Open agent " + agent["name"].to(str),
            ),
        ),
        rx.table.cell(
            rx.cond(agent["phone_number"], rx.code(agent["phone_number"], variant="ghost"),
                    rx.text("No number", color_scheme="gray", size="2")),
        ),
        rx.table.cell(rx.hstack(rx.icon("audio-waveform", size=14), rx.text(agent["voice"]), align="center", spacing="2")),
        rx.table.cell(rx.cond(agent["tools"], rx.text(agent["tools"], size="2"), rx.text("None", size="2", color_scheme="gray"))),
        rx.table.cell(rx.cond(agent["last_call"],
                              rx.link(agent["last_call"], href="/calls?agent=" + agent["id"].to(str), size="2"),
                              rx.text("Never", size="2", color_scheme="gray"))),
        rx.table.cell(status_badge(agent["is_active"])),
        rx.table.cell(
            rx.link(rx.icon_button(rx.icon("chevron-right", size=16), variant="ghost", color_scheme="gray",
                                   aria_label="Edit " + agent["name"].to(str)), href=href),
            text_align="right",
        ),
        align="center",
        data_testid="agent-row",
    )


def agents_table() -> rx.Component:
    return rx.card(
        rx.box(rx.table.root(
            rx.table.header(
                rx.table.row(
                    rx.table.column_header_cell("Agent"),
                    rx.table.column_header_cell("Phone number"),
                    rx.table.column_header_cell("Voice"),
                    rx.table.column_header_cell("Tools"),
                    rx.table.column_header_cell("Last call"),
                    rx.table.column_header_cell("Status"),
                    rx.table.column_header_cell(""),
                ),
            ),
            rx.table.body(rx.foreach(S.agents, agent_row)),
            variant="ghost",
            size="2",
            width="100%",
            min_width="760px",
            aria_label="Agents",
        ), overflow_x="auto", width="100%"),
        pager(S),
        size="1",
        width="100%",
    )


def search_box() -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.input(rx.input.slot(rx.icon("search", size=14)), name="q", default_value=S.search,
                     placeholder="Search by name or number", aria_label="Search agents", width="280px"),
            rx.button("Search", type="submit", variant="soft", aria_label="Search"),
            spacing="2",
        ),
        on_submit=S.apply_search,
        margin_bottom="16px",
    )


def content() -> rx.Component:
    return rx.cond(
        S.loading,
        rx.card(page_skeleton(5), width="100%"),
        rx.cond(
            S.error != "",
            error_callout(S.error),
            rx.cond(
                S.total > 0,
                agents_table(),
                rx.card(
                    rx.cond(S.search != "", empty_state("search-x", "No agent matches", "Try another name or number."),
                    empty_state(
                        "bot",
                        "No agents yet",
                        "An agent answers calls to its phone number with your prompt, voice and tools.",
                        new_agent_button(),
                    )),
                    width="100%",
                ),
            ),
        ),
    )


def page() -> rx.Component:
    return signed_in_page(
        page_header("Agents", "Phone agents of " + S.org_name, new_agent_button()),
        search_box(),
        content(),
    )
