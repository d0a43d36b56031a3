"""The test chat's one entry point, shared by the API and the dashboard.

Checks first, through the services (signed in, ``agent:read`` in the agent's
organization, a conversation of this agent still open), then the Gemini key, and
only then the runtime is imported: refused requests and unconfigured installs never
load livekit, and the dashboard starts without it.
"""

from __future__ import annotations

import asyncio
import uuid

from voice_platform.errors import ValidationFailed
from voice_platform.runtime.chat_types import ChatFailed, ChatReply, ModelMissing, ToolCallOut  # noqa: F401 - re-exported
from voice_platform.settings import get_settings

MAX_MESSAGE = 4000
NO_KEY = "The test chat needs a Gemini API key: set GOOGLE_API_KEY and restart the app"


def _open_or_continue(token: str, agent_id: uuid.UUID, conversation_id: uuid.UUID | None) -> uuid.UUID:
    from voice_platform.db import session_scope
    from voice_platform.services import api_keys, calls

    with session_scope() as session:
        actor = api_keys.actor_from_token(session, token)  # a user's token or an API key
        if conversation_id is None:
            return calls.open_test_session(session, actor, agent_id).id
        return calls.get_test_session(session, actor, agent_id, conversation_id).id


async def send_test_message(
    token: str, agent_id: uuid.UUID, message: str, conversation_id: uuid.UUID | None = None,
) -> ChatReply:
    """One message from the user ``token`` signs in as; the agent's reply and the functions it called.

    Raises the services' DomainErrors (not signed in, not found, ended, empty message),
    ``ModelMissing`` without a Gemini key, ``ChatFailed`` when the model cannot answer.
    """
    text = (message or "").strip()
    if not text:
        raise ValidationFailed("Type a message for the agent", field="message")
    if len(text) > MAX_MESSAGE:
        raise ValidationFailed(f"A message is at most {MAX_MESSAGE} characters", field="message")
    session_id = await asyncio.to_thread(_open_or_continue, token, agent_id, conversation_id)
    if not get_settings().google_api_key:
        raise ModelMissing(NO_KEY)
    from voice_platform.runtime.chat import converse  # livekit and the Gemini plugin load here, once

    return await converse(session_id, text)
