"""How a conversation ended, in our words, from how LiveKit's AgentSession closed.

Shared by the worker (what a call's session records) and the test chat (what the
user is told); error texts pass through ``safe_error_text`` so a configured secret
never reaches the database, a log line or a response.
"""

from __future__ import annotations

from livekit.agents import CloseReason
from livekit.agents.llm import RealtimeModelError

from voice_platform.settings import get_settings

# CloseReason -> our end_reason, when nothing more specific was recorded first
# (end_call and transfer_call record theirs before the AgentSession closes).
_BY_CLOSE_REASON = {
    CloseReason.PARTICIPANT_DISCONNECTED: "caller_hangup",
    CloseReason.USER_INITIATED: "agent_ended",
    CloseReason.TASK_COMPLETED: "agent_ended",
}
MODEL_UNAVAILABLE = "model_unavailable"


def end_reason(close_reason: CloseReason | None, error: object | None) -> tuple[str, str | None]:
    """``(end_reason, error text)`` for how the AgentSession closed."""
    if isinstance(error, RealtimeModelError):
        return MODEL_UNAVAILABLE, safe_error_text(error.error)
    if error is not None or close_reason == CloseReason.ERROR:
        return "error", safe_error_text(getattr(error, "error", error)) or "the conversation failed"
    if close_reason == CloseReason.JOB_SHUTDOWN:
        return "error", "the worker shut down during the call"
    return _BY_CLOSE_REASON.get(close_reason, "agent_ended"), None


def safe_error_text(error: object | None) -> str | None:
    """An error's text as stored and logged: bounded, and never carrying a configured secret."""
    if error is None:
        return None
    text = f"{error.__class__.__name__}: {error}"[:500]
    settings = get_settings()
    for secret in (settings.google_api_key, settings.livekit_api_secret, settings.twilio_auth_token):
        if secret:
            text = text.replace(secret, "[redacted]")
    return text
