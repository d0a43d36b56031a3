"""``/agents/new`` and ``/agents/[agent_id]``: one form, validated by services.agents."""

from __future__ import annotations

import reflex as rx

from voice_platform.components.agent_form_sections import outbound_fields, plan_fields, transfer_mode_field
from voice_platform.components.outbound_call_card import outbound_call_card
from voice_platform.components.test_chat_panel import test_chat_panel
from voice_platform.components import error_callout, not_found_state, page_header, page_skeleton, signed_in_page
from voice_platform.components.fields import form_field, select_field, text_field
from voice_platform.services.agents import MAX_GREETING, MODELS, VOICES
from voice_platform.state import AgentFormState
from voice_platform.state.agents import PLAN_SECTION_ID

S = AgentFormState


def section(title: str, description: str, *fields: rx.Component, id: str | None = None) -> rx.Component:
    return rx.card(
        rx.grid(
            rx.vstack(
                rx.heading(title, size="3", weight="medium"),
                rx.text(description, size="2", color_scheme="gray"),
                spacing="1",
            ),
            rx.vstack(*fields, spacing="4", width="100%"),
            columns=rx.breakpoints(initial="1", md="3"),
            spacing="6",
            width="100%",
            style={"& > :last-child": {"grid-column": rx.breakpoints(initial="auto", md="span 2")}},
        ),
        size="3",
        width="100%",
        id=id,
    )


def switch_field(label: str, name: str, checked: rx.Var, on_change, switch_label: str, on_text: str, off_text: str,
                 hint: str = "") -> rx.Component:
    """A labelled on/off setting of the form, saying in words what each position means."""
    return form_field(
        label,
        name,
        rx.hstack(
            rx.switch(checked=checked, on_change=on_change, aria_label=switch_label, size="2"),
            rx.text(rx.cond(checked, on_text, off_text), size="2"),
            align="center",
            spacing="3",
        ),
        S.errors,
        hint=hint,
    )


def active_switch() -> rx.Component:
    return switch_field("Status", "is_active", S.is_active, S.set_is_active, "Active",
                        "Active — answers calls", "Paused — callers hear it is unavailable")


def record_switch() -> rx.Component:
    return switch_field("Recording", "record_calls", S.record_calls, S.set_record_calls, "Record calls",
                        "Calls are recorded (both sides)", "Calls are not recorded",
                        hint="Recording a call usually requires telling the caller: set a notice below.")


def delete_button() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(
            rx.button(rx.icon("trash-2", size=16), "Delete agent", color_scheme="red", variant="soft",
                      type="button", aria_label="Delete agent"),
        ),
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete this agent?"),
            rx.alert_dialog.description(
                "“" + S.values["name"].to(str) + "” will stop answering calls and its phone number is released. "
                "This cannot be undone.",
            ),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray", aria_label="Cancel")),
                rx.alert_dialog.action(
                    rx.button("Delete", color_scheme="red", on_click=S.delete, aria_label="Confirm delete"),
                ),
                spacing="3",
                justify="end",
                margin_top="16px",
            ),
        ),
    )


NUMBER_OPTIONS_ID = "phone-number-options"


def phone_field() -> rx.Component:
    """Free typing as always, with the organization's unassigned numbers offered first (a datalist)."""
    return rx.fragment(
        text_field("Phone number", "phone_number", S.errors, default_value=S.values["phone_number"].to(str),
                   placeholder="+14155550100", custom_attrs={"list": NUMBER_OPTIONS_ID}, auto_complete="off",
                   hint="Pick one of your organization's numbers (Phone numbers page) or type one in E.164 format: "
                        "+ country code and number. Unique across the platform."),
        rx.el.datalist(rx.foreach(S.number_options, lambda number: rx.el.option(value=number)), id=NUMBER_OPTIONS_ID),
    )


def tools_button() -> rx.Component:
    """Entry point of issue 8's /agents/[agent_id]/tools page."""
    return rx.link(
        rx.button(rx.icon("wrench", size=16), "Tools", variant="soft", size="3", type="button", aria_label="Tools"),
        href="/agents/" + S.editing_id + "/tools",
    )


