"""The call page's "After the call" card: the post-call analysis, and "Re-run analysis".

Shows whatever state the analysis is in: pending (the page follows it), done (summary, success
badge with its reason, sentiment, the extracted fields as a table, the model), failed (the
error), skipped (too short to analyse). The re-run button is for roles that may change agents
(``agent:update``, the service's rule too).
"""

from __future__ import annotations

import reflex as rx

from voice_platform.state.call_detail import CallDetailState as D

SENTIMENT_COLORS = (("positive", "green"), ("neutral", "gray"), ("negative", "red"))


def success_badge(success: rx.Var) -> rx.Component:
    """"yes" / "no" / "" (no verdict) as a badge, or nothing."""
    return rx.match(
        success,
        ("yes", rx.badge(rx.icon("circle-check", size=12), "Successful", color_scheme="green", variant="soft",
                         data_testid="success-badge")),
        ("no", rx.badge(rx.icon("circle-x", size=12), "Unsuccessful", color_scheme="red", variant="soft",
                        data_testid="success-badge")),
        rx.fragment(),
    )


def _status_badge(status: rx.Var, label: rx.Var) -> rx.Component:
    return rx.badge(
        rx.cond(status == "pending", rx.spinner(size="1"), rx.fragment()), label,
        color_scheme=rx.match(status, ("done", "green"), ("failed", "red"), ("pending", "amber"), "gray"),
        variant="soft", data_testid="analysis-status",
    )


def _sentiment(sentiment: rx.Var) -> rx.Component:
    return rx.cond(
        sentiment != "",
        rx.hstack(rx.text("Caller sentiment", size="2", color_scheme="gray"),
                  rx.badge(sentiment, variant="outline",
                           color_scheme=rx.match(sentiment, *SENTIMENT_COLORS, "gray"), data_testid="sentiment"),
                  align="center", spacing="2"),
    )


def _fields_table() -> rx.Component:
    return rx.cond(
        D.analysis_data.length() > 0,
        rx.table.root(
            rx.table.header(rx.table.row(rx.table.column_header_cell("Field"), rx.table.column_header_cell("Value"))),
            rx.table.body(rx.foreach(D.analysis_data, lambda row: rx.table.row(
                rx.table.row_header_cell(rx.code(row["name"], variant="ghost")),
                rx.table.cell(row["value"]),
                data_testid="analysis-field", data_field=row["name"],
            ))),
            variant="surface", size="1", width="100%", aria_label="Extracted fields",
        ),
    )


def _done() -> rx.Component:
    a = D.analysis
    return rx.vstack(
        rx.text(a["summary"], size="2", white_space="pre-wrap", data_testid="analysis-summary"),
        rx.cond(a["success"] != "",
                rx.hstack(success_badge(a["success"]),
                          rx.text(a["success_reason"], size="2", color_scheme="gray", data_testid="success-reason"),
                          align="center", spacing="2", wrap="wrap")),
        _sentiment(a["sentiment"]),
        _fields_table(),
        spacing="3", width="100%",
    )


def _body() -> rx.Component:
    a = D.analysis
    return rx.match(
        a["status"],
        ("done", _done()),
        ("failed", rx.callout(a["error"], icon="triangle-alert", color_scheme="red", width="100%",
                              data_testid="analysis-error")),
        ("pending", rx.text("The call is being analysed; this page shows the result when it is ready.",
                            size="2", color_scheme="gray")),
        ("skipped", rx.text("Fewer than two turns were spoken: there was nothing to analyse.", size="2",
                            color_scheme="gray")),
        rx.text("The call is analysed when it ends.", size="2", color_scheme="gray"),
    )


def _rerun_button() -> rx.Component:
    return rx.cond(
        D.can_update_agent & (D.analysis["status"] != "") & ~D.analysis_pending,
        rx.button(rx.icon("refresh-cw", size=14), "Re-run analysis", variant="soft", size="2",
                  loading=D.rerunning, on_click=D.rerun_analysis, aria_label="Re-run analysis"),
    )


def call_analysis_card() -> rx.Component:
    a = D.analysis
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("After the call", size="4"),
                rx.cond(a["status"] != "", _status_badge(a["status"], a["status_label"])),
                rx.spacer(),
                _rerun_button(),
                align="center", spacing="3", width="100%", wrap="wrap",
            ),
            _body(),
            rx.cond(a["model"] != "", rx.text("Model: ", rx.code(a["model"], variant="ghost"), size="1",
                                               color_scheme="gray")),
            spacing="3", width="100%",
        ),
        width="100%", data_testid="call-analysis",
    )
