"""The call page's "Warm transfer" card: its outcome, the briefing the person heard, and each
stage in order with its time, so whoever reads the call knows whether a person took it and, if
not, where it stopped (declined, no answer) and that the caller came back to the agent."""

from __future__ import annotations

import reflex as rx

from voice_platform.state.call_detail import CallDetailState as D

T = D.transfer


def stage_row(stage: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.text(stage["at"], size="1", color_scheme="gray", font_family="monospace", min_width="64px",
                data_testid="transfer-stage-at"),
        rx.icon("circle-dot", size=12, color=rx.color("accent", 9), flex_shrink="0"),
        rx.text(stage["label"], size="2", weight="medium", data_testid="transfer-stage-label"),
        rx.cond(stage["attempt"] != "", rx.badge(stage["attempt"], variant="outline", size="1")),
        rx.cond(stage["detail"] != "", rx.text(stage["detail"], size="1", color_scheme="gray",
                                               data_testid="transfer-stage-detail")),
        align="center", spacing="2", wrap="wrap", data_testid="transfer-stage", data_stage=stage["stage"],
    )


def call_transfer_card() -> rx.Component:
    return rx.cond(
        D.transfer_stages.length() > 0,
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.icon("phone-forwarded", size=16),
                    rx.text("Warm transfer", size="3", weight="medium"),
                    rx.badge(T["outcome"], color_scheme=T["color"], variant="soft", data_testid="transfer-outcome"),
                    rx.spacer(),
                    rx.cond(T["person"] != "", rx.text("to ", rx.code(T["person"], variant="ghost"), size="2",
                                                       color_scheme="gray", data_testid="transfer-person")),
                    align="center", spacing="2", width="100%", wrap="wrap",
                ),
                rx.cond(T["briefing"] != "", rx.blockquote(T["briefing"], size="2", data_testid="transfer-briefing")),
                rx.vstack(rx.foreach(D.transfer_stages, stage_row), spacing="2", width="100%",
                          aria_label="Transfer stages"),
                spacing="3", width="100%",
            ),
            width="100%", data_testid="transfer-card",
        ),
    )
