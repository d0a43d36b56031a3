"""Labelled form fields with the service's validation message right under the control.

``errors`` is a state's ``dict[str, str]`` keyed by ``DomainError.field``; each
message gets an id so the control can point at it with ``aria-describedby``.
"""

from __future__ import annotations

import reflex as rx


def field_error(errors: rx.Var, name: str) -> rx.Component:
    return rx.cond(
        errors.contains(name),
        rx.hstack(
            rx.icon("circle-alert", size=14, flex_shrink="0"),
            rx.text(errors[name], size="1"),
            id=f"{name}-error",
            color=rx.color("red", 11),
            role="alert",
            align="center",
            spacing="1",
            data_testid=f"error-{name}",
        ),
    )


def form_field(label: str, name: str, control: rx.Component, errors: rx.Var, hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.text(label, as_="label", html_for=name, size="2", weight="medium"),
        control,
        field_error(errors, name),
        rx.text(hint, size="1", color_scheme="gray") if hint else rx.fragment(),
        spacing="1",
        width="100%",
        align="stretch",
    )


def text_field(
    label: str,
    name: str,
    errors: rx.Var,
    *,
    default_value: rx.Var | str = "",
    placeholder: str = "",
    type: str = "text",
    hint: str = "",
    multiline: bool = False,
    required: bool = False,
    **props,
) -> rx.Component:
    """Uncontrolled input: its value travels with the form's submit, not on every keystroke."""
    common = dict(
        id=name,
        name=name,
        default_value=default_value,
        placeholder=placeholder,
        aria_label=label,
        aria_describedby=f"{name}-error",
        aria_invalid=rx.cond(errors.contains(name), "true", "false"),
        required=required,
        width="100%",
        **props,
    )
    if multiline:
        control = rx.text_area(rows="5", resize="vertical", **common)
    else:
        control = rx.input(type=type, size="3", **common)
    return form_field(label, name, control, errors, hint)


def select_field(
    label: str, name: str, errors: rx.Var, options: list[str] | tuple[str, ...], value: rx.Var, on_change, hint: str = ""
) -> rx.Component:
    # Reflex quirk: the high-level rx.select puts aria-label/id on the Root, which
    # renders nothing; built from parts, the Trigger (role="combobox") carries them.
    control = rx.select.root(
        rx.select.trigger(id=name, aria_label=label, aria_describedby=f"{name}-error", width="100%"),
        rx.select.content(*[rx.select.item(option, value=option) for option in options]),
        value=value,
        on_change=on_change,
        name=name,
        size="3",
    )
    return form_field(label, name, control, errors, hint)
