"""What a campaign's input must be, and when its window is open: pure functions, no database.

Shared by the API (JSON contacts), the dashboard (a CSV file) and the dialer (the window), so a
contact the page shows as accepted is one the API accepts, and "inside the window" means the
same thing when the campaign is shown and when it dials.

- A contact is an E.164 number (spaces, dashes and brackets tolerated, as everywhere else) and
  its variables, checked as a single outbound call's (``outbound_calls.validate_variables``).
  Duplicate numbers are refused: one campaign never calls a person twice for the same reason.
- A window is a set of week days and a local ``start``-``end`` time in the organization's time
  zone. ``end`` may be ``24:00`` (the whole day is ``00:00``-``24:00``); an ``end`` before
  ``start`` runs past midnight, and belongs to the day it starts on.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from voice_platform.errors import ValidationFailed
from voice_platform.services import outbound_calls, validation
from voice_platform.services.placeholders import NAME_PATTERN

MAX_CONTACTS = 10_000
MAX_NAME = 120
MAX_CSV_CHARS = 5_000_000
MAX_RETRY_ATTEMPTS = 10
MIN_RETRY_DELAY, MAX_RETRY_DELAY = 1, 7 * 24 * 60  # minutes
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
START_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
END_PATTERN = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"
DEFAULT_WINDOW = {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}
DEFAULT_RETRY = {"attempts": 0, "delay_minutes": 60}
_NAME = re.compile(NAME_PATTERN)


class ContactsRejected(ValidationFailed):
    """Some contacts are not valid; ``rejected`` lists each one (``index`` from 0, ``reason``)."""

    def __init__(self, rejected: list[dict[str, Any]]) -> None:
        first = rejected[0]
        super().__init__(f"{len(rejected)} contact{'s' if len(rejected) != 1 else ''} rejected; "
                         f"contact {first['index']}: {first['reason']}", field="contacts")
        self.rejected = rejected


# --- one field at a time ------------------------------------------------------------------------

def name(value: object) -> str:
    return validation.text(value, "name", max_length=MAX_NAME, required=True)


def _integer(value: object, field: str, low: int, high: int, message: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationFailed(message, field=field)
    return value


def retry(value: object) -> dict[str, int]:
    """How often a contact that did not answer (or was busy) is called again, and after how long."""
    value = DEFAULT_RETRY if value is None else value
    if not isinstance(value, dict):
        raise ValidationFailed("retry must be an object with attempts and delay_minutes", field="retry")
    attempts = _integer(value.get("attempts", 0), "retry.attempts", 0, MAX_RETRY_ATTEMPTS,
                        f"retry.attempts must be a whole number from 0 to {MAX_RETRY_ATTEMPTS}")
    delay = _integer(value.get("delay_minutes", DEFAULT_RETRY["delay_minutes"]), "retry.delay_minutes",
                     MIN_RETRY_DELAY, MAX_RETRY_DELAY,
                     f"retry.delay_minutes must be a whole number from {MIN_RETRY_DELAY} to {MAX_RETRY_DELAY} (a week)")
    return {"attempts": attempts, "delay_minutes": delay}


def max_concurrent(value: object, plan_concurrency: int, plan_name: str) -> int:
    """At least one, and one fewer than the plan's concurrent calls: a slot stays free for inbound calls."""
    highest = plan_concurrency - 1
    if highest < 1:
        raise ValidationFailed(f"The {plan_name} plan allows {plan_concurrency} concurrent call; a campaign keeps "
                               "one free for inbound calls, so it needs a plan with more", field="max_concurrent")
    return _integer(value, "max_concurrent", 1, highest,
                    f"max_concurrent must be from 1 to {highest}: the {plan_name} plan allows {plan_concurrency} "
                    "concurrent calls and one is always kept free for inbound calls")


def window(value: object) -> dict[str, Any]:
    value = DEFAULT_WINDOW if value is None else value
    if not isinstance(value, dict):
        raise ValidationFailed("window must be an object with days, start and end", field="window")
    days = value.get("days")
    if not isinstance(days, list) or not days or any(d not in DAYS for d in days):
        raise ValidationFailed(f"window.days must list one or more of: {', '.join(DAYS)}", field="window.days")
    start, end = value.get("start"), value.get("end")
    if not isinstance(start, str) or not re.fullmatch(START_PATTERN, start):
        raise ValidationFailed("window.start must be a time HH:MM from 00:00 to 23:59", field="window.start")
    if not isinstance(end, str) or not re.fullmatch(END_PATTERN, end):
        raise ValidationFailed("window.end must be a time HH:MM from 00:00 to 24:00", field="window.end")
    if start == end:
        raise ValidationFailed("window.start and window.end must differ (00:00 to 24:00 is the whole day)",
                               field="window.end")
    return {"days": [d for d in DAYS if d in days], "start": start, "end": end}


