"""``/organization/audit-log``: who changed what in the organization, newest first (org admins)."""

from __future__ import annotations

import reflex as rx

from voice_platform.components import empty_state, error_callout, page_header, page_skeleton, signed_in_page
from voice_platform.components.pager import pager
from voice_platform.services.audit import ACTIONS
from voice_platform.state.audit_log import ALL, AuditLogState

S = AuditLogState
FAMILIES = sorted({a.split(".")[0] for a in ACTIONS})


def filters() -> rx.Component:
    return rx.hstack(
        rx.select.root(
            rx.select.trigger(aria_label="Action filter", min_width="200px"),
            rx.select.content(
                rx.select.item("Any action", value=ALL),
                rx.select.group(rx.select.label("Kinds"),
                                *[rx.select.item(f"{f.replace('_', ' ')} (all)", value=f) for f in FAMILIES]),
                rx.select.group(rx.select.label("Actions"), *[rx.select.item(a, value=a) for a in ACTIONS]),
            ),
            value=S.action_filter, on_change=S.set_action_filter,
        ),
        rx.form(
            rx.hstack(
                rx.input(name="actor", placeholder="E-mail or key name", aria_label="Actor filter",
                         default_value=S.actor_filter, max_length=320),
                rx.button("Filter", type="submit", variant="soft", aria_label="Apply actor filter"),
                spacing="2",
            ),
            on_submit=S.apply_actor,
        ),
        spacing="3", wrap="wrap", margin_bottom="16px",
    )


def changes(event: rx.Var) -> rx.Component:
    block = lambda title, text: rx.cond(  # noqa: E731
        text != "",
        rx.box(rx.text(title, size="1", weight="medium", color_scheme="gray"),
               rx.el.pre(text, style={"font_size": "12px", "white_space": "pre-wrap", "margin": "0"}), flex="1",
               min_width="200px"),
    )
    return rx.cond(
        (event["before"] != "") | (event["after"] != ""),
        rx.el.details(
            rx.el.summary("Changes", style={"cursor": "pointer", "font_size": "12px"}),
            rx.hstack(block("Before", event["before"]), block("After", event["after"]), spacing="4", align="start",
                      wrap="wrap", padding_top="6px"),
        ),
    )


def event_row(event: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(event["when"], size="1", white_space="nowrap")),
        rx.table.cell(rx.text(event["actor"], size="2")),
        rx.table.cell(rx.badge(event["action"], variant="soft")),
        rx.table.cell(rx.text(event["target"], size="1", color_scheme="gray")),
        rx.table.cell(rx.vstack(rx.text(event["summary"], size="2"), changes(event), spacing="1")),
        align="start", data_testid="audit-row",
    )


def events_table() -> rx.Component:
    return rx.card(
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in
                                           ("When", "Who", "Action", "Target", "What changed")])),
            rx.table.body(rx.foreach(S.events, event_row)),
            variant="ghost", width="100%", aria_label="Audit log",
        ),
        pager(S),
        size="1", width="100%",
    )


def page() -> rx.Component:
    return signed_in_page(
        page_header("Audit log", "Every change made in " + S.org_name + ", newest first",
                    back_href="/settings", back_label="Settings"),
        rx.cond(
            S.loading,
            rx.card(page_skeleton(5), width="100%"),
            rx.cond(
                ~S.can_read_audit,
                rx.callout("Only organization admins can read the audit log.", icon="lock", color_scheme="gray",
                           width="100%", data_testid="audit-admins-only"),
                rx.vstack(
                    filters(),
                    rx.cond(
                        S.error != "",
                        error_callout(S.error),
                        rx.cond(S.total > 0, events_table(),
                                rx.card(empty_state("scroll-text", "No entries",
                                                    "Changes to agents, tools, members, numbers, keys and settings appear here."),
                                        width="100%")),
                    ),
                    spacing="0", width="100%",
                ),
            ),
        ),
    )
