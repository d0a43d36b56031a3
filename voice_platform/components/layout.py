"""The signed-in shell: sidebar navigation, top bar with organization switcher and user menu.

A new signed-in page is written as::

    def tools_page() -> rx.Component:
        return signed_in_page(
            page_header("Tools", "Attach tools to this agent", back_href=...),
            ...content reading ToolsState vars...,
        )

and registered in ``voice_platform/pages/__init__.py`` with ``on_load=ToolsState.load``,
where ``ToolsState(AuthState)`` resolves the user and calls ``self._load_session``.
"""

from __future__ import annotations

import reflex as rx

from voice_platform.state.auth import AuthState

SIDEBAR_WIDTH = "240px"
NAV_ITEMS = (
    ("Overview", "layout-dashboard", "/overview"),
    ("Agents", "bot", "/agents"),
    ("Calls", "phone-incoming", "/calls"),
    ("Campaigns", "megaphone", "/campaigns"),
    ("Do not call", "phone-off", "/do-not-call"),
    ("Phone numbers", "phone", "/phone-numbers"),
    ("Custom tools", "blocks", "/custom-tools"),
    ("Members", "users", "/members"),
    ("Billing", "credit-card", "/billing"),
    ("Settings", "settings", "/settings"),
    ("Account", "user-round", "/account"),
)
# The organization's settings only its admins use (org:manage), under their own heading.
ORG_ADMIN_NAV_ITEMS = (
    ("API keys", "key-round", "/organization/api-keys"),
    ("Webhooks", "webhook", "/webhooks"),
    ("Audit log", "scroll-text", "/organization/audit-log"),
)


def logo(size: str = "4") -> rx.Component:
    return rx.hstack(
        rx.center(
            rx.icon("audio-lines", size=18, color="white"),
            background=f"linear-gradient(135deg, {rx.color('accent', 9)}, {rx.color('accent', 11)})",
            border_radius="8px",
            width="32px",
            height="32px",
        ),
        rx.heading("Voiceline", size=size, weight="bold"),
        align="center",
        spacing="2",
    )


def nav_link(label: str, icon: str, href: str) -> rx.Component:
    active = AuthState.router.url.path.startswith(href)
    return rx.link(
        rx.hstack(
            rx.icon(icon, size=18),
            rx.text(label, size="2", weight="medium"),
            align="center",
            spacing="3",
            padding_x="12px",
            padding_y="8px",
            border_radius="8px",
            width="100%",
            background=rx.cond(active, rx.color("accent", 3), "transparent"),
            color=rx.cond(active, rx.color("accent", 11), rx.color("gray", 11)),
            _hover={"background": rx.color("gray", 3)},
        ),
        href=href,
        underline="none",
        width="100%",
        # No aria-label: the visible text names the link, and an aria-label "Phone numbers" would
        # also answer to the agent form's "Phone number" field label (label lookups match substrings).
    )


def org_switcher() -> rx.Component:
    return rx.select.root(
        rx.select.trigger(placeholder="Choose organization", variant="soft", aria_label="Organization",
                          min_width=["0", "200px"], max_width=["150px", "280px"]),
        rx.select.content(
            rx.select.group(
                rx.select.label("Organizations"),
                rx.foreach(AuthState.orgs, lambda org: rx.select.item(org["name"], value=org["id"])),
            ),
        ),
        value=AuthState.org_id,
        on_change=AuthState.switch_org,
        size="2",
    )


def user_menu() -> rx.Component:
    return rx.menu.root(
        rx.menu.trigger(
            rx.button(
                rx.avatar(fallback=AuthState.user_initials, size="1", radius="full"),
                rx.text(AuthState.user_name, size="2", display=["none", "none", "inline"]),
                rx.icon("chevron-down", size=14),
                variant="ghost",
                color_scheme="gray",
                aria_label="User menu",
            ),
        ),
        rx.menu.content(
            # Reflex 0.10's rx.menu has no label part: a plain box plays the header.
            rx.box(
                rx.text(AuthState.user_email, size="2", weight="medium"),
                rx.badge(AuthState.org_role, variant="soft", size="1", margin_top="4px"),
                padding="8px 12px",
            ),
            rx.menu.separator(),
            rx.menu.item(rx.icon("user-round", size=14), "Account", on_select=rx.redirect("/account"), aria_label="Account"),
            rx.menu.item(rx.icon("log-out", size=14), "Sign out", on_select=AuthState.sign_out, aria_label="Sign out"),
            align="end",
        ),
    )


