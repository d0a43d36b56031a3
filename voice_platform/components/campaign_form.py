"""The "New campaign" form: who calls, when, how many at once, retries, and the contacts' CSV file.

The file goes through ``rx.upload`` and is parsed at once (``NewCampaignState.upload_csv``), so
the rows that cannot be called are listed with their reasons, and the accepted ones previewed,
before "Create campaign" is pressed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import reflex as rx

from voice_platform.components import error_callout, text_field
from voice_platform.components.fields import form_field
from voice_platform.state.campaign_form import DAYS, FORM_ERROR, UPLOAD_ID, NewCampaignState
from voice_platform.state.campaigns import DAY_LABELS

S = NewCampaignState
CSV_TYPES = {"text/csv": [".csv"], "text/plain": [".txt", ".tsv"], "application/vnd.ms-excel": [".csv"]}


@dataclass(frozen=True)
class Settings:
    """The vars and events of a form with a campaign's settings (the new campaign's, a draft's edit)."""

    days: Any
    toggle_day: Any
    errors: Any
    agent_options: Any
    chosen_agent: Any
    set_agent: Any
    values: Any = None  # the inputs' starting values (a draft's); None: the defaults of a new campaign

    def value(self, name: str, default: str) -> Any:
        return default if self.values is None else self.values[name].to(str)


NEW = Settings(S.days, S.toggle_day, S.errors, S.agent_options, S.chosen_agent, S.set_agent)


def _day(f: Settings, day: str) -> rx.Component:
    return rx.text(
        rx.checkbox(checked=f.days.contains(day), on_change=lambda checked: f.toggle_day(day, checked),
                    aria_label=DAY_LABELS[day]),
        DAY_LABELS[day], as_="label", display="flex", align_items="center", gap="6px", size="2",
    )


def _window(f: Settings) -> rx.Component:
    return rx.vstack(
        form_field("Days", "days", rx.hstack(*[_day(f, d) for d in DAYS], spacing="3", wrap="wrap"), f.errors),
        rx.hstack(
            text_field("From", "start", f.errors, default_value=f.value("start", "09:00"), placeholder="09:00",
                       hint="HH:MM"),
            text_field("Until", "end", f.errors, default_value=f.value("end", "17:00"), placeholder="17:00",
                       hint="24:00 = end of day; earlier than From runs past midnight"),
            spacing="3", width="100%",
        ),
        rx.text("In the organization's time zone (Settings). Outside the window nothing is dialed.",
                size="1", color_scheme="gray"),
        spacing="2", width="100%",
    )


def _agent(f: Settings) -> rx.Component:
    return form_field("Agent", "agent_id", rx.select.root(
        rx.select.trigger(aria_label="Campaign agent", width="100%", placeholder="Choose an agent"),
        rx.select.content(rx.foreach(f.agent_options, lambda a: rx.select.item(a["name"], value=a["id"]))),
        value=f.chosen_agent, on_change=f.set_agent, size="3",
    ), f.errors, hint="It calls from its own number and speaks first.")


def _limits(f: Settings) -> rx.Component:
    return rx.hstack(
        text_field("Calls at once", "max_concurrent", f.errors, default_value=f.value("max_concurrent", "1"),
                   type="number", min="1", hint="One line of your plan is always kept for inbound calls."),
        text_field("Retry attempts", "attempts", f.errors, default_value=f.value("attempts", "0"), type="number",
                   min="0", hint="After no answer or busy (never after voicemail)."),
        text_field("Retry after (minutes)", "delay_minutes", f.errors, default_value=f.value("delay_minutes", "60"),
                   type="number", min="1"),
        spacing="3", width="100%", align="start",
    )


def settings_fields(f: Settings) -> list[rx.Component]:
    """Name, agent, window and limits: what a campaign is, apart from its contacts."""
    return [
        text_field("Campaign name", "name", f.errors, default_value=f.value("name", ""),
                   placeholder="November reminders", required=True),
        _agent(f),
        _window(f),
        _limits(f),
    ]


def _dropzone() -> rx.Component:
    return rx.upload(
        rx.vstack(
            rx.icon("file-up", size=22, color=rx.color("accent", 11)),
            rx.text(rx.cond(S.file_name != "", S.file_name, "Drop a CSV file here, or click to choose one"),
                    size="2", weight="medium"),
            rx.text("A 'to' column with the numbers (E.164), and one column per {{variable}}.",
                    size="1", color_scheme="gray"),
            align="center", spacing="1",
        ),
        id=UPLOAD_ID, multiple=False, max_files=1, accept=CSV_TYPES,
        on_drop=S.upload_csv(rx.upload_files(upload_id=UPLOAD_ID)),
        border=f"1px dashed {rx.color('gray', 7)}", border_radius="8px", padding="20px", width="100%",
        cursor="pointer", aria_label="Contacts CSV file", data_testid="csv-dropzone",
    )


def _rejected() -> rx.Component:
    return rx.cond(S.rejected.length() > 0, rx.vstack(
        rx.hstack(rx.icon("triangle-alert", size=14),
                  rx.text(S.rejected.length().to(str), rx.cond(S.rejected.length() == 1, " row", " rows"),
                          " will not be called:", size="2", weight="medium"),
                  align="center", spacing="2", color=rx.color("amber", 11)),
        rx.table.root(
            rx.table.header(rx.table.row(rx.table.column_header_cell("Row"), rx.table.column_header_cell("Reason"))),
            rx.table.body(rx.foreach(S.rejected, lambda r: rx.table.row(
                rx.table.cell(r["row"]), rx.table.cell(r["reason"]), data_testid="rejected-row"))),
            variant="surface", size="1", width="100%", aria_label="Rejected rows",
        ),
        spacing="2", width="100%",
    ))


def _accepted() -> rx.Component:
    return rx.cond(S.accepted > 0, rx.vstack(
        rx.hstack(rx.icon("circle-check", size=14),
                  rx.text(rx.text.strong(S.accepted.to(str), data_testid="accepted-count"),
                          rx.cond(S.accepted == 1, " contact", " contacts"), " ready",
                          rx.cond(S.variable_names != "", " · variables: " + S.variable_names, ""), size="2"),
                  align="center", spacing="2", color=rx.color("green", 11)),
        rx.table.root(
            rx.table.body(rx.foreach(S.preview, lambda c: rx.table.row(
                rx.table.cell(rx.code(c["to"], variant="ghost")), rx.table.cell(c["variables"]),
                data_testid="preview-row"))),
            variant="ghost", size="1", width="100%", aria_label="First contacts",
        ),
        spacing="1", width="100%",
    ))


def new_campaign_form() -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("New campaign", size="4"),
                rx.cond(S.errors.contains(FORM_ERROR), error_callout(S.errors[FORM_ERROR])),
                *settings_fields(NEW),
                form_field("Contacts", "file", _dropzone(), S.errors),
                _rejected(),
                _accepted(),
                rx.hstack(
                    rx.button("Cancel", type="button", variant="soft", color_scheme="gray", on_click=S.toggle,
                              aria_label="Close the form"),
                    rx.button(rx.icon("plus", size=16), "Create campaign", type="submit", size="3",
                              disabled=~S.can_create, aria_label="Create campaign"),
                    justify="end", spacing="3", width="100%",
                ),
                rx.text("The campaign is created as a draft: nobody is called until you start it.",
                        size="1", color_scheme="gray"),
                spacing="4", width="100%",
            ),
            on_submit=S.create, key=S.form_key, aria_label="New campaign", width="100%",
        ),
        size="3", width="100%",
    )

