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

from voice_platform.db import session_scope
from voice_platform.runtime.outcome import MODEL_UNAVAILABLE, end_reason, safe_error_text  # noqa: F401 - used by the entrypoint
from voice_platform.services import calls

log = logging.getLogger(__name__)

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
