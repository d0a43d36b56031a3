"""``/settings``: the organization settings, what every agent of the organization knows about the business."""

from __future__ import annotations

import reflex as rx

from voice_platform.components import error_callout, page_header, page_skeleton, signed_in_page, text_field
from voice_platform.state.organization import OrganizationState

S = OrganizationState


def form() -> rx.Component:
    v = S.values
    return rx.form(
        rx.card(
            rx.vstack(
                rx.cond(S.errors.contains(""), error_callout(S.errors[""])),
                rx.cond(~S.can_manage_org,
                        rx.callout("Your role can view these settings but not change them.", icon="lock",
                                   color_scheme="gray", width="100%")),
                text_field("Organization name", "name", S.errors, default_value=v["name"].to(str), required=True),
                text_field("Business details", "business_details", S.errors, default_value=v["business_details"].to(str),
                           multiline=True, placeholder="Address, opening hours, services and prices, parking …",
                           hint="Every agent of this organization is told this, before its own prompt."),
                text_field("Time zone", "timezone", S.errors, default_value=v["timezone"].to(str),
                           placeholder="America/New_York",
                           hint="IANA name. Agents are told today's date and time in this zone, and book in it."),
                rx.hstack(
                    rx.spacer(),
                    rx.button("Save", type="submit", size="3", disabled=~S.can_manage_org, aria_label="Save organization"),
                    width="100%",
                ),
                spacing="4",
                width="100%",
            ),
            size="3",
            width="100%",
        ),
        on_submit=S.save,
        key=S.form_key,
        width="100%",
    )


def admin_links() -> rx.Component:
    """Org admins reach the organization's API keys and audit log from here."""
    return rx.cond(S.can_manage_org, rx.hstack(
        rx.link(rx.button(rx.icon("key-round", size=14), "API keys", variant="soft"), href="/organization/api-keys",
                data_testid="settings-api-keys"),
        rx.link(rx.button(rx.icon("scroll-text", size=14), "Audit log", variant="soft"), href="/organization/audit-log",
                data_testid="settings-audit-log"),
        spacing="2",
    ))


def page() -> rx.Component:
    return signed_in_page(
        page_header("Settings", "Organization settings shared by every agent of " + S.org_name, admin_links()),
        rx.cond(S.loading, rx.card(page_skeleton(3), width="100%"), form()),
    )
