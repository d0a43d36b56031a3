"""How the call page tells a warm transfer and an answering-machine verdict, in people's words.

``services.call_history`` gives the transfer as recorded (``services.warm_transfer``): its state
and its stages, each with a machine name and an ISO time. People read "Briefing the person",
"Declined (pressed 2)" and the time, in order, and the outcome on top, so a transfer that came
back to the agent is told apart from one a person took. Pure functions: no database, no Reflex.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

STAGES = {
    "holding": "Caller put on hold",
    "calling_person": "Calling the person",
    "briefing": "Briefing the person",
    "accepted": "Person took the call",
    "declined": "Person declined",
    "no_answer": "Nobody answered",
    "failed": "Call to the person failed",
    "returned": "Caller sent back to the agent",
    "resumed": "Agent resumed the conversation",
    "hold_failed": "Could not put the caller on hold",
    "return_failed": "Could not bring the caller back",
}
# state -> (outcome, colour)
OUTCOMES = {
    "accepted": ("Transferred: the person took the call", "green"),
    "resumed": ("Back with the agent: nobody took the call", "amber"),
    "returned": ("Returning to the agent: nobody took the call", "amber"),
    "declined": ("Nobody took the call", "amber"),
    "no_answer": ("Nobody took the call", "amber"),
    "failed": ("The call to the person failed", "red"),
    "hold_failed": ("Not transferred: the caller stayed with the agent", "red"),
    "return_failed": ("The caller could not be brought back", "red"),
}
IN_PROGRESS = ("Transfer in progress", "blue")
ANSWERED_BY = {
    "human": "A person",
    "machine_start": "Answering machine",
    "machine_end_beep": "Answering machine (after the beep)",
    "machine_end_silence": "Answering machine (after silence)",
    "machine_end_other": "Answering machine",
    "fax": "Fax machine",
    "unknown": "Not detected",
}


def _clock(value: Any) -> str:
    try:
        return datetime.fromisoformat(str(value)).strftime("%H:%M:%S")
    except (TypeError, ValueError):
        return ""


def _detail(stage: dict[str, Any]) -> str:
    parts = []
    if stage.get("pressed"):
        parts.append(f"pressed {stage['pressed']}")
    if stage.get("status"):
        parts.append(f"their call: {str(stage['status']).replace('-', ' ')}")
    if stage.get("error"):
        parts.append(str(stage["error"]))
    return "; ".join(parts)


def transfer_view(transfer: dict[str, Any] | None) -> tuple[dict[str, str], list[dict[str, str]]]:
    """(summary, stages in order) for the page; ({}, []) when the call had no warm transfer."""
    if not transfer:
        return {}, []
    stages = [s for s in transfer.get("stages") or [] if isinstance(s, dict)]
    attempts = {s.get("attempt") for s in stages if s.get("attempt") is not None}
    rows = [{"stage": str(s.get("stage") or ""), "label": STAGES.get(str(s.get("stage")), str(s.get("stage") or "")),
             "at": _clock(s.get("at")), "detail": _detail(s),
             "attempt": f"attempt {s.get('attempt')}" if len(attempts) > 1 and s.get("attempt") else ""}
            for s in stages]
    state = str(transfer.get("state") or "")
    outcome, color = OUTCOMES.get(state, IN_PROGRESS)
    summary = {"mode": str(transfer.get("mode") or "warm"), "state": state, "outcome": outcome, "color": color,
               "person": str(transfer.get("person_number") or ""), "briefing": str(transfer.get("briefing") or ""),
               "attempts": str(max((a for a in attempts if isinstance(a, int)), default=1))}
    return summary, rows


def answered_by_label(value: str | None) -> str:
    """An outbound call's answering-machine verdict; "" when none was given."""
    if not value:
        return ""
    return ANSWERED_BY.get(value, value.replace("_", " "))
