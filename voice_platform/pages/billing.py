"""``/billing``: the plan, this period's minutes and overage, limits in use, usage per day,
the billing events, and (org admins) switching plan.

Everyone in the organization sees the page; only ``billing:manage`` (org admins) gets the
"Switch to …" buttons. The service refuses a switch whatever the browser sends; its refusal
(e.g. more agents than the new plan allows) is shown next to the plan cards and as a toast.
"""

from __future__ import annotations

import reflex as rx

from voice_platform.components import empty_state, error_callout, page_header, page_skeleton, signed_in_page
from voice_platform.components.pager import pager
from voice_platform.state.billing import BillingState

S = BillingState


def limit_line(icon: str, text: rx.Var) -> rx.Component:
    return rx.hstack(rx.icon(icon, size=14, color=rx.color("gray", 10)), rx.text(text, size="2"),
                     align="center", spacing="2")


def plan_limits(plan: rx.Var) -> rx.Component:
    return rx.vstack(
        limit_line("clock", plan["included"]),
        limit_line("trending-up", plan["overage"]),
        limit_line("octagon-minus", plan["cap"]),
        limit_line("phone-call", plan["concurrent"]),
        limit_line("bot", plan["agents"]),
        spacing="1",
    )


def stat(label: str, value: rx.Var, hint: rx.Var | str | None = None) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(label, size="2", color_scheme="gray"),
            rx.heading(value, size="6"),
            rx.text(hint, size="1", color_scheme="gray") if hint is not None else rx.fragment(),
            spacing="1",
        ),
        width="100%",
        data_testid="billing-" + label.lower().replace(" ", "-"),
    )


def current_plan() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.vstack(
                    rx.text("Current plan", size="2", color_scheme="gray"),
                    rx.heading(S.plan["name"], size="6", data_testid="current-plan-name"),
                    rx.text(S.plan["price"], size="3", weight="medium"),
                    spacing="1",
                ),
                rx.spacer(),
                rx.vstack(
                    rx.text("Current period", size="2", color_scheme="gray"),
                    rx.text(S.usage["period"], size="2", weight="medium", data_testid="billing-period"),
                    spacing="1", align="end",
                ),
                width="100%", align="start", wrap="wrap",
            ),
            plan_limits(S.plan),
            spacing="3", width="100%",
        ),
        width="100%",
        data_testid="current-plan",
    )


def minutes_meter() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text("Minutes this period", size="2", weight="medium"),
                rx.spacer(),
                rx.text(S.usage["minutes"], size="2", weight="medium", data_testid="minutes-used"),
                width="100%", align="center",
            ),
            rx.progress(value=S.used_percent, max=100, size="3",
                        color_scheme=rx.cond(S.over_included, "orange", "violet"),
                        aria_label="Minutes used of included minutes", data_testid="minutes-progress"),
            rx.cond(S.usage["cap_note"] != "", rx.text(S.usage["cap_note"], size="1", color_scheme="gray")),
            spacing="2", width="100%",
        ),
        width="100%",
    )


def usage_chart() -> rx.Component:
    return rx.card(
        rx.text("Minutes per day this period", size="2", weight="medium"),
        rx.recharts.bar_chart(
            rx.recharts.bar(data_key="minutes", fill=rx.color("accent", 9), name="Minutes", max_bar_size=48),
            rx.recharts.x_axis(data_key="day"),
            rx.recharts.y_axis(allow_decimals=False),
            rx.recharts.graphing_tooltip(),
            data=S.days,
            height=220,
            width="100%",
        ),
        width="100%",
        data_testid="usage-chart",
    )


def usage() -> rx.Component:
    return rx.vstack(
        rx.grid(current_plan(), minutes_meter(), columns=rx.breakpoints(initial="1", md="2"), spacing="3",
                width="100%"),
        rx.grid(
            stat("Overage so far", S.usage["overage"], S.usage["overage_minutes"]),
            stat("Projected overage", S.usage["projected_overage"], S.usage["projected_minutes"]),
            stat("Active calls", S.usage["calls"], "now, of the plan's concurrent calls"),
            stat("Agents", S.usage["agents"], "of the plan's agents"),
            columns=rx.breakpoints(initial="2", md="4"),
            spacing="3",
            width="100%",
        ),
        usage_chart(),
        spacing="3", width="100%",
    )


