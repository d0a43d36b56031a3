"""``/webhooks``: where the organization's call events are posted, signed (org admins).

Each endpoint gets ``call.started``, ``call.ended`` and/or ``call.analyzed`` for every agent or one,
signed the Standard Webhooks way with a secret shown once (on create and on rotate, with a copy
button). The page lists each endpoint's health and recent deliveries, sends test pings and
redelivers an event with the same ``webhook-id``.
"""

from __future__ import annotations

import reflex as rx

from voice_platform.components import empty_state, error_callout, page_header, page_skeleton, signed_in_page, text_field
from voice_platform.components.fields import form_field
from voice_platform.components.webhook_card import webhook_card
from voice_platform.state.webhooks import EDIT, EVENT_TYPES, FORM_ERROR, WebhooksState

S = WebhooksState
EVENT_HINTS = {
    "call.started": "the agent answered (or placed) a call",
    "call.ended": "status, end reason, duration, numbers, transcript",
    "call.analyzed": "summary, extracted fields, success verdict",
}


def _toggle(on_toggle, event: str):
    return lambda checked: on_toggle(event, checked)


def _event_checkboxes(chosen: rx.Var, on_toggle, errors: rx.Var, prefix: str = "") -> rx.Component:
    return form_field("Events", prefix + "events", rx.vstack(
        *[rx.text(
            rx.checkbox(checked=chosen.contains(event), on_change=_toggle(on_toggle, event),
                        aria_label=f"{'Edit ' if prefix else ''}{event}"),
            rx.code(event, variant="ghost"), rx.text(EVENT_HINTS[event], size="1", color_scheme="gray"),
            as_="label", display="flex", align_items="center", gap="8px", size="2",
        ) for event in EVENT_TYPES],
        spacing="2",
    ), errors)


def _agent_select(value: rx.Var, on_change, errors: rx.Var, label: str, prefix: str = "") -> rx.Component:
    return form_field("Agent", prefix + "agent_id", rx.select.root(
        rx.select.trigger(aria_label=label, width="100%"),
        rx.select.content(rx.foreach(S.agent_options, lambda a: rx.select.item(a["name"], value=a["id"]))),
        value=value, on_change=on_change, size="3",
    ), errors, hint="Events of every agent, or of one only.")


def add_form() -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("Add a webhook", size="3"),
                rx.cond(S.errors.contains(FORM_ERROR), error_callout(S.errors[FORM_ERROR])),
                text_field("Endpoint URL", "url", S.errors, placeholder="https://crm.example.com/hooks/voiceline",
                           required=True, hint="http:// or https://; we POST JSON there, signed."),
                _event_checkboxes(S.new_events, S.toggle_new_event, S.errors),
                _agent_select(S.new_agent, S.set_new_agent, S.errors, "Webhook agent"),
                text_field("Description", "description", S.errors, placeholder="CRM sync"),
                rx.hstack(rx.button(rx.icon("plus", size=16), "Add webhook", type="submit", size="3",
                                    aria_label="Add webhook"), justify="end", width="100%"),
                spacing="3", width="100%",
            ),
            on_submit=S.create, key=S.form_key, width="100%", aria_label="Add a webhook",
        ),
        size="3", width="100%",
    )


def new_secret() -> rx.Component:
    return rx.callout(
        rx.vstack(
            rx.text(rx.text.strong("Copy this signing secret now: it will not be shown again. "),
                    "Your receiver verifies each request to ", rx.code(S.new_secret_url, variant="ghost"),
                    " with it (any Standard Webhooks library does)."),
            rx.hstack(
                rx.input(value=S.new_secret, read_only=True, width="100%", aria_label="Signing secret",
                         data_testid="webhook-secret", font_family="monospace"),
                rx.button(rx.icon("copy", size=14), "Copy", variant="soft", type="button",
                          on_click=[rx.set_clipboard(S.new_secret), rx.toast.success("Secret copied")],
                          aria_label="Copy secret"),
                rx.button("Done", variant="ghost", type="button", on_click=S.dismiss_secret, aria_label="Hide secret"),
                width="100%",
            ),
            spacing="2", width="100%",
        ),
        icon="key-round", color_scheme="amber", width="100%", role="status",
    )


def edit_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Edit webhook"),
            rx.form(
                rx.vstack(
                    rx.cond(S.edit_errors.contains(FORM_ERROR), error_callout(S.edit_errors[FORM_ERROR])),
                    text_field("Endpoint URL", EDIT + "url", S.edit_errors, default_value=S.edit_url, required=True),
                    _event_checkboxes(S.edit_events, S.toggle_edit_event, S.edit_errors, EDIT),
                    _agent_select(S.edit_agent, S.set_edit_agent, S.edit_errors, "Edit webhook agent", EDIT),
                    text_field("Description", EDIT + "description", S.edit_errors, default_value=S.edit_description),
                    rx.hstack(
                        rx.button("Cancel", variant="soft", color_scheme="gray", type="button",
                                  on_click=S.close_edit(False), aria_label="Cancel edit"),
                        rx.button("Save webhook", type="submit", aria_label="Save webhook"),
                        justify="end", spacing="3", width="100%",
                    ),
                    spacing="3", width="100%",
                ),
                on_submit=S.save_edit, width="100%",
            ),
            max_width="560px",
        ),
        open=S.editing_id != "",
        on_open_change=S.close_edit,
    )


def endpoints_list() -> rx.Component:
    return rx.cond(
        S.endpoints.length() > 0,
        rx.vstack(rx.foreach(S.endpoints, webhook_card), spacing="3", width="100%"),
        rx.card(empty_state("webhook", "No webhooks yet",
                            "Add your CRM's or your own server's URL below: it gets each call's events as they happen."),
                width="100%"),
    )


def page() -> rx.Component:
    return signed_in_page(
        page_header("Webhooks", "Call events of " + S.org_name + ", posted to your systems"),
        rx.cond(
            S.loading,
            rx.card(page_skeleton(3), width="100%"),
            rx.cond(
                S.can_manage,
                rx.vstack(
                    rx.cond(S.new_secret != "", new_secret()),
                    endpoints_list(),
                    add_form(),
                    edit_dialog(),
                    rx.text("Each request carries webhook-id (the same on every retry), webhook-timestamp and "
                            "webhook-signature headers. Failed deliveries are retried with backoff.",
                            size="1", color_scheme="gray"),
                    spacing="4", width="100%",
                ),
                rx.callout("Only organization admins manage webhooks.", icon="lock", color_scheme="gray",
                           width="100%", data_testid="webhooks-admins-only"),
            ),
        ),
    )

