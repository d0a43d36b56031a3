"""``/overview``: calls today and this week, minutes, busiest agents, tool errors, calls per day."""

from __future__ import annotations

import reflex as rx

from voice_platform.components import error_callout, page_header, page_skeleton, signed_in_page
from voice_platform.state.overview import OverviewState

S = OverviewState


def stat(label: str, value: rx.Var, hint: rx.Var | str | None = None) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(label, size="2", color_scheme="gray"),
            rx.heading(value, size="7"),
            rx.text(hint, size="1", color_scheme="gray") if hint is not None else rx.fragment(),
            spacing="1",
        ),
        width="100%",
        data_testid="stat-" + label.lower().replace(" ", "-"),
    )


def chart() -> rx.Component:
    return rx.card(
        rx.text("Calls per day (last 14 days)", size="2", weight="medium"),
        rx.recharts.bar_chart(
            rx.recharts.bar(data_key="calls", fill=rx.color("accent", 9), name="Calls"),
            rx.recharts.x_axis(data_key="day"),
            rx.recharts.y_axis(allow_decimals=False),
            rx.recharts.graphing_tooltip(),
            data=S.per_day,
            height=240,
            width="100%",
        ),
        width="100%",
        data_testid="calls-chart",
    )


def busiest() -> rx.Component:
    return rx.card(
        rx.text("Busiest agents (7 days)", size="2", weight="medium"),
        rx.cond(
            S.busiest.length() > 0,
            rx.vstack(rx.foreach(S.busiest, lambda a: rx.hstack(rx.text(a["agent"]), rx.spacer(), rx.badge(a["calls"]),
                                                                width="100%", data_testid="busy-agent")),
                      spacing="2", width="100%", margin_top="8px"),
            rx.text("No calls this week.", size="2", color_scheme="gray"),
        ),
        width="100%",
    )


def content() -> rx.Component:
    return rx.vstack(
        rx.grid(
            stat("Calls today", S.stats["today"]),
            stat("Calls this week", S.stats["week"], "last 7 days"),
            stat("Minutes this week", S.stats["minutes"]),
            stat("Failed calls", S.stats["failed"], "last 7 days"),
            stat("Tool error rate", S.stats["tool_errors"], S.stats["tool_calls"].to(str) + " tool calls"),
            columns=rx.breakpoints(initial="2", md="5"),
            spacing="3",
            width="100%",
        ),
        rx.grid(chart(), busiest(), columns=rx.breakpoints(initial="1", md="2"), spacing="3", width="100%"),
        rx.text("Days are counted in the organization's time zone (" + S.stats["timezone"].to(str) + "). "
                "Test chats are not counted.", size="1", color_scheme="gray"),
        spacing="4",
        width="100%",
    )


def page() -> rx.Component:
    return signed_in_page(
        page_header("Overview", "How the agents of " + S.org_name + " are doing"),
        rx.cond(S.loading, rx.card(page_skeleton(4), width="100%"),
                rx.cond(S.error != "", error_callout(S.error), content())),
    )
