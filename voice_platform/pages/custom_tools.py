"""``/custom-tools``: the organization's own tools, without code: MCP servers and HTTP tools.

Everyone in the organization sees the list; roles with ``tool:configure`` add, refresh,
delete and test. Once added, a custom tool is in every agent's tools page, attached and
switched function by function like the platform's own tools.
"""

from __future__ import annotations

import reflex as rx

from voice_platform.components import empty_state, error_callout, page_header, page_skeleton, signed_in_page, text_field
from voice_platform.components.custom_tool_card import custom_tool_card
from voice_platform.components.fields import field_error, select_field
from voice_platform.state.custom_tools import FORM_ERROR, METHODS, CustomToolsState

S = CustomToolsState
PARAMETERS_EXAMPLE = '{"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}'


def header_row(kind: str, row: rx.Var) -> rx.Component:
    """One name/value pair; the value is a password field and is never filled from the server."""
    suffix = row.to_string()
    return rx.hstack(
        rx.input(name=f"{kind}_header_name_" + suffix, placeholder="Authorization", aria_label="Header name",
                 size="2", width="40%"),
        rx.input(name=f"{kind}_header_value_" + suffix, type="password", placeholder="Bearer …", aria_label="Header value",
                 size="2", auto_complete="new-password", flex="1"),
        rx.icon_button(rx.icon("x", size=14), type="button", variant="ghost", color_scheme="gray",
                       on_click=S.remove_header_row(kind, row), aria_label="Remove header"),
        align="center", spacing="2", width="100%",
    )


def headers_editor(kind: str, rows: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.text("Headers", size="2", weight="medium"),
        rx.foreach(rows, lambda row: header_row(kind, row)),
        field_error(S.errors, f"{kind}_headers"),
        rx.hstack(
            rx.button(rx.icon("plus", size=14), "Add header", type="button", variant="ghost", size="1",
                      on_click=S.add_header_row(kind), aria_label="Add header"),
            rx.text("Values are stored encrypted and never shown again.", size="1", color_scheme="gray"),
            align="center", spacing="3",
        ),
        spacing="2", width="100%",
    )


def _submit(label: str, kind: str) -> rx.Component:
    return rx.hstack(
        rx.button(rx.icon("plus", size=16), label, type="submit", size="3", loading=S.busy == kind, aria_label=label),
        justify="end", width="100%",
    )


def mcp_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.text("The platform connects to the server, lists its tools and stores each as a function.",
                    size="2", color_scheme="gray"),
            rx.cond(S.errors.contains("mcp_" + FORM_ERROR), error_callout(S.errors["mcp_" + FORM_ERROR])),
            text_field("Server name", "mcp_name", S.errors, placeholder="Orders", required=True),
            text_field("Description", "mcp_description", S.errors, placeholder="Looks up orders and stock"),
            text_field("Server URL", "mcp_url", S.errors, placeholder="https://mcp.example.com/mcp", required=True,
                       hint="A streamable-HTTP MCP endpoint."),
            headers_editor("mcp", S.mcp_header_rows),
            _submit("Add MCP server", "mcp"),
            spacing="3", width="100%",
        ),
        on_submit=S.create_mcp, key=S.form_key, width="100%", aria_label="Add MCP server",
    )


def http_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.text("One function: the model fills its parameters, the platform makes the request.", size="2",
                    color_scheme="gray"),
            rx.cond(S.errors.contains("http_" + FORM_ERROR), error_callout(S.errors["http_" + FORM_ERROR])),
            text_field("Function name", "http_name", S.errors, placeholder="lookup_order", required=True),
            text_field("Description", "http_description", S.errors,
                       placeholder="Finds an order by its number; tells the caller its status"),
            rx.hstack(
                rx.box(select_field("Method", "http_method", S.errors, METHODS, S.http_method, S.set_http_method),
                       width="130px"),
                rx.box(text_field("URL template", "http_url", S.errors, required=True,
                                  placeholder="https://api.example.com/orders/{order_id}"), flex="1"),
                align="start", spacing="3", width="100%",
            ),
            text_field("Parameters (JSON Schema)", "http_parameters", S.errors, multiline=True,
                       default_value='{"type": "object", "properties": {}}', placeholder=PARAMETERS_EXAMPLE,
                       font_family="var(--code-font-family)",
                       hint="Parameters in {braces} go into the path; the others into the query (GET, DELETE) or the "
                            "JSON body."),
            rx.box(text_field("Timeout (seconds)", "http_timeout_seconds", S.errors, type="number", default_value="10",
                              min="1", max="30"), width="180px"),
            headers_editor("http", S.http_header_rows),
            _submit("Add HTTP tool", "http"),
            spacing="3", width="100%",
        ),
        on_submit=S.create_http, key=S.form_key, width="100%", aria_label="Add HTTP tool",
    )


def add_section() -> rx.Component:
    return rx.card(
        rx.tabs.root(
            rx.tabs.list(
                rx.tabs.trigger(rx.hstack(rx.icon("server", size=14), "Add MCP server", align="center", spacing="2"),
                                value="mcp"),
                rx.tabs.trigger(rx.hstack(rx.icon("globe", size=14), "Add HTTP tool", align="center", spacing="2"),
                                value="http"),
            ),
            rx.tabs.content(rx.box(mcp_form(), padding_top="16px"), value="mcp"),
            rx.tabs.content(rx.box(http_form(), padding_top="16px"), value="http"),
            default_value="mcp", width="100%",
        ),
        width="100%",
    )


def tools_list() -> rx.Component:
    return rx.cond(
        S.tools.length() > 0,
        rx.vstack(rx.foreach(S.tools, custom_tool_card), spacing="4", width="100%"),
        rx.card(empty_state("blocks", "No custom tools yet",
                            rx.cond(S.can_configure,
                                    "Add an MCP server or an HTTP endpoint of your own systems below.",
                                    "An organization admin can add MCP servers and HTTP tools here.")),
                width="100%"),
    )


def page() -> rx.Component:
    return signed_in_page(
        page_header("Custom tools", "Your own systems as tools for the agents of " + S.org_name),
        rx.cond(
            S.loading,
            rx.card(page_skeleton(3), width="100%"),
            rx.vstack(
                rx.cond(S.errors.contains(FORM_ERROR), error_callout(S.errors[FORM_ERROR])),
                rx.cond(~S.can_configure, rx.callout(
                    "You can see the organization's custom tools, but your role cannot change or test them.",
                    icon="lock", color_scheme="gray", variant="surface", width="100%", data_testid="read-only-notice")),
                tools_list(),
                rx.cond(S.can_configure, add_section()),
                spacing="4", width="100%",
            ),
        ),
    )
