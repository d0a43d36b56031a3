"""``/phone-numbers``: which number reaches which agent, and getting numbers from Twilio.

Everyone in the organization sees the numbers; org admins assign, release, search, buy and
import. Without Twilio credentials the page says which settings enable buying and importing,
and still lists (and lets admins assign) the numbers typed into agents, with the webhook
URLs to paste into the provider's console by hand.
"""

from __future__ import annotations

import reflex as rx

from voice_platform.components import empty_state, error_callout, page_header, page_skeleton, signed_in_page, text_field
from voice_platform.state.phone_numbers import UNASSIGNED, PhoneNumbersState

S = PhoneNumbersState


def agent_picker(number: rx.Var) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(aria_label="Agent for " + number["e164"].to(str), min_width="180px"),
        rx.select.content(
            rx.select.item("Not assigned", value=UNASSIGNED),
            rx.foreach(S.agents, lambda agent: rx.select.item(agent["name"], value=agent["id"])),
        ),
        value=number["agent_id"],
        on_change=lambda agent_id: S.assign(number["id"], agent_id),
        size="2",
    )


def release_button(number: rx.Var) -> rx.Component:
    e164 = number["e164"].to(str)
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(rx.icon_button(rx.icon("trash-2", size=14), variant="ghost", color_scheme="red",
                                               aria_label="Release " + e164)),
        rx.alert_dialog.content(
            rx.alert_dialog.title("Release " + e164 + "?"),
            rx.alert_dialog.description(rx.cond(
                number["source"] == "twilio",
                "Twilio takes the number back (you may not get it again) and its agent stops receiving calls.",
                "It leaves your numbers and its agent stops receiving calls. Remove its webhooks at your provider too.",
            )),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(rx.button("Release", color_scheme="red", on_click=S.release(number["id"]),
                                                 aria_label="Confirm release")),
                spacing="3", justify="end", margin_top="16px",
            ),
        ),
    )


def number_row(number: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.vstack(
            rx.code(number["e164"], variant="ghost", size="3"),
            rx.text(number["friendly_name"], size="1", color_scheme="gray"),
            spacing="0",
        )),
        rx.table.cell(rx.badge(rx.cond(number["source"] == "twilio", "Twilio", "Manual"),
                               color_scheme=rx.cond(number["source"] == "twilio", "red", "gray"), variant="soft")),
        rx.table.cell(rx.cond(
            S.can_manage_numbers,
            agent_picker(number),
            rx.text(rx.cond(number["agent_name"] != "", number["agent_name"], "Not assigned"), size="2"),
        )),
        rx.table.cell(rx.cond(S.can_manage_numbers, release_button(number)), text_align="right"),
        align="center",
        data_testid="number-row",
    )


def numbers_table() -> rx.Component:
    return rx.card(
        rx.cond(
            S.numbers.length() > 0,
            rx.table.root(
                rx.table.header(rx.table.row(
                    rx.table.column_header_cell("Number"), rx.table.column_header_cell("Source"),
                    rx.table.column_header_cell("Agent"), rx.table.column_header_cell(""),
                )),
                rx.table.body(rx.foreach(S.numbers, number_row)),
                variant="ghost", width="100%", aria_label="Phone numbers",
            ),
            empty_state("phone", "No numbers yet",
                        "Buy or import a number from Twilio below, or type one into an agent's form."),
        ),
        width="100%",
    )


def webhook_line(label: str, url: rx.Var, testid: str) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        rx.code(url, size="2", data_testid=testid, style={"word-break": "break-all"}),
        spacing="1", width="100%",
    )


def manual_webhooks() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Numbers set up by hand", size="3", weight="medium"),
            rx.text("For each manual number, open it in Twilio's console (Phone Numbers → Active numbers) and set:",
                    size="2", color_scheme="gray"),
            webhook_line("A call comes in — Webhook, HTTP POST", S.voice_url, "voice-url"),
            webhook_line("Call status changes — HTTP POST", S.status_callback_url, "status-callback-url"),
            spacing="3", width="100%",
        ),
        width="100%",
        data_testid="manual-webhooks",
    )


