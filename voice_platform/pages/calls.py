"""``/calls`` and ``/calls/[call_id]``: the organization's calls and one call's conversation."""

from __future__ import annotations

import reflex as rx

from voice_platform.components.call_analysis_card import call_analysis_card, success_badge
from voice_platform.components.call_transfer_card import call_transfer_card
from voice_platform.components.pager import pager

from voice_platform.components import empty_state, error_callout, not_found_state, page_header, page_skeleton, signed_in_page
from voice_platform.state.call_detail import CallDetailState
from voice_platform.state.calls import ALL, CallsState

S = CallsState
D = CallDetailState
STATUS_COLORS = {"completed": "green", "failed": "red", "active": "blue", "pending": "amber"}


def status_badge(status: rx.Var) -> rx.Component:
    return rx.match(
        status,
        *[(name, rx.badge(name, color_scheme=color, variant="soft")) for name, color in STATUS_COLORS.items()],
        rx.badge(status, variant="soft"),
    )


def filters() -> rx.Component:
    return rx.hstack(
        rx.select.root(
            rx.select.trigger(aria_label="Agent filter", min_width="180px"),
            rx.select.content(rx.foreach(S.agent_options, lambda a: rx.select.item(a["name"], value=a["id"]))),
            value=S.agent_filter, on_change=S.set_agent_filter,
        ),
        rx.select.root(
            rx.select.trigger(aria_label="Status filter", min_width="140px"),
            rx.select.content(
                rx.select.item("Any status", value=ALL),
                *[rx.select.item(s.capitalize(), value=s) for s in STATUS_COLORS],
            ),
            value=S.status_filter, on_change=S.set_status_filter,
        ),
        rx.select.root(
            rx.select.trigger(aria_label="Success filter", min_width="150px"),
            rx.select.content(
                rx.select.item("Any outcome", value=ALL),
                rx.select.item("Successful", value="successful"),
                rx.select.item("Unsuccessful", value="unsuccessful"),
            ),
            value=S.success_filter, on_change=S.set_success_filter,
        ),
        rx.form(
            rx.hstack(
                rx.input(type="date", name="date_from", aria_label="From date", default_value=S.date_from),
                rx.input(type="date", name="date_to", aria_label="To date", default_value=S.date_to),
                rx.button("Apply", type="submit", variant="soft", aria_label="Apply dates"),
                spacing="2",
            ),
            on_submit=S.apply_dates,
        ),
        rx.spacer(),
        rx.button(rx.icon("download", size=14), "Export CSV", variant="soft", color_scheme="gray", type="button",
                  loading=S.exporting, on_click=S.export_csv, aria_label="Export CSV"),
        spacing="3",
        wrap="wrap",
        margin_bottom="16px",
        width="100%",
    )


def direction_icon(direction: rx.Var) -> rx.Component:
    """An arrow for who dialed: the caller (inbound) or the agent (outbound)."""
    return rx.match(
        direction,
        ("outbound", rx.tooltip(rx.icon("phone-outgoing", size=14, aria_label="Outbound", data_testid="direction-outbound"),
                                content="Outbound: the agent called")),
        ("inbound", rx.tooltip(rx.icon("phone-incoming", size=14, aria_label="Inbound", data_testid="direction-inbound"),
                               content="Inbound: they called the agent")),
        rx.fragment(),
    )


def call_row(call: rx.Var) -> rx.Component:
    href = "/calls/" + call["id"].to(str)
    return rx.table.row(
        rx.table.row_header_cell(rx.link(call["started"], href=href, aria_label="Open call " + call["started"].to(str))),
        rx.table.cell(call["agent"]),
        rx.table.cell(rx.hstack(direction_icon(call["direction"]), rx.code(call["caller"], variant="ghost"),
                                align="center", spacing="1")),
        rx.table.cell(call["duration"]),
        rx.table.cell(status_badge(call["status"])),
        rx.table.cell(rx.text(call["end_reason"], color_scheme="gray", size="2")),
        rx.table.cell(rx.vstack(
            success_badge(call["success"]),
            rx.text(call["summary_line"], size="1", color_scheme="gray", max_width="260px", trim="both",
                    data_testid="summary-line"),
            spacing="1",
        )),
        rx.table.cell(call["tool_calls"]),
        align="center",
        data_testid="call-row",
    )