def variables(value: object) -> dict[str, object]:
    """A contact's ``{{placeholder}}`` values, checked exactly as a single call's
    (``outbound_calls.validate_variables``); ValueError says what is wrong."""
    try:
        return outbound_calls.validate_variables(value)
    except ValidationFailed as exc:
        raise ValueError(exc.message) from exc


def _number(value: object) -> str:
    try:
        number = validation.phone_e164(value, field="to")
    except ValidationFailed as exc:
        raise ValueError(exc.message) from exc
    if number is None:
        raise ValueError("a phone number in E.164 format is required, e.g. +14155550100")
    return number


def contacts(value: object) -> list[dict[str, Any]]:
    """``[{"to", "variables"}]`` checked together: every bad one is reported, with its index."""
    if not isinstance(value, list) or not value:
        raise ValidationFailed("contacts must list at least one contact", field="contacts")
    if len(value) > MAX_CONTACTS:
        raise ValidationFailed(f"A campaign has at most {MAX_CONTACTS:,} contacts", field="contacts")
    accepted, rejected, seen = [], [], {}
    for index, raw in enumerate(value):
        try:
            if not isinstance(raw, dict):
                raise ValueError("a contact must be an object with to and variables")
            to = _number(raw.get("to"))
            if to in seen:
                raise ValueError(f"same number as contact {seen[to]}")
            contact = {"to": to, "variables": variables(raw.get("variables"))}
        except ValueError as exc:
            rejected.append({"index": index, "to": raw.get("to") if isinstance(raw, dict) else None,
                             "reason": str(exc)})
            continue
        seen[to] = index
        accepted.append(contact)
    if rejected:
        raise ContactsRejected(rejected)
    return accepted


# --- a CSV file (the dashboard's upload) ------------------------------------------------------

def parse_csv(text: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A file with a ``to`` column and one column per variable -> (contacts, rejected rows).

    ``row`` is the line a spreadsheet shows (the header is row 1). An empty cell leaves its
    variable out (a placeholder renders empty either way). The delimiter is guessed (``,``,
    ``;`` or tab: spreadsheets in many locales write ``;``). A file without a ``to`` column, or
    with a column name a placeholder cannot use, is refused as a whole (ValidationFailed).
    """
    if len(text) > MAX_CSV_CHARS:
        raise ValidationFailed(f"The file is larger than {MAX_CSV_CHARS // 1_000_000} MB", field="file")
    text = text.lstrip("\ufeff")
    try:
        dialect = csv.Sniffer().sniff(text[:10_000].partition("\n")[0] or ",", delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = csv.reader(io.StringIO(text), dialect)
    header = [h.strip() for h in next(rows, [])]
    lowered = [h.lower() for h in header]
    if "to" not in lowered:
        raise ValidationFailed("The file needs a 'to' column with the phone numbers to call", field="file")
    to_column = lowered.index("to")
    bad = [h for i, h in enumerate(header) if i != to_column and h and not _NAME.fullmatch(h)]
    if bad:
        raise ValidationFailed(f"Column names must be letters, digits and _ (they become {{{{placeholders}}}}): "
                               f"{', '.join(repr(b) for b in bad[:5])}", field="file")
    accepted, rejected, seen = [], [], {}
    for row_number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        try:
            if len(accepted) >= MAX_CONTACTS:
                raise ValueError(f"a campaign has at most {MAX_CONTACTS:,} contacts")
            cells = row + [""] * (len(header) - len(row))
            to = _number(cells[to_column].strip())
            if to in seen:
                raise ValueError(f"same number as row {seen[to]}")
            values = {h: cells[i].strip() for i, h in enumerate(header) if i != to_column and h and cells[i].strip()}
            accepted.append({"to": to, "variables": variables(values)})
            seen[to] = row_number
        except ValueError as exc:
            rejected.append({"row": row_number, "reason": str(exc)})
    return accepted, rejected


# --- the window -----------------------------------------------------------------------------------

def zone(name_: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name_ or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def in_window(win: dict[str, Any], timezone_name: str | None, now: datetime) -> bool:
    """Whether ``now`` falls inside ``win`` where the organization is."""
    local = now.astimezone(zone(timezone_name))
    minute = local.strftime("%H:%M")
    today, yesterday = DAYS[local.weekday()], DAYS[(local - timedelta(days=1)).weekday()]
    days, start, end = win.get("days") or (), win.get("start", "00:00"), win.get("end", "24:00")
    if start < end:
        return today in days and start <= minute < end
    return (today in days and minute >= start) or (yesterday in days and minute < end)
