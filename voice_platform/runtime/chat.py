"""The test chat: the agent exactly as a call runs it, in text, with no room, phone or Twilio.

Same ``build_conversation`` as the worker (instructions, enabled functions with their
real configs and secrets, the same Gemini Live configuration), carried by a roomless
LiveKit ``AgentSession`` for one exchange. The conversation lives in the database,
not in the process: each message rebuilds the session from the stored turns, so a
conversation continues whichever backend process the next request reaches.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

from livekit.agents.llm import ChatContext, ChatMessage
from livekit.agents.voice.run_result import ChatMessageEvent, FunctionCallEvent, FunctionCallOutputEvent

from voice_platform.runtime.agent import build_conversation
from voice_platform.runtime.chat_types import ChatFailed, ChatReply, ToolCallOut
from voice_platform.runtime.outcome import end_reason, safe_error_text
from voice_platform.tools.registry import ToolRegistry

log = logging.getLogger(__name__)

EXCHANGE_TIMEOUT_SECONDS = 45.0


def _history(session_id: uuid.UUID) -> list[tuple[str, str]]:
    from voice_platform.db import session_scope
    from voice_platform.services import calls

    with session_scope() as session:
        return [(t.role, t.text) for t in calls.turns(session, session_id)]


def _arguments(raw: str) -> dict[str, Any]:
    try:
        parsed = json.loads(raw or "{}")
    except ValueError:
        return {"raw": raw}
    return parsed if isinstance(parsed, dict) else {"value": parsed}


async def converse(
    session_id: uuid.UUID, message: str, *, registry: ToolRegistry | None = None,
) -> ChatReply:
    """One user message in, the agent's reply and the functions it called out (all recorded)."""
    history = await asyncio.to_thread(_history, session_id)
    chat_ctx = ChatContext()
    for role, text in history:
        chat_ctx.add_message(role=role, content=text)
    conversation = await asyncio.to_thread(build_conversation, session_id, registry=registry, chat_ctx=chat_ctx)
    if not history and conversation.brief.greeting.strip():
        # a call starts with the greeting: the chat's record and the model's context do too
        greeting = conversation.brief.greeting.strip()
        chat_ctx.add_message(role="assistant", content=greeting)
        await conversation.agent.update_chat_ctx(chat_ctx)  # not started yet: only sets the context
        conversation.recorder.turn("assistant", greeting)

    session = conversation.new_session()
    closed: asyncio.Future = asyncio.get_running_loop().create_future()
    session.on("close", lambda ev: closed.done() or closed.set_result(ev))
    fatal: list = []  # unrecoverable errors, reported before the session gets round to closing
    session.on("error", lambda ev: None if getattr(ev.error, "recoverable", True) else fatal.append(ev.error))
    try:
        await session.start(conversation.agent)
        run = asyncio.ensure_future(session.run(user_input=message))
        done, _ = await asyncio.wait({run, closed}, timeout=EXCHANGE_TIMEOUT_SECONDS,
                                     return_when=asyncio.FIRST_COMPLETED)
        if fatal or closed.done():
            _reason, error = end_reason(None, fatal[0]) if fatal else end_reason(closed.result().reason,
                                                                                  closed.result().error)
            if error:
                raise ChatFailed(f"The model could not answer: {error}")
        if run not in done:
            run.cancel()
            if not closed.done():
                raise ChatFailed(f"The model did not answer within {EXCHANGE_TIMEOUT_SECONDS:.0f} s", timed_out=True)
            events = []
        else:
            events = run.result().events
    except ChatFailed:
        raise
    except Exception as exc:  # noqa: BLE001 - the model's failure, told to the user, not a 500
        log.warning("test chat %s failed: %s", session_id, exc.__class__.__name__)
        raise ChatFailed(f"The model could not answer: {safe_error_text(exc)}") from exc
    finally:
        await _close(session, closed)
        await conversation.aclose()  # the exchange is the conversation's lifetime in this process
        await conversation.recorder.drain()
    return _reply(session_id, events, ended=_ended(conversation))


def _ended(conversation) -> bool:
    control = getattr(conversation.userdata, "call_control", None)
    return bool(control is not None and control.ended)


async def _close(session, closed: asyncio.Future) -> None:
    if closed.done():
        return
    try:
        await asyncio.wait_for(session.aclose(), 10)
    except Exception:  # noqa: BLE001 - closing is best effort
        log.warning("a test chat session did not close cleanly", exc_info=True)


def _reply(session_id: uuid.UUID, events: list, *, ended: bool) -> ChatReply:
    said: list[str] = []
    calls: dict[str, ToolCallOut] = {}
    order: list[str] = []
    for event in events:
        if isinstance(event, ChatMessageEvent) and isinstance(event.item, ChatMessage) and event.item.role == "assistant":
            if text := (event.item.text_content or "").strip():
                said.append(text)
        elif isinstance(event, FunctionCallEvent):
            calls[event.item.call_id] = ToolCallOut(event.item.name, _arguments(event.item.arguments), "", False)
            order.append(event.item.call_id)
        elif isinstance(event, FunctionCallOutputEvent):
            out = calls.setdefault(event.item.call_id, ToolCallOut(event.item.name, {}, "", False))
            if event.item.call_id not in order:
                order.append(event.item.call_id)
            out.output, out.is_error = event.item.output, event.item.is_error
    return ChatReply(conversation_id=session_id, reply="\n".join(said), tool_calls=[calls[c] for c in order],
                     ended=ended)

