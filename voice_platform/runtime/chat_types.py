"""The test chat's vocabulary, free of livekit: the API and the dashboard import this at start-up,
and ``test_chat.send_test_message`` loads the runtime (livekit, Gemini) only when a message is sent."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any


class ChatFailed(RuntimeError):
    """The model could not answer (unreachable, refused, too slow): the message says why."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


@dataclass
class ToolCallOut:
    name: str
    arguments: dict[str, Any]
    output: str
    is_error: bool


@dataclass
class ChatReply:
    conversation_id: uuid.UUID
    reply: str
    tool_calls: list[ToolCallOut] = field(default_factory=list)
    ended: bool = False


class ModelMissing(RuntimeError):
    """No GOOGLE_API_KEY: the test chat (like calls) needs one."""
