"""What the model is told before the conversation starts (fixed for the whole call:
Gemini Live ignores instruction changes mid-session).

The agent's own prompt, then the organization's business details, then "now" in the
organization's time zone: an agent that books appointments must know what "today"
and "tomorrow at 3" mean for the business, not for the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_PROMPT = "You are a friendly, concise phone assistant for a small business."
PHONE_STYLE = (
    "You are speaking on the phone: keep answers short and natural, one question at a time, "
    "no lists, no markdown, spell out numbers the way people say them."
)


@dataclass(frozen=True)
class AgentBrief:
    """The parts of an agent and its organization the instructions are made of."""

    agent_name: str
    organization_name: str
    system_prompt: str
    greeting: str
    business_details: str | None
    timezone: str


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def build_instructions(brief: AgentBrief, now: datetime | None = None) -> str:
    tz = zone(brief.timezone)
    local = (now or datetime.now(timezone.utc)).astimezone(tz)
    parts = [brief.system_prompt.strip() or DEFAULT_PROMPT, PHONE_STYLE]
    if brief.business_details and brief.business_details.strip():
        parts.append(f"About {brief.organization_name}:\n{brief.business_details.strip()}")
    parts.append(
        f"Right now it is {local:%A, %B} {local.day}, {local:%Y}, {local:%H:%M} in the {tz.key} time zone "
        f"(UTC{local:%z}). Dates and times the caller mentions are in this time zone unless they say otherwise; "
        f"'today' is {local:%Y-%m-%d}."
    )
    if brief.greeting.strip():
        parts.append(f'You have greeted the caller with: "{brief.greeting.strip()}". Do not greet them again.')
    return "\n\n".join(parts)


def greeting_request(brief: AgentBrief) -> str:
    """What the model is asked to say first (it speaks the greeting itself: a realtime model has no TTS)."""
    if brief.greeting.strip():
        return f'Greet the caller by saying exactly: "{brief.greeting.strip()}"'
    return f"Greet the caller briefly on behalf of {brief.organization_name} and ask how you can help."
