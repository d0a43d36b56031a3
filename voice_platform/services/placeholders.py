"""``{{name}}`` placeholders in an agent's prompt, greeting and voicemail message.

Filled per call from the call's own variables (an outbound call's ``variables``) and from what
every call has: ``caller_number``, ``agent_number`` and ``now`` (in the organization's time
zone). A placeholder nobody filled renders empty: a caller never hears braces or a variable's
name. Names are letters, digits and underscores, spaces inside the braces allowed
(``{{ name }}``); anything else between double braces is left as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]{0,63})\s*\}\}")
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
BUILT_IN = ("caller_number", "agent_number", "now")


def fill(template: str, values: Mapping[str, object]) -> str:
    """``template`` with each ``{{name}}`` replaced by ``values[name]`` (empty when absent or None)."""
    if "{{" not in template:
        return template

    def one(match: re.Match) -> str:
        value = values.get(match.group(1))
        return "" if value is None else str(value)

    return PLACEHOLDER.sub(one, template)


def names_in(template: str) -> list[str]:
    """The placeholder names ``template`` uses, in order of first use."""
    seen: dict[str, None] = {}
    for match in PLACEHOLDER.finditer(template or ""):
        seen.setdefault(match.group(1))
    return list(seen)


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def call_values(*, caller_number: str | None, agent_number: str | None, timezone_name: str | None,
                variables: Mapping[str, object] | None = None, now: datetime | None = None) -> dict[str, object]:
    """What a call's placeholders are filled with: its own variables, then the built-in ones
    (which a variable of the same name cannot override: they describe the call itself)."""
    local = (now or datetime.now(timezone.utc)).astimezone(_zone(timezone_name))
    values: dict[str, object] = {str(k): v for k, v in (variables or {}).items()}
    values.update(caller_number=caller_number or "", agent_number=agent_number or "",
                  now=f"{local:%A, %B} {local.day}, {local:%Y} {local:%H:%M}")
    return values
