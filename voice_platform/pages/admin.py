"""``/admin``: the platform's tool catalogue and every organization, for platform admins only."""

from __future__ import annotations

import reflex as rx

from voice_platform.components import empty_state, error_callout, page_header, page_skeleton, signed_in_page
from voice_platform.components.pager import pager
from voice_platform.state.admin import AdminState as S


def _tool_row(tool: dict) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.vstack(rx.text(tool["name"], weight="medium"), rx.text(tool["description"], size="1", color_scheme="gray"),
                                spacing="1")),
        rx.table.cell(rx.badge(rx.cond(tool["active"] != "", "active", "inactive"),
                               color_scheme=rx.cond(tool["active"] != "", "green", "gray"), variant="soft")),
        rx.table.cell(rx.cond(
            tool["functions"] != "",
            rx.flex(rx.foreach(tool["functions"].split(","), lambda name: rx.code(name, size="1")),
                    wrap="wrap", gap="4px", data_testid="tool-functions"),
            rx.text("none", size="1", color_scheme="gray"),
        )),
        rx.table.cell(rx.vstack(rx.text(tool["agents"]), rx.text(tool["enabled"] + " switched on", size="1",
                                                                   color_scheme="gray"), spacing="0")),
        rx.table.cell(rx.text(tool["changed"], size="1")),
        data_testid="catalogue-row",
    )


def catalogue() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Tool catalogue", size="4"),
            rx.text("Tools this deployment's code provides, synced at start-up; read-only, since the code is its "
                    "source. A tool that is no longer in the code stays here as inactive. \"Last changed\" is when a "
                    "sync last changed the tool (a sync that finds nothing new writes nothing).",
                    size="2", color_scheme="gray"),
            rx.cond(
                S.tools.length() > 0,
                rx.box(rx.table.root(
                    rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in
                                                   ("Tool", "State", "Functions", "Agents using it", "Last changed")])),
                    rx.table.body(rx.foreach(S.tools, _tool_row)),
                    variant="ghost", size="2", min_width="720px", aria_label="Tool catalogue",
                ), overflow_x="auto", width="100%"),
                empty_state("wrench", "No tools yet", "The catalogue fills when the dashboard starts and syncs the "
                            "tools found in the code."),
            ),
            spacing="3", width="100%",
        ),
        size="2", width="100%",
    )


def _org_row(org: dict) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(org["name"], weight="medium")),
        rx.table.cell(org["members"]),
        rx.table.cell(org["agents"]),
        rx.table.cell(rx.text(org["created"], size="1")),
        rx.table.cell(rx.button("Open", size="1", variant="soft", on_click=S.open_org(org["id"]),
                                aria_label="Open " + org["name"])),
        data_testid="org-row",
    )


def orgs() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Organizations", size="4"),
                rx.spacer(),
                rx.form(rx.hstack(rx.input(name="q", placeholder="Search by name", aria_label="Search organizations",
                                           max_length=100),
                                  rx.button("Search", type="submit", variant="soft")),
                        on_submit=S.apply_search),
                width="100%", align="center",
            ),
            rx.cond(
                S.org_total > 0,
                rx.box(rx.table.root(
                    rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in
                                                   ("Organization", "Members", "Agents", "Created", "")])),
                    rx.table.body(rx.foreach(S.org_rows, _org_row)),
                    variant="ghost", size="2", min_width="560px", aria_label="Organizations",
                ), overflow_x="auto", width="100%"),
                empty_state("building-2", "No organizations match", "Try another name."),
            ),
            pager(S),
            spacing="3", width="100%",
        ),
        size="2", width="100%",
    )


def page() -> rx.Component:
    return signed_in_page(
        page_header("Platform admin", "Every organization and the tool catalogue of this deployment"),
        rx.cond(
            S.loading,
            rx.card(page_skeleton(5), width="100%"),
            rx.cond(
                S.refused,
                rx.callout("Only platform administrators can see this page.", icon="lock", color_scheme="gray",
                           width="100%", data_testid="admin-refused"),
                rx.vstack(rx.cond(S.error != "", error_callout(S.error)), catalogue(), orgs(), spacing="5", width="100%"),
            ),
        ),
    )
