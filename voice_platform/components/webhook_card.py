"""One webhook endpoint on ``/webhooks``: where it posts, which events, its health, its actions,
and its recent deliveries with "Redeliver".

Only org admins reach these controls (the page shows nothing else to others, and
``services.webhooks`` refuses anyway). The secret is never here: it is shown once by the page.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from voice_platform.state.webhooks import WebhooksState as S

ROW = dict[str, Any]
DELIVERY_COLORS = (("delivered", "green"), ("failed", "red"), ("pending", "amber"))


def _confirm(trigger: rx.Component, title: rx.Var | str, text: str, action: str, on_click, aria: rx.Var | str,
             color: str = "red") -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(trigger),
        rx.alert_dialog.content(
            rx.alert_dialog.title(title),
            rx.alert_dialog.description(text),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(rx.button(action, color_scheme=color, on_click=on_click, aria_label=aria)),
                spacing="3", justify="end", margin_top="16px",
            ),
            max_width="460px",
        ),
    )


def _actions(endpoint: rx.Var) -> rx.Component:
    endpoint_id, url = endpoint["id"].to(str), endpoint["url"].to(str)
    return rx.hstack(
        rx.button(rx.icon("send", size=14), "Send test", variant="soft", size="2", type="button",
                  disabled=~endpoint["enabled"].to(bool), on_click=S.send_test(endpoint_id), aria_label="Send test ping"),
        rx.button(rx.icon("pencil", size=14), "Edit", variant="soft", color_scheme="gray", size="2", type="button",
                  on_click=S.start_edit(endpoint_id), aria_label="Edit webhook"),
        _confirm(rx.button(rx.icon("key-round", size=14), "Rotate secret", variant="soft", color_scheme="gray", size="2",
                           aria_label="Rotate secret"),
                 "Rotate the signing secret?",
                 "A new secret signs every request from now on, retries of earlier events too. Update your receiver "
                 "with the new one.", "Rotate", S.rotate(endpoint_id), "Confirm rotate", color="amber"),
        _confirm(rx.button(rx.icon("trash-2", size=14), "Delete", variant="soft", color_scheme="red", size="2",
                           aria_label="Delete webhook"),
                 "Delete this webhook?", "Its deliveries go with it. Events already sent stay sent.",
                 "Delete", S.delete(endpoint_id), "Confirm delete"),
        spacing="2", wrap="wrap",
    )


def _health(endpoint: rx.Var) -> rx.Component:
    reason, failing = endpoint["disabled_reason"].to(str), endpoint["failing_since"].to(str)
    return rx.fragment(
        rx.cond(reason != "", rx.callout(reason, icon="circle-off", color_scheme="red", size="1", width="100%",
                                         data_testid="disabled-reason")),
        rx.cond((failing != "") & (reason == ""),
                rx.callout("Failing since " + failing + ". After 3 days of failures it is switched off.",
                           icon="triangle-alert", color_scheme="amber", size="1", width="100%",
                           data_testid="failing-since")),
    )


def _delivery_row(endpoint_id: rx.Var, d: rx.Var) -> rx.Component:
    status = d["status"].to(str)
    return rx.table.row(
        rx.table.row_header_cell(rx.vstack(rx.code(d["event_type"].to(str), variant="ghost"),
                                           rx.text(d["created"].to(str), size="1", color_scheme="gray"), spacing="0")),
        rx.table.cell(rx.badge(status, variant="soft", color_scheme=rx.match(status, *DELIVERY_COLORS, "gray"),
                               data_testid="delivery-status")),
        rx.table.cell(d["attempts"].to(str)),
        rx.table.cell(rx.tooltip(rx.text(rx.cond(d["response_status"].to(str) != "", d["response_status"].to(str), "—")),
                                 content=rx.cond(d["last_error"].to(str) != "", d["last_error"].to(str), "HTTP status"))),
        rx.table.cell(d["duration"].to(str)),
        rx.table.cell(rx.text(d["next_attempt"].to(str), size="1")),
        rx.table.cell(rx.button("Redeliver", size="1", variant="ghost", type="button",
                                on_click=S.redeliver(endpoint_id, d["id"].to(str)), aria_label="Redeliver"),
                      text_align="right"),
        align="center", data_testid="delivery", data_event_type=d["event_type"].to(str),
    )


def _deliveries(endpoint: rx.Var) -> rx.Component:
    endpoint_id = endpoint["id"].to(str)
    rows = endpoint["deliveries"].to(list[dict[str, str]])
    return rx.cond(
        endpoint["deliveries_open"].to(bool),
        rx.cond(
            rows.length() > 0,
            rx.box(rx.table.root(
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in
                                               ("Event", "Status", "Attempts", "Response", "Duration", "Next attempt", "")])),
                rx.table.body(rx.foreach(rows, lambda d: _delivery_row(endpoint_id, d))),
                variant="surface", size="1", width="100%", min_width="640px", aria_label="Deliveries",
            ), overflow_x="auto", width="100%"),
            rx.text("Nothing sent yet. Send a test ping to try the receiver.", size="2", color_scheme="gray"),
        ),
    )


def webhook_card(endpoint: rx.Var) -> rx.Component:
    endpoint_id = endpoint["id"].to(str)
    events = endpoint["events"].to(list[str])
    enabled = endpoint["enabled"].to(bool)
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.vstack(
                    rx.code(endpoint["url"].to(str), size="2", variant="ghost", style={"word-break": "break-all"},
                            data_testid="webhook-url"),
                    rx.text(endpoint["description"].to(str), size="2", color_scheme="gray"),
                    spacing="1", flex="1", min_width="0",
                ),
                rx.hstack(
                    rx.switch(checked=enabled, on_change=lambda value: S.set_enabled(endpoint_id, value),
                              aria_label="Webhook enabled"),
                    rx.text(rx.cond(enabled, "On", "Off"), size="2"),
                    align="center", spacing="2",
                ),
                align="start", spacing="4", width="100%",
            ),
            rx.hstack(
                rx.foreach(events, lambda e: rx.badge(e, variant="soft", data_testid="webhook-event")),
                rx.text("for " + endpoint["agent_name"].to(str), size="1", color_scheme="gray", data_testid="webhook-agent"),
                align="center", spacing="2", wrap="wrap",
            ),
            _health(endpoint),
            rx.hstack(
                _actions(endpoint),
                rx.spacer(),
                rx.button(rx.icon(rx.cond(endpoint["deliveries_open"].to(bool), "chevron-up", "chevron-down"), size=14),
                          "Recent deliveries", variant="ghost", size="2", type="button",
                          on_click=S.toggle_deliveries(endpoint_id), aria_label="Recent deliveries"),
                align="center", width="100%", wrap="wrap",
            ),
            _deliveries(endpoint),
            spacing="3", width="100%",
        ),
        size="2", width="100%", data_testid="webhook", data_webhook_url=endpoint["url"].to(str),
        opacity=rx.cond(enabled, "1", "0.75"),
    )
