"""A campaign's status badge, progress bar and counts per contact state.

Shared by the list and the campaign's page so both draw the same campaign the same way. The
bar counts settled contacts (neither queued nor calling) out of all of them; the counts say
how they settled (completed, voicemail, no answer, ...). Each count carries
``data-state``/``data-count`` so tests and people read the same number.
"""

from __future__ import annotations

import reflex as rx

STATUS_COLORS = {"draft": "gray", "running": "blue", "paused": "amber", "completed": "green", "cancelled": "red"}


def status_badge(status: rx.Var) -> rx.Component:
    return rx.match(
        status,
        *[(name, rx.badge(name, color_scheme=color, variant="soft", size="2", data_testid="campaign-status"))
          for name, color in STATUS_COLORS.items()],
        rx.badge(status, variant="soft", data_testid="campaign-status"),
    )


def progress_bar(campaign: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.progress(value=campaign["percent"].to(int), max=100, size="2", width="100%",
                    aria_label="Campaign progress", data_testid="campaign-progress"),
        rx.text(campaign["progress"].to(str), " (", campaign["percent"].to(str), "%)", size="1", color_scheme="gray",
                data_testid="campaign-progress-text"),
        spacing="1", width="100%",
    )


def count_badge(count: rx.Var) -> rx.Component:
    return rx.badge(
        count["label"].to(str), " ", rx.text.strong(count["count"].to(str)),
        color_scheme=count["color"].to(str), variant=rx.cond(count["count"].to(int) > 0, "soft", "outline"),
        data_testid="campaign-count", data_state=count["state"].to(str), data_count=count["count"].to(str),
    )


def counts(rows: rx.Var) -> rx.Component:
    return rx.flex(rx.foreach(rows, count_badge), wrap="wrap", gap="6px", aria_label="Contacts per state")
