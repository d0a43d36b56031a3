"""The "Test your agent" panel: the conversation, each tool call with its arguments and result, a reset."""

from __future__ import annotations

import reflex as rx

from voice_platform.state.test_chat import TestChatState as C


def _bubble(message: dict) -> rx.Component:
    is_user = message["role"] == "user"
    return rx.hstack(
        rx.box(
            rx.text(message["text"], size="2", white_space="pre-wrap"),
            background=rx.cond(is_user, rx.color("accent", 3), rx.color("gray", 3)),
            padding_x="12px", padding_y="8px", border_radius="12px", max_width="80%",
        ),
        justify=rx.cond(is_user, "end", "start"),
        width="100%",
        data_testid=rx.cond(is_user, "chat-user", "chat-agent"),
    )


def _tool_call(message: dict) -> rx.Component:
    failed = message["is_error"] != ""
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.icon(rx.cond(failed, "circle-alert", "wrench"), size=14),
                rx.code(message["name"]),
                rx.badge(rx.cond(failed, "error", "ok"), color_scheme=rx.cond(failed, "red", "green"), variant="soft"),
                align="center", spacing="2",
            ),
            rx.text("Arguments", size="1", color_scheme="gray"),
            rx.code(message["arguments"], size="1", white_space="pre-wrap", word_break="break-all"),
            rx.text(rx.cond(failed, "Error", "Result"), size="1", color_scheme="gray"),
            rx.code(message["output"], size="1", white_space="pre-wrap", word_break="break-all",
                    color_scheme=rx.cond(failed, "red", "gray")),
            spacing="1", width="100%",
        ),
        size="1", width="100%", data_testid="chat-tool-call",
    )


def _entry(message: dict) -> rx.Component:
    return rx.cond(message["role"] == "tool", _tool_call(message), _bubble(message))


def test_chat_panel() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.vstack(
                    rx.heading("Test your agent", size="4"),
                    rx.text("Chat in text with this agent exactly as a caller would reach it: same prompt, "
                            "tools and model. Save changes first; each conversation is recorded under Calls.",
                            size="2", color_scheme="gray"),
                    spacing="1",
                ),
                rx.spacer(),
                rx.button(rx.icon("rotate-ccw", size=14), "Reset", variant="soft", color_scheme="gray", size="2",
                          on_click=C.reset_chat, aria_label="Reset conversation", type="button"),
                width="100%", align="start",
            ),
            rx.cond(
                C.key_missing,
                rx.callout(C.missing_key_text, icon="key-round", color_scheme="amber", width="100%",
                           data_testid="chat-no-key"),
            ),
            rx.vstack(rx.foreach(C.chat_messages, _entry), spacing="2", width="100%", data_testid="chat-log"),
            rx.cond(C.sending, rx.hstack(rx.spinner(size="2"), rx.text("The agent is answering…", size="2"),
                                         align="center")),
            rx.cond(C.chat_error != "", rx.callout(C.chat_error, icon="triangle-alert", color_scheme="red",
                                                   width="100%", data_testid="chat-error")),
            rx.cond(C.chat_ended, rx.text("The agent ended the conversation. Your next message starts a new one.",
                                          size="2", color_scheme="gray")),
            rx.form(
                rx.hstack(
                    rx.input(name="message", placeholder="Say something to the agent…", size="3", width="100%",
                             aria_label="Message to the agent", max_length=4000, disabled=C.sending | C.key_missing),
                    rx.button(rx.icon("send", size=16), "Send", size="3", type="submit", aria_label="Send",
                              disabled=C.sending | C.key_missing),
                    width="100%", spacing="2",
                ),
                on_submit=C.send, reset_on_submit=True, width="100%",
            ),
            spacing="3", width="100%",
        ),
        width="100%", on_mount=C.prepare, data_testid="test-chat",
    )
