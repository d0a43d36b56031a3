"""The "Edit" button of a draft campaign and its dialog: the same settings fields as the new
campaign's form (``campaign_form.settings_fields``), starting from the draft's values."""

from __future__ import annotations

import reflex as rx

from voice_platform.components import error_callout
from voice_platform.components.campaign_form import Settings, settings_fields
from voice_platform.state.campaign_edit import CampaignEditState
from voice_platform.state.campaign_form import FORM_ERROR

E = CampaignEditState
FIELDS = Settings(E.days, E.toggle_day, E.errors, E.agent_options, E.chosen_agent, E.set_agent, E.values)


def edit_campaign(campaign_id: rx.Var) -> rx.Component:
    return rx.dialog.root(
        rx.button(rx.icon("pencil", size=16), "Edit", variant="soft", on_click=E.open(campaign_id),
                  aria_label="Edit campaign"),
        rx.dialog.content(
            rx.dialog.title("Edit campaign"),
            rx.dialog.description("Only a draft can be edited. Its contacts stay as uploaded.", size="2",
                                  color_scheme="gray", margin_bottom="12px"),
            rx.form(
                rx.vstack(
                    rx.cond(E.errors.contains(FORM_ERROR), error_callout(E.errors[FORM_ERROR])),
                    *settings_fields(FIELDS),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", type="button", variant="soft", color_scheme="gray",
                                                  aria_label="Close without saving")),
                        rx.button(rx.icon("check", size=16), "Save", type="submit", loading=E.saving,
                                  aria_label="Save campaign"),
                        justify="end", spacing="3", width="100%",
                    ),
                    spacing="4", width="100%",
                ),
                on_submit=E.save, key=E.form_key, aria_label="Edit campaign", width="100%",
            ),
            max_width="640px",
        ),
        open=E.edit_open, on_open_change=E.set_edit_open,
    )
