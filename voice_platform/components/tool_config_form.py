"""A tool's settings form, generated from its ``config_schema``.

Kinds (decided in ``state.agent_tools.config_fields``): string → text input,
enum → select, integer → number input, boolean → switch, time of day → time
input, secret → write-only password input that only says "set" / "not set".
Inputs are uncontrolled; the whole form travels on submit and the service
validates it exactly as for the API. Its message lands under the field it names.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from voice_platform.state.agent_tools import TOOL_KEY, AgentToolsState as S

ROW = dict[str, Any]


def _label(tool: rx.Var, field: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.el.label(
            field["label"].to(str),
            html_for=tool["name"].to(str) + "-" + field["name"].to(str),
            style={"fontSize": "var(--font-size-2)", "fontWeight": "500"},
        ),
        rx.cond(field["required"].to(bool), rx.text("*", color=rx.color("red", 10), size="2", aria_hidden="true")),
        rx.cond(
            field["kind"].to(str) == "secret",
            rx.cond(
                field["is_set"].to(bool),
                rx.badge("set", color_scheme="green", variant="soft", size="1"),
                rx.badge("not set", color_scheme="gray", variant="soft", size="1"),
            ),
        ),
        spacing="1",
        align="center",
    )


def _control(tool: rx.Var, field: rx.Var, editable: rx.Var) -> rx.Component:
    name = field["name"].to(str)
    control_id = tool["name"].to(str) + "-" + name
    value = field["value"].to(str)
    invalid = rx.cond(field["error"].to(str) != "", "true", "false")
    common = dict(
        id=control_id, name=name, disabled=~editable, aria_invalid=invalid,
        aria_describedby=control_id + "-error", width="100%", size="2",
    )
    return rx.match(
        field["kind"].to(str),
        ("select", rx.select.root(
            rx.select.trigger(width="100%", id=control_id, aria_label=field["label"].to(str)),
            rx.select.content(rx.foreach(field["options"].to(list[str]), lambda o: rx.select.item(o, value=o))),
            name=name, default_value=value, disabled=~editable, size="2",
        )),
        ("integer", rx.input(type="number", default_value=value, min=field["minimum"].to(str),
                             max=field["maximum"].to(str), step="1", **common)),
        ("boolean", rx.switch(name=name, id=control_id, default_checked=value == "true", disabled=~editable,
                              aria_label=field["label"].to(str))),
        ("time", rx.input(type="time", default_value=value, **common)),
        ("secret", rx.input(type="password", default_value="", autocomplete="new-password",
                            placeholder=rx.cond(field["is_set"].to(bool), "•••••••• (type to replace)", "Not set"), **common)),
        rx.input(type="text", default_value=value, **common),
    )


def config_field(tool: rx.Var, field: rx.Var, editable: rx.Var) -> rx.Component:
    control_id = tool["name"].to(str) + "-" + field["name"].to(str)
    error = field["error"].to(str)
    return rx.vstack(
        _label(tool, field),
        _control(tool, field, editable),
        rx.cond(
            error != "",
            rx.hstack(
                rx.icon("circle-alert", size=14, flex_shrink="0"),
                rx.text(error, size="1"),
                id=control_id + "-error",
                color=rx.color("red", 11),
                role="alert",
                align="center",
                spacing="1",
                data_testid="field-error-" + field["name"].to(str),
            ),
        ),
        rx.cond(field["description"].to(str) != "", rx.text(field["description"].to(str), size="1", color_scheme="gray")),
        spacing="1",
        width="100%",
        align="stretch",
        data_field=field["name"].to(str),
    )


def config_form(tool: rx.Var) -> rx.Component:
    fields = tool["fields"].to(list[ROW])
    editable = S.can_configure & tool["attached"].to(bool)
    return rx.cond(
        fields.length() > 0,
        rx.form(
            rx.el.input(type="hidden", name=TOOL_KEY, value=tool["name"].to(str)),
            rx.vstack(
                rx.heading("Settings", size="3", weight="medium"),
                rx.grid(
                    rx.foreach(fields, lambda f: config_field(tool, f, editable)),
                    columns=rx.breakpoints(initial="1", sm="2"),
                    spacing="4",
                    width="100%",
                ),
                rx.hstack(
                    rx.cond(tool["has_required"].to(bool),
                            rx.text(rx.text.span("*", color=rx.color("red", 10)), " required", size="1", color_scheme="gray")),
                    rx.spacer(),
                    rx.button("Save settings", type="submit", size="2", disabled=~editable,
                              aria_label="Save " + tool["title"].to(str) + " settings"),
                    align="center",
                    width="100%",
                ),
                spacing="3",
                width="100%",
            ),
            # Reflex 0.10 hoists a form's submit handler out of rx.foreach, where the loop
            # variable does not exist: the tool's name travels in the form instead.
            on_submit=S.save_config,
            no_validate=True,  # the service is the judge; its message shows under the field
            key=tool["name"].to(str) + "-" + S.form_key.to_string(),
            width="100%",
            aria_label=tool["title"].to(str) + " settings",
        ),
    )
