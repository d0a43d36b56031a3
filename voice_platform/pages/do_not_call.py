"""``/do-not-call``: the numbers no agent of the organization may dial, by a campaign or a single call.

Everyone who sees the calls sees the list (a member checks why a contact was skipped); those
who may change agents add and remove numbers. Each entry says who put it there: a person, or
the agent itself when a callee asked on a call (with a link to that call).
"""

from __future__ import annotations

import reflex as rx

from voice_platform.components import empty_state, page_header, page_skeleton, signed_in_page
from voice_platform.state.do_not_call import DoNotCallState

S = DoNotCallState


def search_form() -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.input(name="search", default_value=S.search, placeholder="Search numbers, e.g. 415",
                     aria_label="Search numbers", width="260px"),
            rx.button(rx.icon("search", size=14), "Search", type="submit", variant="soft", aria_label="Search"),
            rx.cond(S.search != "", rx.button("Clear", type="button", variant="ghost", color_scheme="gray",
                                              on_click=S.clear_search, aria_label="Clear search")),
            spacing="2", align="center",
        ),
        on_submit=S.apply_search, key=S.form_key,
    )


def add_form() -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("Add a number", size="3"),
                rx.hstack(
                    rx.input(name="number", id="number", placeholder="+14155550100", aria_label="Phone number to block",
                             aria_invalid=rx.cond(S.error != "", "true", "false"), aria_describedby="number-error",
                             size="3", width="260px", required=True),
                    rx.button(rx.icon("ban", size=16), "Add to list", type="submit", size="3", loading=S.busy,
                              aria_label="Add to list"),
                    spacing="3", align="center", wrap="wrap",
                ),
                rx.cond(S.error != "", rx.text(S.error, id="number-error", size="2", color=rx.color("red", 11),
                                               role="alert", data_testid="dnc-error")),
                rx.text("E.164 (+ country code, number). Campaign contacts with this number are skipped and "
                        "single calls to it are refused.", size="1", color_scheme="gray"),
                spacing="2", width="100%",
            ),
            on_submit=S.add, key=S.form_key, aria_label="Add a number", width="100%",
        ),
        size="2", width="100%",
    )


def _source(entry: rx.Var) -> rx.Component:
    return rx.cond(
        entry["by_agent"] == "yes",
        rx.hstack(rx.badge(rx.icon("bot", size=12), "agent", variant="soft", color_scheme="violet"),
                  rx.text("asked on a call", size="2", color_scheme="gray"), spacing="2", align="center"),
        rx.text(entry["source"], size="2"),
    )


def _remove_button(entry: rx.Var) -> rx.Component:
    number = entry["number"].to(str)
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(rx.button(rx.icon("trash-2", size=14), "Remove", variant="soft", color_scheme="red",
                                          size="1", aria_label="Remove " + number)),
        rx.alert_dialog.content(
            rx.alert_dialog.title("Remove " + number + "?"),
            rx.alert_dialog.description("Your agents and campaigns may call this number again."),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Keep it", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(rx.button("Remove", color_scheme="red", on_click=S.remove(number),
                                                 aria_label="Confirm remove")),
                spacing="3", justify="end", margin_top="16px",
            ),
            max_width="420px",
        ),
    )


def entry_row(entry: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.code(entry["number"], variant="ghost")),
        rx.table.cell(_source(entry)),
        rx.table.cell(rx.text(entry["added"], size="2", color_scheme="gray")),
        rx.table.cell(rx.cond(entry["call_id"] != "",
                              rx.link("Open call", href="/calls/" + entry["call_id"].to(str),
                                      aria_label="Call where " + entry["number"].to(str) + " asked"),
                              rx.text("—", color_scheme="gray"))),
        rx.cond(S.can_change, rx.table.cell(_remove_button(entry))),
        align="center", data_testid="dnc-row",
    )


def entries_table() -> rx.Component:
    headers = ["Number", "Added by", "When", "Call"]
    return rx.card(
        rx.box(rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers],
                                         rx.cond(S.can_change, rx.table.column_header_cell("")))),
            rx.table.body(rx.foreach(S.entries, entry_row)),
            variant="ghost", size="2", width="100%", aria_label="Do-not-call numbers",
        ), overflow_x="auto", width="100%"),
        size="1", width="100%",
    )


def listing() -> rx.Component:
    return rx.cond(
        S.entries.length() > 0,
        entries_table(),
        rx.card(rx.cond(
            S.search != "",
            empty_state("search-x", "No number matches", "Nothing on the list contains " + S.search + "."),
            empty_state("phone-off", "The list is empty",
                        "Numbers added here, or by your agents when a callee asks, are never dialed."),
        ), width="100%"),
    )


def page() -> rx.Component:
    return signed_in_page(
        page_header("Do not call", "Numbers " + S.org_name + "'s agents never dial"),
        rx.cond(
            S.loading,
            rx.card(page_skeleton(3), width="100%"),
            rx.vstack(
                rx.cond(S.can_change, add_form(),
                        rx.callout("Only those who may change agents add or remove numbers.", icon="lock",
                                   color_scheme="gray", width="100%", data_testid="dnc-read-only")),
                search_form(),
                listing(),
                spacing="4", width="100%",
            ),
        ),
    )
