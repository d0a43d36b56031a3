"""``/organization/api-keys``: the organization's keys for the REST API (org admins).

The secret of a new key is shown once, with a copy button; afterwards only its prefix is.
"""

from __future__ import annotations

import reflex as rx

from voice_platform.components import empty_state, error_callout, page_header, page_skeleton, signed_in_page, text_field
from voice_platform.components.fields import form_field
from voice_platform.state.api_keys import ApiKeysState

S = ApiKeysState
ROLE_LABELS = {"member": "Read-only (member)", "org_admin": "Full access (org admin)"}


def create_form() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Create an API key", size="3"),
            rx.form(
                rx.hstack(
                    rx.box(text_field("Key name", "name", S.errors, placeholder="CRM sync", required=True), flex="1"),
                    form_field("Access", "role", rx.select.root(
                        rx.select.trigger(aria_label="Key access"),
                        rx.select.content(*[rx.select.item(label, value=role) for role, label in ROLE_LABELS.items()]),
                        value=S.new_role, on_change=S.set_new_role, size="3"), S.errors),
                    rx.button("Create key", type="submit", size="3", aria_label="Create key"),
                    align="end", spacing="3", width="100%", wrap="wrap",
                ),
                on_submit=S.create, key=S.form_key, width="100%",
            ),
            rx.text("Send it as ", rx.code("Authorization: Bearer vp_…"), " to /api/v1. A key acts for this "
                    "organization only; revoke it when it is no longer needed.", size="1", color_scheme="gray"),
            spacing="3", width="100%",
        ),
        width="100%",
    )


def new_secret() -> rx.Component:
    return rx.callout(
        rx.vstack(
            rx.text(rx.text.strong("Copy this key now: it will not be shown again. "),
                    "Anyone who has it can use the API as ", S.new_secret_name, "."),
            rx.hstack(
                rx.input(value=S.new_secret, read_only=True, width="100%", aria_label="New API key",
                         data_testid="new-api-key", font_family="monospace"),
                rx.button(rx.icon("copy", size=14), "Copy", variant="soft", type="button",
                          on_click=[rx.set_clipboard(S.new_secret), rx.toast.success("Key copied")],
                          aria_label="Copy API key"),
                rx.button("Done", variant="ghost", type="button", on_click=S.dismiss_secret, aria_label="Hide key"),
                width="100%",
            ),
            spacing="2", width="100%",
        ),
        icon="key-round", color_scheme="amber", width="100%", role="status",
    )


def revoke_button(key: rx.Var) -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(rx.button("Revoke", size="1", variant="soft", color_scheme="red",
                                          aria_label="Revoke " + key["name"].to(str))),
        rx.alert_dialog.content(
            rx.alert_dialog.title("Revoke " + key["name"].to(str) + "?"),
            rx.alert_dialog.description("Requests with this key are refused at once. This cannot be undone."),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(rx.button("Revoke key", color_scheme="red", on_click=S.revoke(key["id"]),
                                                 aria_label="Confirm revoke")),
                spacing="3", justify="end", margin_top="16px",
            ),
        ),
    )


def key_row(key: rx.Var) -> rx.Component:
    revoked = key["revoked"] != ""
    return rx.table.row(
        rx.table.row_header_cell(rx.vstack(rx.text(key["name"], weight="medium"),
                                           rx.code(key["prefix"], size="1", variant="ghost"), spacing="0")),
        rx.table.cell(rx.badge(key["role"], variant="soft")),
        rx.table.cell(rx.vstack(rx.text(key["created"], size="1"), rx.text(key["created_by"], size="1", color_scheme="gray"),
                                spacing="0")),
        rx.table.cell(rx.text(key["last_used"], size="1")),
        rx.table.cell(rx.cond(revoked, rx.badge("revoked " + key["revoked"].to(str), color_scheme="gray"),
                              revoke_button(key)), text_align="right"),
        align="center", data_testid="api-key-row", opacity=rx.cond(revoked, "0.6", "1"),
    )


def keys_table() -> rx.Component:
    return rx.card(rx.cond(
        S.keys.length() > 0,
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in
                                           ("Key", "Access", "Created", "Last used", "")])),
            rx.table.body(rx.foreach(S.keys, key_row)),
            variant="ghost", width="100%", aria_label="API keys",
        ),
        empty_state("key-round", "No API keys yet", "Create one for a script or another system that uses the API."),
    ), width="100%")


def page() -> rx.Component:
    return signed_in_page(
        page_header("API keys", "Programmatic access to the API for " + S.org_name,
                    back_href="/settings", back_label="Settings"),
        rx.cond(
            S.loading,
            rx.card(page_skeleton(3), width="100%"),
            rx.vstack(
                rx.cond(S.errors.contains(""), error_callout(S.errors[""])),
                rx.cond(
                    S.can_manage_keys,
                    rx.vstack(create_form(), rx.cond(S.new_secret != "", new_secret()), keys_table(),
                              spacing="4", width="100%"),
                    rx.callout("Only organization admins manage API keys.", icon="lock", color_scheme="gray",
                               width="100%", data_testid="api-keys-admins-only"),
                ),
                spacing="4", width="100%",
            ),
        ),
    )
