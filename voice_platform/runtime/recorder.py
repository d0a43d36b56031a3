"""Writes what happens in a conversation as it happens, through the calls service.

Turns are written one by one in the order they were said (a chain of small
transactions off the event loop), so a worker that crashes mid-call leaves the
transcript up to that moment. A failed write is logged and never ends the call.

An agent turn the caller cut off (barge-in) is stored as the text LiveKit keeps for
it (in a room, what the caller heard before the cut) followed by ``INTERRUPTED``:
a reader of the transcript sees the agent did not finish, and a turn needs no
column of its own for it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from livekit.agents import AgentSession
from livekit.agents.llm import ChatMessage

from voice_platform.runtime.tool_calls import Invocation

log = logging.getLogger(__name__)

WRITE_TIMEOUT_SECONDS = 5.0
RECORDED_ROLES = ("user", "assistant")
INTERRUPTED = "[interrupted]"


class ConversationRecorder:
    def __init__(self, session_id: uuid.UUID) -> None:
        self.session_id = session_id
        self._last: asyncio.Task | None = None

    def attach(self, session: AgentSession) -> None:
        session.on("conversation_item_added", self._on_item)

    def _on_item(self, event) -> None:
        item = event.item
        if isinstance(item, ChatMessage) and item.role in RECORDED_ROLES:
            text = (item.text_content or "").strip()
            if text and item.role == "assistant" and item.interrupted:
                text = f"{text} {INTERRUPTED}"
            if text:
                self.turn(item.role, text)

    def turn(self, role: str, text: str) -> None:
        """Queue one utterance; it is written after every earlier one."""
        previous = self._last
        self._last = asyncio.get_running_loop().create_task(self._write_turn(previous, role, text))

    async def _write_turn(self, previous: asyncio.Task | None, role: str, text: str) -> None:
        if previous is not None:
            await asyncio.wait({previous})
        await self._write(_record_turn, self.session_id, role, text)

    async def tool_invocation(self, invocation: Invocation) -> None:
        await self._write(_record_invocation, self.session_id, invocation)

    async def drain(self, timeout: float = WRITE_TIMEOUT_SECONDS) -> None:
        """Wait (bounded) until every queued turn is written."""
        if self._last is not None:
            await asyncio.wait({self._last}, timeout=timeout)

    async def _write(self, work, *args) -> None:
        try:
            await asyncio.wait_for(asyncio.to_thread(work, *args), WRITE_TIMEOUT_SECONDS)
        except Exception:  # noqa: BLE001 - a lost record is logged; the conversation goes on
            log.exception("could not record %s for session %s", work.__name__.removeprefix("_record_"), self.session_id)


def _record_turn(session_id: uuid.UUID, role: str, text: str) -> None:
    from voice_platform.db import session_scope
    from voice_platform.services import calls

    with session_scope() as session:
        calls.record_turn(session, session_id, role, text)


def _record_invocation(session_id: uuid.UUID, inv: Invocation) -> None:
    from voice_platform.db import session_scope
    from voice_platform.services import calls

    with session_scope() as session:
        calls.record_tool_invocation(
            session, session_id, tool_name=inv.tool_name, function_name=inv.function_name, arguments=inv.arguments,
            result=inv.result, error=inv.error, duration_ms=inv.duration_ms, agent_tool_id=inv.agent_tool_id,
            secret_fields=inv.secret_fields,
        )