def calls_table() -> rx.Component:
    return rx.card(
        rx.box(rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in
                                           ("Time", "Agent", "Caller", "Duration", "Status", "Ended", "Outcome", "Tool calls")])),
            rx.table.body(rx.foreach(S.calls, call_row)),
            variant="ghost", size="2", width="100%", min_width="880px", aria_label="Calls",
        ), overflow_x="auto", width="100%"),
        pager(S),
        size="1", width="100%",
    )


def page() -> rx.Component:
    return signed_in_page(
        page_header("Calls", "Calls and test chats of " + S.org_name),
        # No poller: the server pushes calls that start, change or end (CallsState.follow).
        filters(),
        rx.cond(
            S.loading,
            rx.card(page_skeleton(5), width="100%"),
            rx.cond(
                S.error != "",
                error_callout(S.error),
                rx.cond(
                    S.total > 0,
                    calls_table(),
                    rx.card(empty_state("phone-incoming", "No calls yet",
                                        "Calls to your agents' numbers and test chats appear here with their transcripts."),
                            width="100%"),
                ),
            ),
        ),
    )


def turn(t: rx.Var) -> rx.Component:
    mine = t["role"] == "assistant"
    return rx.hstack(
        rx.box(
            rx.text(rx.cond(mine, "Agent", rx.cond(t["role"] == "user", "Caller", "System")), " · ", t["at"],
                    size="1", color_scheme="gray"),
            rx.text(t["text"], size="2"),
            background=rx.cond(mine, rx.color("accent", 3), rx.color("gray", 3)),
            padding="8px 12px", border_radius="12px", max_width="75%",
        ),
        justify=rx.cond(mine, "start", "end"), width="100%", data_testid="turn",
    )


def invocation(i: rx.Var) -> rx.Component:
    return rx.card(
        rx.hstack(rx.code(i["name"]), rx.spacer(), rx.text(i["latency"], size="1", color_scheme="gray")),
        rx.text("Arguments: ", rx.code(i["arguments"], variant="ghost"), size="2"),
        rx.text(rx.cond(i["is_error"] != "", "Error: ", "Result: "), rx.code(i["outcome"], variant="ghost"), size="2",
                color_scheme=rx.cond(i["is_error"] != "", "red", "gray")),
        size="1", width="100%", data_testid="tool-invocation",
    )


def fact(label: str, value: rx.Var) -> rx.Component:
    return rx.vstack(rx.text(label, size="1", color_scheme="gray"), rx.text(value, size="2"), spacing="1")


def detail_page() -> rx.Component:
    c = D.call
    return signed_in_page(
        rx.cond(
            D.loading,
            rx.card(page_skeleton(6), width="100%"),
            rx.cond(
                D.not_found,
                not_found_state("call", back_href="/calls", back_label="Back to calls"),
                rx.vstack(
                    page_header("Call with " + c["caller"].to(str), c["started"].to(str), status_badge(c["status"]),
                                back_href="/calls", back_label="All calls"),
                    rx.card(rx.grid(
                        fact("Agent", c["agent"]), rx.cond(c["direction"] != "", fact("Direction", c["direction"])),
                        fact("From", c["from"]),
                        fact("To", c["to"]), fact("Duration", c["duration"]),
                        fact("Ended", c["end_reason"]), fact("Setup time", c["setup"]), fact("Kind", c["kind"]),
                        fact("Trace id", c["trace_id"]),
                        rx.cond(c["answered_by"] != "", fact("Answered by", c["answered_by"])),
                        columns=rx.breakpoints(initial="2", md="3"), spacing="4", width="100%"), width="100%"),
                    rx.cond(c["error"] != "", error_callout(c["error"])),
                    call_transfer_card(),
                    call_analysis_card(),
                    rx.cond(c["recording_url"] != "",
                            rx.card(rx.text("Recording", size="2", weight="medium"),
                                    rx.el.audio(src=c["recording_url"], controls=True, width="100%", aria_label="Call recording"), width="100%")),
                    rx.heading("Transcript", size="4"),
                    rx.cond(D.turns.length() > 0,
                            rx.card(rx.vstack(rx.foreach(D.turns, turn), spacing="2", width="100%"), width="100%"),
                            rx.text("Nothing was said on this call.", color_scheme="gray", size="2")),
                    rx.heading("Tool calls", size="4"),
                    rx.cond(D.invocations.length() > 0,
                            rx.vstack(rx.foreach(D.invocations, invocation), spacing="2", width="100%"),
                            rx.text("The agent called no tools.", color_scheme="gray", size="2")),
                    spacing="4", width="100%",
                ),
            ),
        ),
    )
