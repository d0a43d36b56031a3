"""The agent page's "Call a number" card: the agent calls someone now (``OutboundCallState``).

Its own form, next to the agent form (forms do not nest). Variables are name/value rows, filled
into the ``{{placeholders}}`` of the agent's prompt, greeting and voicemail message for this call.
A refusal shows as a callout with the service's words; a placed call links to its call page.
"""

from __future__ import annotations

import reflex as rx

from voice_platform.state.outbound_call import FORM_ERROR, OutboundCallState as S


def _variable_row(row: rx.Var) -> rx.Component:
    suffix = row.to_string()
    return rx.hstack(
        rx.input(name="variable_name_" + suffix, placeholder="name", aria_label="Variable name", size="2", width="40%",
                 font_family="var(--code-font-family)"),
        rx.input(name="variable_value_" + suffix, placeholder="Ada", aria_label="Variable value", size="2", flex="1"),
        rx.icon_button(rx.icon("x", size=14), type="button", variant="ghost", color_scheme="gray",
                       on_click=S.remove_variable_row(row), aria_label="Remove variable"),
        align="center", spacing="2", width="100%", key=suffix,
    )


def _error() -> rx.Component:
    message = rx.cond(S.call_errors.contains("to"), S.call_errors["to"],
                      rx.cond(S.call_errors.contains("variables"), S.call_errors["variables"],
                              S.call_errors[FORM_ERROR]))
    return rx.cond(S.call_errors.length() > 0,
                   rx.callout(message, icon="triangle-alert", color_scheme="red", role="alert", width="100%",
                              data_testid="call-error"))


def _placed() -> rx.Component:
    return rx.cond(
        S.placed_call_id != "",
        rx.callout(
            rx.hstack(
                rx.text("Calling ", S.placed_to, ". "),
                rx.link("Open the call", href="/calls/" + S.placed_call_id, weight="medium", data_testid="placed-call-link"),
                spacing="1", wrap="wrap",
            ),
            icon="phone-outgoing", color_scheme="green", role="status", width="100%",
        ),
    )


def outbound_call_card() -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.hstack(rx.icon("phone-outgoing", size=18), rx.heading("Call a number", size="3", weight="medium"),
                          align="center", spacing="2"),
                rx.text("The agent calls from its own number and speaks first when someone answers. Voicemail is "
                        "handled as set under Outbound calls above.", size="2", color_scheme="gray"),
                rx.input(name="call_to", placeholder="+14155550100", aria_label="Number to call", size="3",
                         width="100%", auto_complete="off",
                         aria_invalid=rx.cond(S.call_errors.contains("to"), "true", "false")),
                rx.text("Variables", size="2", weight="medium"),
                rx.foreach(S.variable_rows, _variable_row),
                rx.hstack(
                    rx.button(rx.icon("plus", size=14), "Add variable", type="button", variant="ghost", size="1",
                              on_click=S.add_variable_row, aria_label="Add variable"),
                    rx.text("Filled into {{name}}-style placeholders of the prompt, greeting and voicemail message.",
                            size="1", color_scheme="gray"),
                    align="center", spacing="3", wrap="wrap",
                ),
                _error(),
                _placed(),
                rx.hstack(
                    rx.button(rx.icon("phone-outgoing", size=16), "Call now", type="submit", size="3",
                              loading=S.placing, aria_label="Call now"),
                    justify="end", width="100%",
                ),
                spacing="3", width="100%",
            ),
            on_submit=S.place, key=S.form_key, width="100%", aria_label="Call a number",
        ),
        size="3", width="100%", data_testid="outbound-call-card",
    )