def switch_button(plan: rx.Var) -> rx.Component:
    name = plan["name"].to(str)
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(rx.button("Switch to " + name, variant="soft", width="100%",
                                          aria_label="Switch to " + name)),
        rx.alert_dialog.content(
            rx.alert_dialog.title("Switch to the " + name + " plan?"),
            rx.alert_dialog.description(
                "It applies at once: " + plan["price"].to(str) + ", " + plan["included"].to(str) + ", "
                + plan["concurrent"].to(str) + ", " + plan["agents"].to(str)
                + ". This period's minutes so far count against the new plan."
            ),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(rx.button("Switch", on_click=S.change_plan(plan["id"]),
                                                 aria_label="Confirm switch to " + name)),
                spacing="3", justify="end", margin_top="16px",
            ),
        ),
    )


def plan_card(plan: rx.Var) -> rx.Component:
    current = plan["current"] != ""
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(plan["name"], size="4"),
                rx.spacer(),
                rx.cond(current, rx.badge("Current plan", color_scheme="green", variant="soft")),
                width="100%", align="center",
            ),
            rx.text(plan["price"], size="3", weight="medium"),
            plan_limits(plan),
            rx.spacer(),
            rx.cond(S.can_manage_billing & ~current, switch_button(plan)),
            spacing="3", width="100%", height="100%",
        ),
        width="100%",
        variant=rx.cond(current, "classic", "surface"),
        border=rx.cond(current, f"2px solid {rx.color('accent', 8)}", "none"),
        data_testid="plan-card",
    )


def plans_section() -> rx.Component:
    return rx.vstack(
        rx.heading("Plans", size="4", weight="medium"),
        rx.cond(~S.can_manage_billing,
                rx.text("Only org admins change the plan.", size="2", color_scheme="gray")),
        rx.cond(S.plan_error != "", rx.box(error_callout(S.plan_error), width="100%", data_testid="plan-error")),
        rx.grid(rx.foreach(S.plan_choices, plan_card), columns=rx.breakpoints(initial="1", md="3"), spacing="3",
                width="100%"),
        spacing="3", width="100%",
    )


def event_row(event: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.text(event["when"], size="2")),
        rx.table.cell(rx.vstack(rx.text(event["type"], size="2", weight="medium"),
                                rx.text(event["detail"], size="1", color_scheme="gray"), spacing="0")),
        rx.table.cell(event["quantity"]),
        rx.table.cell(event["amount"]),
        rx.table.cell(rx.cond(event["call_href"] != "", rx.link("Open call", href=event["call_href"]))),
        align="center",
        data_testid="billing-event",
    )


def events_table() -> rx.Component:
    return rx.vstack(
        rx.heading("Billing events", size="4", weight="medium"),
        rx.card(
            rx.cond(
                S.events_total > 0,
                rx.fragment(
                    rx.box(rx.table.root(
                        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in
                                                       ("When", "Type", "Quantity", "Amount", "Call")])),
                        rx.table.body(rx.foreach(S.events, event_row)),
                        variant="ghost", size="2", width="100%", min_width="640px", aria_label="Billing events",
                    ), overflow_x="auto", width="100%"),
                    pager(S),
                ),
                empty_state("receipt", "No billing events yet",
                            "Metered calls, plan changes and new periods are listed here."),
            ),
            size="1", width="100%",
        ),
        spacing="3", width="100%",
    )


def page() -> rx.Component:
    return signed_in_page(
        page_header("Billing", "Plan and usage of " + S.org_name),
        rx.cond(
            S.loading,
            rx.card(page_skeleton(5), width="100%"),
            rx.cond(
                S.error != "",
                error_callout(S.error),
                rx.vstack(usage(), plans_section(), events_table(), spacing="5", width="100%"),
            ),
        ),
    )