def sidebar() -> rx.Component:
    """The column runs the page's full height (its background and border stretch with the
    content); the navigation inside it stays in view while the page scrolls."""
    return rx.box(
        rx.el.nav(
            rx.vstack(
                rx.box(logo(), padding_x="12px", padding_y="4px"),
                rx.vstack(
                    rx.text("Workspace", size="1", color_scheme="gray", weight="medium", padding_x="12px"),
                    *[nav_link(*item) for item in NAV_ITEMS],
                    rx.cond(AuthState.permissions.contains("org:manage"), rx.fragment(
                        rx.text("Organization", size="1", color_scheme="gray", weight="medium", padding_x="12px",
                                padding_top="12px"),
                        *[nav_link(*item) for item in ORG_ADMIN_NAV_ITEMS],
                    )),
                    rx.cond(AuthState.is_platform_admin, nav_link("Platform admin", "shield", "/admin")),
                    spacing="1",
                    width="100%",
                    margin_top="24px",
                ),
                rx.spacer(),
                rx.card(
                    rx.vstack(
                        rx.text("Current organization", size="1", color_scheme="gray"),
                        rx.text(AuthState.org_name, size="2", weight="medium", trim="both"),
                        spacing="1",
                    ),
                    size="1",
                    width="100%",
                    variant="surface",
                ),
                height="100%",
            ),
            aria_label="Main navigation",
            style={"height": "100vh", "position": "sticky", "top": "0", "padding": "20px 12px"},
        ),
        width=SIDEBAR_WIDTH,
        min_width=SIDEBAR_WIDTH,
        align_self="stretch",
        border_right=f"1px solid {rx.color('gray', 5)}",
        background=rx.color("gray", 2),
        display=["none", "none", "block"],
        data_testid="sidebar",
    )


def topbar() -> rx.Component:
    return rx.hstack(
        rx.link(logo("3"), href="/agents", underline="none", color="inherit", display=["block", "block", "none"],
                aria_label="Home"),
        rx.spacer(),
        org_switcher(),
        user_menu(),
        align="center",
        spacing=rx.breakpoints(initial="2", sm="4"),
        padding_x=["12px", "24px", "32px"],
        height="64px",
        width="100%",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        background=rx.color("gray", 1),
        position="sticky",
        top="0",
        z_index="10",
    )


def page_header(
    title: rx.Var | str,
    subtitle: rx.Var | str = "",
    *actions: rx.Component,
    back_href: str | None = None,
    back_label: str = "Back",
) -> rx.Component:
    return rx.vstack(
        rx.link(
            rx.hstack(rx.icon("arrow-left", size=14), rx.text(back_label, size="2"), align="center", spacing="1"),
            href=back_href,
            color_scheme="gray",
            underline="none",
            aria_label=back_label,
        )
        if back_href
        else rx.fragment(),
        rx.hstack(
            rx.vstack(
                rx.heading(title, size="7", weight="bold"),
                rx.text(subtitle, color_scheme="gray", size="2") if subtitle is not None else rx.fragment(),
                spacing="1",
            ),
            rx.spacer(),
            *actions,
            align="end",
            width="100%",
            wrap="wrap",
            spacing="3",
        ),
        spacing="3",
        width="100%",
        margin_bottom="24px",
    )


def app_layout(*content: rx.Component) -> rx.Component:
    return rx.hstack(
        sidebar(),
        rx.vstack(
            topbar(),
            rx.box(
                *content,
                width="100%",
                max_width="1080px",
                padding_x=["16px", "24px", "40px"],
                padding_y="32px",
                margin_x="auto",
                as_="main",
            ),
            spacing="0",
            width="100%",
            min_height="100vh",
            background=rx.color("gray", 1),
        ),
        spacing="0",
        width="100%",
        align="start",
        # Browser tests wait for this before typing: events sent earlier are not lost,
        # but on_load handlers may still be re-rendering the page.
        data_hydrated=rx.State.is_hydrated,
    )


def loading_screen() -> rx.Component:
    return rx.center(
        rx.vstack(logo(), rx.spinner(size="3"), align="center", spacing="4"),
        height="100vh",
        width="100%",
        data_testid="session-loading",
    )


def signed_in_page(*content: rx.Component) -> rx.Component:
    """The shell, once the session is known; a loading screen until then (never signed-out data)."""
    return rx.cond(AuthState.session_ready, app_layout(*content), loading_screen())


def auth_form(*fields: rx.Component, on_submit) -> rx.Component:
    """The stacked form of /signin and /signup."""
    return rx.form(rx.vstack(*fields, spacing="4", width="100%"), on_submit=on_submit, width="100%")


def auth_footer(prompt: str, link_text: str, href: str | rx.Var) -> rx.Component:
    """"New here? Create an account" and its mirror on the other page."""
    return rx.text(
        prompt + " ",
        rx.link(link_text, href=href, weight="medium"),
        size="2",
        color_scheme="gray",
        text_align="center",
        width="100%",
    )


def auth_card(title: str, subtitle: str, *content: rx.Component) -> rx.Component:
    """Centered card for /signin and /signup."""
    return rx.center(
        rx.vstack(
            logo("5"),
            rx.card(
                rx.vstack(
                    rx.vstack(
                        rx.heading(title, size="6", weight="bold"),
                        rx.text(subtitle, color_scheme="gray", size="2"),
                        spacing="1",
                    ),
                    *content,
                    spacing="5",
                    width="100%",
                ),
                size="4",
                width="100%",
            ),
            align="center",
            spacing="6",
            width="100%",
            max_width="420px",
        ),
        min_height="100vh",
        width="100%",
        padding="24px",
        data_hydrated=rx.State.is_hydrated,
        background=f"radial-gradient(circle at 20% 0%, {rx.color('accent', 3)}, {rx.color('gray', 1)} 55%)",
    )