def not_configured() -> rx.Component:
    return rx.callout(
        rx.text(
            "Buying and importing numbers needs a Twilio account: set ",
            rx.code("TWILIO_ACCOUNT_SID"), " and ", rx.code("TWILIO_AUTH_TOKEN"),
            " (environment or .env) and restart. Numbers typed into an agent are listed here as manual numbers.",
        ),
        icon="info", color_scheme="blue", width="100%", data_testid="twilio-not-configured",
    )


def available_row(number: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.code(number["e164"], variant="ghost")),
        rx.table.cell(rx.text(number["place"], size="2")),
        rx.table.cell(rx.button("Buy", size="1", on_click=S.buy(number["e164"]), aria_label="Buy " + number["e164"].to(str)),
                      text_align="right"),
        align="center",
        data_testid="available-row",
    )


def search_section() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Buy a number", size="3", weight="medium"),
            rx.form(
                rx.hstack(
                    rx.box(text_field("Country", "country", S.errors, default_value="US", placeholder="US"), width="110px"),
                    rx.box(text_field("Area code", "area_code", S.errors, placeholder="415"), width="140px"),
                    rx.box(text_field("Contains", "contains", S.errors, placeholder="digits, e.g. 555"), flex="1"),
                    rx.button(rx.icon("search", size=16), "Search", type="submit", size="3", aria_label="Search numbers"),
                    align="end", spacing="3", width="100%", wrap="wrap",
                ),
                on_submit=S.search, width="100%",
            ),
            rx.cond(S.errors.contains("search"), error_callout(S.errors["search"])),
            rx.cond(
                S.available.length() > 0,
                rx.table.root(rx.table.body(rx.foreach(S.available, available_row)), variant="ghost", width="100%",
                              aria_label="Available numbers"),
                rx.cond(S.searched, rx.text("Twilio has no number matching this search.", size="2", color_scheme="gray")),
            ),
            spacing="3", width="100%",
        ),
        width="100%",
    )


def importable_row(number: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.code(number["e164"], variant="ghost")),
        rx.table.cell(rx.text("Calls go to " + number["voice_url"].to(str), size="1", color_scheme="gray")),
        rx.table.cell(rx.button("Import", size="1", variant="soft", on_click=S.import_number(number["sid"]),
                                aria_label="Import " + number["e164"].to(str)), text_align="right"),
        align="center",
        data_testid="importable-row",
    )


def import_section() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Import from your Twilio account", size="3", weight="medium"),
                rx.spacer(),
                rx.icon_button(rx.icon("refresh-cw", size=14), variant="ghost", on_click=S.refresh_importable,
                               aria_label="Refresh importable numbers"),
                align="center", width="100%",
            ),
            rx.text("Numbers the account already owns; importing points their calls at this platform.",
                    size="2", color_scheme="gray"),
            rx.cond(S.import_error != "", error_callout(S.import_error)),
            rx.cond(
                S.importable.length() > 0,
                rx.table.root(rx.table.body(rx.foreach(S.importable, importable_row)), variant="ghost", width="100%",
                              aria_label="Importable numbers"),
                rx.cond(S.import_error == "", rx.text("Every number of the account is already in use here.", size="2",
                                                      color_scheme="gray")),
            ),
            spacing="3", width="100%",
        ),
        width="100%",
    )


def page() -> rx.Component:
    return signed_in_page(
        page_header("Phone numbers", "Which number reaches which agent in " + S.org_name),
        rx.cond(
            S.loading,
            rx.card(page_skeleton(3), width="100%"),
            rx.vstack(
                rx.cond(S.errors.contains(""), error_callout(S.errors[""])),
                rx.cond(~S.twilio_configured, not_configured()),
                numbers_table(),
                rx.cond(S.has_manual, manual_webhooks()),
                rx.cond(S.can_manage_numbers & S.twilio_configured, rx.fragment(search_section(), import_section())),
                spacing="4", width="100%",
            ),
        ),
    )
