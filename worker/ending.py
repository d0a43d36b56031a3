"""How a call ends, from the worker's side: the reason recorded, then the line hung up.

The order matters. The session is closed in the database *before* the room is
deleted: deleting the room hangs up LiveKit's SIP leg, Twilio then posts the Dial
``action`` at once, and that webhook speaks the apology only if it already sees the
session failed (model unreachable, our error). The other way round the caller could
hear silence and a click.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from livekit.agents import CloseReason
from livekit.agents.llm import RealtimeModelError

from voice_platform.db import session_scope
from voice_platform.services import calls
from voice_platform.settings import get_settings

log = logging.getLogger(__name__)

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


async def finish(session_id: uuid.UUID, reason: str, error: str | None = None) -> bool:
    """Close the session once (False when someone closed it first, e.g. end_call or Twilio)."""

    def write() -> bool:
        with session_scope() as session:
            return calls.finish_session(session, session_id, reason=reason, error=error)

    try:
        return await asyncio.to_thread(write)
    except Exception:  # noqa: BLE001 - the line is still hung up; Twilio's status callback closes it
        log.exception("could not record the end of session %s", session_id)
        return False


async def hang_up(ctx, reason: str) -> None:
    """Delete the call's room (LiveKit hangs up the SIP caller), then end the job.

    A fake job (tests, console) has no room to delete: ``delete_room`` is a no-op there.
    """
    try:
        await asyncio.wait_for(ctx.delete_room(), 5)
    except Exception:  # noqa: BLE001 - the job ends anyway; LiveKit closes an empty room itself
        log.warning("could not delete room %s", ctx.room.name)
    ctx.shutdown(reason=reason)
