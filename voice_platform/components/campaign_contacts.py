"""A campaign's contacts: number, variables, state, attempts, why the last try did not go through,
and a link to each of its calls (``/calls/<id>``), a page at a time, filtered by state."""

from __future__ import annotations

import reflex as rx

from voice_platform.components.pager import pager
from voice_platform.models.outbound import CONTACT_STATES
from voice_platform.state.campaign_detail import ALL, CampaignDetailState
from voice_platform.state.campaigns import STATE_COLORS, STATE_LABELS

S = CampaignDetailState


def state_badge(contact: rx.Var) -> rx.Component:
    return rx.badge(contact["state_label"].to(str), variant="soft", data_testid="contact-state",
                    color_scheme=rx.match(contact["state"].to(str), *STATE_COLORS.items(), "gray"))


def call_link(call: rx.Var) -> rx.Component:
    return rx.link(call["label"].to(str), rx.text(" · ", call["outcome"].to(str), size="1", color_scheme="gray"),
                   href="/calls/" + call["id"].to(str), size="2", data_testid="contact-call")


def contact_row(contact: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(contact["position"].to(str), color_scheme="gray", size="1")),
        rx.table.row_header_cell(rx.code(contact["number"].to(str), variant="ghost")),
        rx.table.cell(rx.text(contact["variables"].to(str), size="1", max_width="220px", trim="both")),
        rx.table.cell(rx.vstack(
            state_badge(contact),
            rx.cond(contact["error"].to(str) != "",
                    rx.text(contact["error"].to(str), size="1", color_scheme="gray", max_width="260px",
                            data_testid="contact-error")),
            spacing="1",
        )),
        rx.table.cell(rx.text(contact["attempts"].to(str), data_testid="contact-attempts")),
        rx.table.cell(rx.vstack(rx.foreach(contact["calls"].to(list[dict[str, str]]), call_link), spacing="1")),
        align="center", data_testid="contact-row",
    )


def state_filter() -> rx.Component:
    return rx.select.root(
        rx.select.trigger(aria_label="Contact state filter", min_width="160px"),
        rx.select.content(rx.select.item("Every state", value=ALL),
                          *[rx.select.item(STATE_LABELS[s], value=s) for s in CONTACT_STATES]),
        value=S.state_filter, on_change=S.set_state_filter,
    )


def contacts_table() -> rx.Component:
    headers = ("#", "Number", "Variables", "State", "Attempts", "Calls")
    return rx.vstack(
        # The filter sits by the heading, not at the right edge where the toasts stack.
        rx.hstack(rx.heading("Contacts", size="4"), state_filter(), align="center", spacing="4", width="100%"),
        rx.card(
            rx.box(rx.table.root(
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
                rx.table.body(rx.foreach(S.contacts, contact_row)),
                variant="ghost", size="2", width="100%", min_width="760px", aria_label="Contacts",
            ), overflow_x="auto", width="100%"),
            rx.cond(S.contacts.length() == 0,
                    rx.text("No contact in this state.", size="2", color_scheme="gray", padding="12px")),
            pager(S),
            size="1", width="100%",
        ),
        spacing="3", width="100%",
    )
