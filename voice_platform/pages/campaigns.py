"""``/campaigns``: the organization's calling campaigns, each with its progress; and a new one.

Everyone who sees the calls sees the campaigns; those who may change agents (``agent:update``)
create them from a CSV file. A campaign is created as a draft and started on its own page.
"""

from __future__ import annotations

import reflex as rx

from voice_platform.components import empty_state, error_callout, page_header, page_skeleton, signed_in_page
from voice_platform.components.campaign_form import new_campaign_form
from voice_platform.components.campaign_progress import counts, progress_bar, status_badge
from voice_platform.state.campaign_form import NewCampaignState
from voice_platform.state.campaigns import CampaignsState

S = CampaignsState
F = NewCampaignState


def campaign_row(campaign: rx.Var) -> rx.Component:
    name = campaign["name"].to(str)
    return rx.table.row(
        rx.table.row_header_cell(rx.vstack(
            rx.link(name, href="/campaigns/" + campaign["id"].to(str), weight="medium", aria_label="Open " + name),
            rx.text(campaign["window"].to(str), size="1", color_scheme="gray"),
            spacing="1",
        )),
        rx.table.cell(status_badge(campaign["status"].to(str))),
        rx.table.cell(campaign["agent"].to(str)),
        rx.table.cell(rx.vstack(progress_bar(campaign), counts(campaign["counts"].to(list[dict])),
                                spacing="2", min_width="260px")),
        rx.table.cell(rx.text(campaign["created"].to(str), size="1", color_scheme="gray")),
        align="center", data_testid="campaign-row", data_name=name,
    )


def campaigns_table() -> rx.Component:
    return rx.card(
        rx.box(rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in
                                           ("Campaign", "Status", "Agent", "Progress", "Created")])),
            rx.table.body(rx.foreach(S.campaigns, campaign_row)),
            variant="ghost", size="2", width="100%", min_width="820px", aria_label="Campaigns",
        ), overflow_x="auto", width="100%"),
        size="1", width="100%",
    )


def new_button() -> rx.Component:
    return rx.cond(
        S.can_update_agent & ~F.form_open,
        rx.button(rx.icon("plus", size=16), "New campaign", size="3", on_click=F.toggle, aria_label="New campaign"),
    )


def page() -> rx.Component:
    return signed_in_page(
        page_header("Campaigns", "Agents of " + S.org_name + " calling a list of contacts", new_button()),
        rx.cond(
            S.loading,
            rx.card(page_skeleton(4), width="100%"),
            rx.vstack(
                rx.cond(F.form_open & S.can_update_agent, new_campaign_form()),
                rx.cond(S.error != "", error_callout(S.error)),
                rx.cond(
                    S.campaigns.length() > 0,
                    campaigns_table(),
                    rx.card(empty_state("megaphone", "No campaigns yet",
                                        "A campaign calls a list of numbers with one of your agents: reminders, "
                                        "confirmations, follow-ups. Numbers on the do-not-call list are skipped."),
                            width="100%"),
                ),
                spacing="4", width="100%",
            ),
        ),
    )
