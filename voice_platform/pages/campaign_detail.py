"""``/campaigns/[campaign_id]``: one campaign, live: progress, counts, controls and contacts.

The controls follow the status (a draft is edited and starts; a running campaign pauses; a paused one resumes;
any unfinished one can be cancelled, after a confirmation since queued contacts are then never
called) and are drawn only for roles that may change agents, which the service checks anyway.
"""

from __future__ import annotations

import reflex as rx

from voice_platform.components import not_found_state, page_header, page_skeleton, signed_in_page
from voice_platform.components.campaign_contacts import contacts_table
from voice_platform.components.campaign_edit import edit_campaign
from voice_platform.components.campaign_progress import counts, progress_bar, status_badge
from voice_platform.state.campaign_detail import CampaignDetailState

S = CampaignDetailState
C = S.campaign


def _action(label: str, action: str, icon: str, statuses: tuple[str, ...], color: str = "accent") -> rx.Component:
    return rx.cond(
        rx.Var.create(list(statuses)).contains(S.status),
        rx.button(rx.icon(icon, size=16), label, on_click=S.change(action), loading=S.busy == action,
                  variant="solid" if action == "start" else "soft", aria_label=label + " campaign",
                  **({} if color == "accent" else {"color_scheme": color})),
    )


def _cancel() -> rx.Component:
    return rx.cond(
        rx.Var.create(["draft", "running", "paused"]).contains(S.status),
        rx.alert_dialog.root(
            rx.alert_dialog.trigger(rx.button(rx.icon("circle-x", size=16), "Cancel", variant="soft",
                                              color_scheme="red", aria_label="Cancel campaign")),
            rx.alert_dialog.content(
                rx.alert_dialog.title("Cancel this campaign?"),
                rx.alert_dialog.description("Queued contacts will never be called. Calls in flight finish and keep "
                                            "their outcome. A cancelled campaign cannot be started again."),
                rx.hstack(
                    rx.alert_dialog.cancel(rx.button("Keep it", variant="soft", color_scheme="gray")),
                    rx.alert_dialog.action(rx.button("Cancel campaign", color_scheme="red", on_click=S.change("cancel"),
                                                     aria_label="Confirm cancel")),
                    spacing="3", justify="end", margin_top="16px",
                ),
                max_width="440px",
            ),
        ),
    )


def controls() -> rx.Component:
    return rx.cond(S.can_update_agent, rx.hstack(
        rx.cond(S.status == "draft", edit_campaign(C["id"].to(str))),
        _action("Start", "start", "play", ("draft",)),
        _action("Pause", "pause", "pause", ("running",), "amber"),
        _action("Resume", "resume", "play", ("paused",)),
        _cancel(),
        spacing="2",
    ))


def fact(label: str, value: rx.Var, testid: str = "") -> rx.Component:
    return rx.vstack(rx.text(label, size="1", color_scheme="gray"),
                     rx.text(value, size="2", data_testid=testid or None),
                     spacing="1")


def facts() -> rx.Component:
    return rx.card(rx.grid(
        fact("Agent", C["agent"].to(str)),
        fact("Window", C["window"].to(str) + " (" + C["timezone"].to(str) + ")", "campaign-window"),
        fact("Calls at once", C["max_concurrent"].to(str)),
        fact("Retries", C["retry"].to(str)),
        fact("Created", C["created"].to(str)),
        fact("Started", rx.cond(C["started"].to(str) != "", C["started"].to(str), "not yet")),
        rx.cond(C["finished"].to(str) != "", fact("Finished", C["finished"].to(str))),
        columns=rx.breakpoints(initial="2", md="3"), spacing="4", width="100%",
    ), width="100%")


def progress() -> rx.Component:
    return rx.card(rx.vstack(
        rx.hstack(rx.text("Progress", size="2", weight="medium"), rx.spacer(),
                  rx.cond(S.still_moving, rx.badge(rx.spinner(size="1"), "live", variant="outline",
                                                   data_testid="campaign-live")),
                  align="center", width="100%"),
        progress_bar(C),
        counts(S.counts),
        spacing="3", width="100%",
    ), width="100%")


def outside_window() -> rx.Component:
    return rx.cond(
        (S.status == "running") & ~C["in_window"].to(bool),
        rx.callout("Outside the calling window now: nothing is dialed until it opens (" + C["window"].to(str) + ", "
                   + C["timezone"].to(str) + ").", icon="clock", color_scheme="amber", width="100%",
                   data_testid="outside-window"),
    )


def page() -> rx.Component:
    return signed_in_page(
        rx.cond(
            S.loading,
            rx.card(page_skeleton(6), width="100%"),
            rx.cond(
                S.not_found,
                not_found_state("campaign", back_href="/campaigns", back_label="Back to campaigns"),
                rx.vstack(
                    page_header(C["name"].to(str), "Campaign of " + S.org_name, status_badge(S.status), controls(),
                                back_href="/campaigns", back_label="All campaigns"),
                    outside_window(),
                    progress(),
                    facts(),
                    contacts_table(),
                    spacing="4", width="100%",
                ),
            ),
        ),
    )
