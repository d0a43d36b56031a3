"""One platform tool on an agent's tools page: attach/detach, on/off, account, settings, functions."""

from __future__ import annotations

import reflex as rx

from voice_platform.components.tool_config_form import config_form
from voice_platform.components.tool_functions import functions_section
from voice_platform.state.agent_tools import AgentToolsState as S


def _detach_button(tool: rx.Var) -> rx.Component:
    title = tool["title"].to(str)
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(
            rx.button(rx.icon("unplug", size=14), "Detach", variant="soft", color_scheme="red", size="2",
                      disabled=~S.can_configure, aria_label="Detach " + title),
        ),
        rx.alert_dialog.content(
            rx.alert_dialog.title("Detach " + title + "?"),
            rx.alert_dialog.description(
                "The agent stops using " + title + " on its next call. Its settings, stored secrets and connected "
                "account are deleted.",
            ),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray", aria_label="Cancel")),
                rx.alert_dialog.action(
                    rx.button("Detach", color_scheme="red", aria_label="Confirm detach",
                              on_click=S.detach(tool["name"].to(str))),
                ),
                spacing="3",
                justify="end",
                margin_top="16px",
            ),
            max_width="440px",
        ),
    )


def _header(tool: rx.Var) -> rx.Component:
    attached = tool["attached"].to(bool)
    title = tool["title"].to(str)
    return rx.hstack(
        rx.center(
            rx.icon(rx.cond(tool["requires_oauth"].to(bool), "calendar-days", "wrench"), size=20, color=rx.color("accent", 11)),
            background=rx.color("accent", 3),
            border_radius="10px",
            width="40px",
            height="40px",
            flex_shrink="0",
        ),
        rx.vstack(
            rx.hstack(
                rx.heading(title, size="4", weight="bold"),
                rx.cond(
                    attached,
                    rx.cond(
                        tool["is_enabled"].to(bool),
                        rx.badge("Attached · on", color_scheme="green", variant="soft"),
                        rx.badge("Attached · off", color_scheme="amber", variant="soft"),
                    ),
                    rx.badge("Not attached", color_scheme="gray", variant="soft"),
                ),
                align="center",
                spacing="2",
                wrap="wrap",
            ),
            rx.text(tool["description"].to(str), size="2", color_scheme="gray"),
            spacing="1",
            flex="1",
            min_width="0",
        ),
        rx.cond(
            attached,
            rx.hstack(
                rx.hstack(
                    rx.text("Enabled", size="2", color_scheme="gray"),
                    rx.switch(
                        checked=tool["is_enabled"].to(bool),
                        on_change=lambda v: S.set_tool_enabled(tool["name"].to(str), v),
                        disabled=~S.can_configure,
                        aria_label="Enable tool " + title,
                    ),
                    align="center",
                    spacing="2",
                ),
                _detach_button(tool),
                align="center",
                spacing="4",
            ),
            rx.button(rx.icon("plus", size=14), "Attach", size="2", disabled=~S.can_configure,
                      on_click=S.attach(tool["name"].to(str)), aria_label="Attach " + title),
        ),
        align="start",
        spacing="4",
        width="100%",
        wrap="wrap",
    )


def _connection(tool: rx.Var) -> rx.Component:
    """Google account row: connected account + Disconnect, or Connect (disabled without a client)."""
    title = tool["title"].to(str)
    return rx.cond(
        tool["requires_oauth"].to(bool),
        rx.box(
            rx.cond(
                tool["connected"].to(bool),
                rx.hstack(
                    rx.icon("circle-check", size=18, color=rx.color("green", 10)),
                    rx.vstack(
                        rx.text("Connected account", size="1", color_scheme="gray"),
                        rx.text(rx.cond(tool["connected_account"].to(str) != "", tool["connected_account"].to(str), "Connected"),
                                size="2", weight="medium", data_testid="connected-account"),
                        spacing="0",
                    ),
                    rx.spacer(),
                    rx.button(rx.icon("log-out", size=14), "Disconnect", variant="soft", color_scheme="gray", size="2",
                              disabled=~S.can_configure, on_click=S.disconnect(tool["name"].to(str)),
                              aria_label="Disconnect " + title),
                    align="center",
                    spacing="3",
                    width="100%",
                ),
                rx.hstack(
                    rx.icon("link-2", size=18, color=rx.color("gray", 10)),
                    rx.vstack(
                        rx.text("No account connected", size="2", weight="medium"),
                        rx.cond(
                            S.oauth_configured,
                            rx.text("The agent needs access to a calendar to check availability and book.", size="1",
                                    color_scheme="gray"),
                            rx.text(S.google_settings_hint, size="1", color_scheme="amber", data_testid="oauth-not-configured"),
                        ),
                        spacing="0",
                    ),
                    rx.spacer(),
                    rx.button(rx.icon("calendar-plus", size=14), "Connect " + title, size="2",
                              disabled=~(S.oauth_configured & S.can_configure),
                              on_click=S.connect(tool["name"].to(str)), aria_label="Connect " + title),
                    align="center",
                    spacing="3",
                    width="100%",
                    wrap="wrap",
                ),
            ),
            padding="12px 16px",
            border_radius="10px",
            border=f"1px solid {rx.color('gray', 5)}",
            background=rx.color("gray", 2),
            width="100%",
        ),
    )


def tool_card(tool: rx.Var) -> rx.Component:
    return rx.card(
        rx.vstack(
            _header(tool),
            _connection(tool),
            # A tool without settings (most custom tools) draws no empty settings block.
            rx.cond(tool["attached"].to(bool) & (tool["fields"].to(list[dict]).length() > 0),
                    rx.box(rx.separator(size="4"), config_form(tool), width="100%",
                           style={"& > form": {"marginTop": "20px"}})),
            rx.separator(size="4"),
            functions_section(tool),
            spacing="5",
            width="100%",
        ),
        size="3",
        width="100%",
        data_tool=tool["name"].to(str),
    )


def tool_card_skeleton() -> rx.Component:
    """Same outline as a loaded card, so nothing moves when the data arrives."""
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.skeleton(rx.box(width="40px", height="40px"), loading=True),
                rx.vstack(rx.skeleton(rx.box(width="220px", height="22px"), loading=True),
                          rx.skeleton(rx.box(width="360px", height="16px"), loading=True), spacing="2"),
                spacing="4",
                width="100%",
            ),
            rx.skeleton(rx.box(width="100%", height="56px"), loading=True),
            rx.skeleton(rx.box(width="260px", height="20px"), loading=True),
            rx.grid(*[rx.skeleton(rx.box(width="100%", height="150px"), loading=True) for _ in range(4)],
                    columns="1", spacing="3", width="100%"),
            spacing="5",
            width="100%",
        ),
        size="3",
        width="100%",
        data_testid="tools-skeleton",
    )
