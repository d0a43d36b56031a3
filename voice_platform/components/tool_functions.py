"""Function cards: what the model may call, with its parameters, and a switch per function.

The switch is Radix's ``role="switch"`` button; its accessible name is
"Enable function <name>" so screen readers (and tests) find it by name. Nothing
around it changes size when it flips, so the page never jumps.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from voice_platform.state.agent_tools import AgentToolsState as S

ROW = dict[str, Any]


def _param_row(param: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(param["name"].to(str), variant="ghost", size="1")),
        rx.table.cell(rx.text(param["type"].to(str), size="1", color_scheme="gray")),
        rx.table.cell(
            rx.cond(param["required"].to(bool), rx.badge("required", color_scheme="orange", variant="soft", size="1"),
                    rx.text("optional", size="1", color_scheme="gray")),
        ),
        rx.table.cell(rx.text(param["default"].to(str), size="1", font_family="var(--code-font-family)")),
        rx.table.cell(rx.text(param["description"].to(str), size="1")),
    )


def parameters_table(fn: rx.Var) -> rx.Component:
    params = fn["parameters"].to(list[ROW])
    return rx.cond(
        params.length() > 0,
        rx.box(
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[rx.table.column_header_cell(rx.text(h, size="1", weight="medium"))
                          for h in ("Parameter", "Type", "Required", "Default", "Description")],
                    ),
                ),
                rx.table.body(rx.foreach(params, _param_row)),
                size="1",
                variant="ghost",
                width="100%",
            ),
            overflow_x="auto",
            width="100%",
        ),
        rx.text("Takes no parameters.", size="1", color_scheme="gray"),
    )


def function_switch(tool: rx.Var, fn: rx.Var, editable: rx.Var) -> rx.Component:
    name = fn["name"].to(str)
    return rx.switch(
        checked=fn["enabled"].to(bool),
        on_change=lambda checked: S.set_function(tool["name"].to(str), name, checked),
        disabled=~editable,
        aria_label="Enable function " + name,
        size="2",
        data_testid="function-switch",
    )


def function_card(tool: rx.Var, fn: rx.Var, editable: rx.Var) -> rx.Component:
    name = fn["name"].to(str)
    key = tool["name"].to(str) + "/" + name
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.vstack(
                    rx.hstack(
                        rx.icon("square-function", size=16, color=rx.color("accent", 10), flex_shrink="0"),
                        rx.code(name, size="2", weight="medium", variant="ghost"),
                        align="center",
                        spacing="2",
                    ),
                    rx.text(fn["description"].to(str), size="2", color_scheme="gray"),
                    rx.text("Last 7 days: ", fn["usage_7"].to(str), "  ·  30 days: ", fn["usage_30"].to(str),
                            size="1", color_scheme="gray", data_testid="function-usage"),
                    spacing="1",
                    flex="1",
                    min_width="0",
                ),
                rx.box(function_switch(tool, fn, editable), flex_shrink="0", padding_top="2px"),
                align="start",
                justify="between",
                spacing="4",
                width="100%",
            ),
            parameters_table(fn),
            spacing="3",
            width="100%",
        ),
        width="100%",
        size="2",
        opacity=rx.cond(fn["enabled"].to(bool), "1", "0.62"),
        transition="opacity 120ms ease",
        data_function=name,
        data_enabled=rx.cond(fn["enabled"].to(bool), "true", "false"),
        data_saving=rx.cond(S.saving == key, "true", "false"),
    )


def functions_section(tool: rx.Var) -> rx.Component:
    functions = tool["functions"].to(list[ROW])
    editable = S.can_configure & tool["attached"].to(bool) & tool["is_enabled"].to(bool)
    total = functions.length().to_string()
    enabled = tool["enabled_count"].to(int).to_string()
    return rx.vstack(
        rx.hstack(
            rx.heading("Available functions (" + total + " total, " + enabled + " enabled)", size="3", weight="medium",
                       data_testid="functions-heading"),
            rx.spacer(),
            rx.cond(
                ~tool["attached"].to(bool),
                rx.text("Attach the tool to choose its functions.", size="1", color_scheme="gray"),
                rx.cond(
                    ~tool["is_enabled"].to(bool),
                    rx.text("Switch the tool on to choose its functions.", size="1", color_scheme="gray"),
                    rx.cond(~S.can_configure, rx.text("Read-only: your role cannot change tools.", size="1", color_scheme="gray")),
                ),
            ),
            align="center",
            width="100%",
            wrap="wrap",
        ),
        rx.text("Switched off, a function is hidden from the model during calls.", size="1", color_scheme="gray"),
        rx.grid(
            rx.foreach(functions, lambda fn: function_card(tool, fn, editable)),
            columns="1",
            spacing="3",
            width="100%",
        ),
        spacing="2",
        width="100%",
    )
