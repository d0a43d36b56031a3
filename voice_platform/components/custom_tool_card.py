"""One custom tool on ``/custom-tools``: what it calls, its functions, Refresh, Delete and the Test panel.

Header values never reach the browser: the card shows which header names are set, nothing more.
Write controls (Refresh, Delete, Test) are drawn only for roles with ``tool:configure``; the
services refuse the events anyway.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from voice_platform.state.custom_tools import CustomToolsState as S

ROW = dict[str, Any]


def _is_mcp(tool: rx.Var) -> rx.Var:
    return tool["kind"].to(str) == "mcp"


def kind_badge(tool: rx.Var) -> rx.Component:
    return rx.badge(rx.cond(_is_mcp(tool), "MCP", "HTTP"), color_scheme=rx.cond(_is_mcp(tool), "violet", "blue"),
                    variant="soft", data_testid="kind-badge")


def _delete_button(tool: rx.Var) -> rx.Component:
    name = tool["name"].to(str)
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(rx.button(rx.icon("trash-2", size=14), "Delete", variant="soft", color_scheme="red",
                                          size="2", aria_label="Delete " + name)),
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete " + name + "?"),
            rx.alert_dialog.description("Every agent using it stops at its next call: the tool is detached from all "
                                        "of them, with its function switches. Its stored headers are deleted."),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(rx.button("Delete", color_scheme="red", on_click=S.delete_tool(tool["id"].to(str)),
                                                 aria_label="Confirm delete")),
                spacing="3", justify="end", margin_top="16px",
            ),
            max_width="440px",
        ),
    )


def _actions(tool: rx.Var) -> rx.Component:
    name = tool["name"].to(str)
    return rx.cond(
        S.can_configure,
        rx.hstack(
            rx.cond(_is_mcp(tool), rx.button(
                rx.icon("refresh-cw", size=14), "Refresh", variant="soft", size="2",
                loading=S.busy == tool["id"].to(str), on_click=S.refresh_tool(tool["id"].to(str)),
                aria_label="Refresh " + name,
            )),
            _delete_button(tool),
            spacing="2", align="center",
        ),
    )


def _header(tool: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.center(rx.icon(rx.cond(_is_mcp(tool), "server", "globe"), size=20, color=rx.color("accent", 11)),
                  background=rx.color("accent", 3), border_radius="10px", width="40px", height="40px", flex_shrink="0"),
        rx.vstack(
            rx.hstack(rx.heading(tool["name"].to(str), size="4", weight="bold"), kind_badge(tool), align="center",
                      spacing="2", wrap="wrap"),
            rx.text(tool["description"].to(str), size="2", color_scheme="gray"),
            spacing="1", flex="1", min_width="0",
        ),
        _actions(tool),
        align="start", spacing="4", width="100%", wrap="wrap",
    )


def _details(tool: rx.Var) -> rx.Component:
    headers = tool["headers_set"].to(str)
    return rx.vstack(
        rx.hstack(
            rx.cond(~_is_mcp(tool), rx.badge(tool["method"].to(str), variant="outline", size="1")),
            rx.code(tool["url"].to(str), size="2", variant="ghost", style={"word-break": "break-all"},
                    data_testid="custom-tool-url"),
            align="center", spacing="2",
        ),
        rx.hstack(
            rx.text(rx.cond(headers != "", "Headers set: " + headers, "No headers"), size="1", color_scheme="gray",
                    data_testid="headers-set"),
            rx.cond(~_is_mcp(tool), rx.text("Timeout " + tool["timeout"].to(str) + " s", size="1", color_scheme="gray")),
            spacing="4", wrap="wrap",
        ),
        spacing="1", width="100%",
    )


def _function_row(fn: rx.Var) -> rx.Component:
    params = fn["parameter_names"].to(str)
    return rx.hstack(
        rx.icon("square-function", size=16, color=rx.color("accent", 10), flex_shrink="0", margin_top="2px"),
        rx.vstack(
            rx.code(fn["name"].to(str), size="2", weight="medium", variant="ghost"),
            rx.text(fn["description"].to(str), size="1", color_scheme="gray"),
            rx.cond(params != "", rx.text("Parameters: " + params, size="1", color_scheme="gray")),
            spacing="0", min_width="0",
        ),
        align="start", spacing="2", width="100%",
        data_function=fn["name"].to(str),
    )


def _functions(tool: rx.Var) -> rx.Component:
    functions = tool["functions"].to(list[ROW])
    return rx.vstack(
        rx.text("Functions (" + functions.length().to_string() + ")", size="2", weight="medium",
                data_testid="functions-count"),
        rx.cond(
            functions.length() > 0,
            rx.grid(rx.foreach(functions, _function_row), columns=rx.breakpoints(initial="1", md="2"), spacing="3",
                    width="100%"),
            rx.text("This server lists no tools.", size="1", color_scheme="gray"),
        ),
        spacing="2", width="100%",
    )


def _function_picker(tool: rx.Var) -> rx.Component:
    name = tool["name"].to(str)
    return rx.select.root(
        rx.select.trigger(aria_label="Function to test in " + name, min_width="200px"),
        rx.select.content(rx.foreach(tool["functions"].to(list[ROW]),
                                     lambda fn: rx.select.item(fn["name"].to(str), value=fn["name"].to(str)))),
        value=tool["test_function"].to(str),
        on_change=lambda value: S.pick_test_function(tool["id"].to(str), value),
        size="2",
    )


def _test_result(tool: rx.Var) -> rx.Component:
    failed = tool["test_is_error"].to(bool)
    return rx.cond(
        tool["test_ran"].to(bool),
        rx.vstack(
            rx.hstack(
                rx.badge(rx.cond(failed, "Error", "OK"), color_scheme=rx.cond(failed, "red", "green"), variant="soft",
                         data_testid="test-status"),
                rx.text(tool["test_duration"].to(str) + " ms", size="1", color_scheme="gray", data_testid="test-duration"),
                align="center", spacing="2",
            ),
            rx.el.pre(tool["test_output"].to(str), data_testid="test-output",
                      style={"font_size": "12px", "white_space": "pre-wrap", "word_break": "break-all", "margin": "0",
                             "padding": "12px", "border_radius": "8px", "max_height": "320px", "overflow": "auto",
                             "background": rx.color("gray", 3), "width": "100%"}),
            spacing="2", width="100%",
        ),
    )


def test_panel(tool: rx.Var) -> rx.Component:
    name = tool["name"].to(str)
    return rx.box(
        rx.form(
            rx.vstack(
                rx.hstack(rx.icon("flask-conical", size=16), rx.text("Test a function", size="2", weight="medium"),
                          align="center", spacing="2"),
                rx.el.input(type="hidden", name="tool_id", value=tool["id"].to(str)),
                rx.hstack(
                    _function_picker(tool),
                    rx.button(rx.icon("play", size=14), "Run", type="submit", size="2",
                              loading=tool["test_running"].to(bool), aria_label="Run test of " + name),
                    align="center", spacing="3", wrap="wrap",
                ),
                rx.text_area(name="arguments", default_value="{}", rows="3", resize="vertical", width="100%",
                             font_family="var(--code-font-family)", aria_label="Test arguments for " + name,
                             placeholder='{"order_id": "A-1"}'),
                rx.cond(tool["test_error"].to(str) != "",
                        rx.text(tool["test_error"].to(str), size="1", color=rx.color("red", 11), role="alert",
                                data_testid="test-error")),
                _test_result(tool),
                spacing="2", width="100%",
            ),
            on_submit=S.run_test, width="100%", aria_label="Test " + name,
        ),
        padding="12px 16px", border_radius="10px", border=f"1px solid {rx.color('gray', 5)}",
        background=rx.color("gray", 2), width="100%",
    )


def custom_tool_card(tool: rx.Var) -> rx.Component:
    return rx.card(
        rx.vstack(
            _header(tool),
            _details(tool),
            rx.separator(size="4"),
            _functions(tool),
            rx.cond(S.can_configure & (tool["functions"].to(list[ROW]).length() > 0), test_panel(tool)),
            spacing="4", width="100%",
        ),
        size="3", width="100%",
        data_custom_tool=tool["name"].to(str),
        data_testid="custom-tool",
    )
