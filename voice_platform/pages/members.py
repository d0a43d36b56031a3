"""``/members``: who belongs to the organization and with which role."""

from __future__ import annotations

import reflex as rx

from voice_platform.components import error_callout, page_header, page_skeleton, signed_in_page, text_field
from voice_platform.components.fields import form_field
from voice_platform.services.rbac import ASSIGNABLE_ROLES
from voice_platform.state.members import MembersState

S = MembersState
ROLE_LABELS = {"org_admin": "Org admin", "member": "Member"}


def role_picker(member: rx.Var) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(aria_label="Role of " + member["email"].to(str)),
        rx.select.content(*[rx.select.item(ROLE_LABELS[r], value=r) for r in ASSIGNABLE_ROLES]),
        value=member["role"],
        on_change=lambda role: S.change_role(member["user_id"], role),
        size="1",
    )


def remove_button(member: rx.Var) -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(rx.icon_button(rx.icon("user-minus", size=14), variant="ghost", color_scheme="red",
                                               aria_label="Remove " + member["email"].to(str))),
        rx.alert_dialog.content(
            rx.alert_dialog.title("Remove " + member["email"].to(str) + "?"),
            rx.alert_dialog.description("They lose access to this organization's agents and calls."),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(rx.button("Remove", color_scheme="red", on_click=S.remove(member["user_id"]),
                                                 aria_label="Confirm remove")),
                spacing="3", justify="end", margin_top="16px",
            ),
        ),
    )


def member_row(member: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.vstack(rx.text(member["email"], weight="medium"),
                                           rx.text(member["name"], size="1", color_scheme="gray"), spacing="0")),
        rx.table.cell(rx.cond(S.can_manage_members & (member["is_me"] == ""), role_picker(member),
                              rx.badge(member["role"].to(str).replace("_", " "), variant="soft"))),
        rx.table.cell(rx.cond(member["is_me"] != "",
                              rx.button("Leave", variant="soft", color_scheme="gray", size="1", on_click=S.leave,
                                        aria_label="Leave organization"),
                              rx.cond(S.can_manage_members, remove_button(member))), text_align="right"),
        align="center",
        data_testid="member-row",
    )


def role_field(label: str, name: str, aria_label: str, value, on_change, errors) -> rx.Component:
    """The role picker of the add and invite forms."""
    return form_field(label, name, rx.select.root(
        rx.select.trigger(aria_label=aria_label),
        rx.select.content(*[rx.select.item(ROLE_LABELS[r], value=r) for r in ASSIGNABLE_ROLES]),
        value=value, on_change=on_change, size="3"), errors)


def add_form() -> rx.Component:
    return rx.card(
        rx.form(
            rx.hstack(
                rx.box(text_field("E-mail", "email", S.errors, placeholder="colleague@company.com", type="email",
                                  required=True), flex="1"),
                role_field("Role", "new_role", "New member role", S.new_role, S.set_new_role, S.errors),
                rx.button("Add member", type="submit", size="3", aria_label="Add member"),
                align="end", spacing="3", width="100%",
            ),
            on_submit=S.add, key=S.form_key, width="100%",
        ),
        rx.text("For someone who already has an account; otherwise invite them by e-mail below.", size="1",
                color_scheme="gray"),
        width="100%",
    )


def invite_form() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Invite by e-mail", size="3"),
            rx.form(
                rx.hstack(
                    rx.box(text_field("Address to invite", "invite_email", S.invite_errors, placeholder="new.colleague@company.com",
                                      type="email", required=True), flex="1"),
                    role_field("Invite role", "invite_role", "Invitation role", S.invite_role, S.set_invite_role,
                               S.invite_errors),
                    rx.button("Create invitation link", type="submit", size="3", aria_label="Create invitation link"),
                    align="end", spacing="3", width="100%",
                ),
                on_submit=S.invite, key=S.invite_key, width="100%",
            ),
            rx.cond(
                S.invite_warning != "",
                rx.callout(S.invite_warning, icon="triangle-alert", color_scheme="amber", role="alert", width="100%",
                           data_testid="invite-mail-warning"),
            ),
            rx.cond(
                S.invite_link != "",
                rx.callout(
                    rx.vstack(
                        rx.cond(
                            S.invite_mailed_to != "",
                            rx.text("The invitation was e-mailed to ", rx.text.strong(S.invite_mailed_to),
                                    ". The link works once and expires; you can also share it yourself.",
                                    data_testid="invite-mailed"),
                            rx.cond(
                                S.invite_warning != "",
                                rx.text("Send this link yourself. It works once and expires."),
                                rx.text("E-mail sending is not set up, so send this link yourself. It works once and expires."),
                            ),
                        ),
                        rx.hstack(
                            rx.input(value=S.invite_link, read_only=True, width="100%", aria_label="Invitation link",
                                     data_testid="invite-link"),
                            rx.button(rx.icon("copy", size=14), "Copy", variant="soft", type="button",
                                      on_click=[rx.set_clipboard(S.invite_link), rx.toast.success("Link copied")],
                                      aria_label="Copy invitation link"),
                            width="100%",
                        ),
                        spacing="2", width="100%",
                    ),
                    icon="link", width="100%",
                ),
            ),
            rx.cond(
                S.invites.length() > 0,
                rx.vstack(
                    rx.text("Pending invitations", size="2", weight="medium"),
                    rx.foreach(S.invites, lambda i: rx.hstack(
                        rx.text(i["email"], size="2"), rx.badge(i["role"], variant="soft"),
                        rx.text("expires " + i["expires"], size="1", color_scheme="gray"),
                        rx.spacer(),
                        rx.button("Revoke", size="1", variant="soft", color_scheme="red",
                                  on_click=S.revoke_invite(i["id"]), aria_label="Revoke invitation for " + i["email"]),
                        width="100%", align="center", data_testid="pending-invite",
                    )),
                    spacing="2", width="100%",
                ),
            ),
            spacing="3", width="100%",
        ),
        width="100%",
    )


def page() -> rx.Component:
    return signed_in_page(
        page_header("Members", "People of " + S.org_name + " and their roles"),
        rx.cond(
            S.loading,
            rx.card(page_skeleton(3), width="100%"),
            rx.vstack(
                rx.cond(S.errors.contains(""), error_callout(S.errors[""])),
                rx.cond(S.can_manage_members, add_form()),
                rx.cond(S.can_manage_members, invite_form()),
                rx.card(rx.table.root(
                    rx.table.header(rx.table.row(rx.table.column_header_cell("Member"),
                                                 rx.table.column_header_cell("Role"), rx.table.column_header_cell(""))),
                    rx.table.body(rx.foreach(S.members, member_row)),
                    variant="ghost", width="100%", aria_label="Members",
                ), width="100%"),
                spacing="4", width="100%",
            ),
        ),
    )