def agent_form() -> rx.Component:
    v = S.values
    return rx.form(
        rx.vstack(
            rx.cond(S.errors.contains(""), error_callout(S.errors[""])),
            rx.cond(
                ~S.can_save,
                rx.callout("Your role can view this agent but not change it.", icon="lock", color_scheme="gray",
                           width="100%", data_testid="read-only"),
            ),
            section(
                "Identity",
                "How the agent is named here and which number callers dial.",
                text_field("Name", "name", S.errors, default_value=v["name"].to(str), placeholder="Front desk",
                           required=True),
                phone_field(),
                active_switch(),
            ),
            section(
                "Conversation",
                "What the agent knows and says first.",
                text_field("System prompt", "system_prompt", S.errors, default_value=v["system_prompt"].to(str),
                           placeholder="You are the friendly receptionist of …", multiline=True),
                text_field("Greeting", "greeting", S.errors, default_value=v["greeting"].to(str),
                           placeholder="Hello! How can I help you today?", hint=f"Up to {MAX_GREETING} characters."),
            ),
            section(
                "Calls",
                "Where the agent hands a caller over, and whether calls are recorded.",
                text_field("Transfer number", "transfer_number", S.errors, default_value=v["transfer_number"].to(str),
                           placeholder="+14155550123",
                           hint="E.164. When set, the agent may transfer callers to this number (transfer_call)."),
                transfer_mode_field(),
                record_switch(),
                text_field("Recording notice", "recording_notice", S.errors, default_value=v["recording_notice"].to(str),
                           placeholder="This call may be recorded for quality purposes.",
                           hint="Spoken to the caller before the agent answers, when recording is on."),
            ),
            section(
                "Outbound calls",
                "What the agent does when a call it places reaches an answering machine.",
                *outbound_fields(),
            ),
            section(
                "After the call",
                "When a call ends, a model summarises it, extracts the values you list and, with a rubric, "
                "says whether it succeeded. Shown on the call's page, sent to webhooks and summary e-mails.",
                *plan_fields(),
                id=PLAN_SECTION_ID,
            ),
            section(
                "Voice & model",
                "The realtime model, its voice and the language it speaks.",
                select_field("Voice", "voice", S.errors, VOICES, S.voice, S.set_voice),
                select_field("Model", "model", S.errors, MODELS, S.model, S.set_model),
                text_field("Language", "language", S.errors, default_value=v["language"].to(str),
                           placeholder="en-US", hint="A language code such as en-US or fr."),
            ),
            rx.hstack(
                rx.cond(~S.is_new & S.can_delete_agent, delete_button()),
                rx.spacer(),
                rx.link(rx.button("Cancel", variant="soft", color_scheme="gray", size="3", type="button",
                                  aria_label="Cancel"), href="/agents"),
                rx.button(
                    rx.cond(S.is_new, "Create agent", "Save changes"),
                    type="submit",
                    size="3",
                    disabled=~S.can_save,
                    aria_label=rx.cond(S.is_new, "Create agent", "Save changes"),
                ),
                width="100%",
                spacing="3",
                align="center",
            ),
            spacing="5",
            width="100%",
        ),
        on_submit=S.save,
        key=S.form_key,
        width="100%",
    )


def page() -> rx.Component:
    return signed_in_page(
        rx.cond(
            S.loading,
            rx.vstack(rx.skeleton(rx.box(height="40px", width="240px"), loading=True), rx.card(page_skeleton(6), width="100%"),
                      spacing="5", width="100%"),
            rx.cond(
                S.not_found,
                not_found_state("agent"),
                rx.fragment(
                    page_header(
                        S.title,
                        rx.cond(S.is_new, "Create a phone agent for " + S.org_name, "Edit this agent's behaviour and phone number."),
                        rx.cond(~S.is_new, tools_button()),
                        back_href="/agents",
                        back_label="All agents",
                    ),
                    agent_form(),
                    rx.cond(~S.is_new & S.can_save, rx.box(outbound_call_card(), width="100%", margin_top="24px")),
                    rx.cond(~S.is_new, rx.box(test_chat_panel(), width="100%", margin_top="24px")),
                ),
            ),
        ),
    )
