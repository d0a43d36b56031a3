"""/api/v1/agents/{agent_id}/test-chat: talk to an agent in text, exactly as a call runs it.

The runtime (livekit, Gemini) is imported when the first permitted message arrives,
never at start-up (``runtime.test_chat``), so the dashboard and the rest of the API stay free of it.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, status
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field

from voice_platform.api.deps import CurrentUser, SessionDep, _bearer
from voice_platform.errors import DomainError, IntegrationNotConfigured
from voice_platform.runtime import test_chat as chat
from voice_platform.services import calls

router = APIRouter(tags=["test chat"])
_RESPONSES = {
    401: {"description": "Not signed in"}, 404: {"description": "Agent or conversation not found"},
    409: {"description": "The conversation has ended"}, 502: {"description": "The model could not answer"},
    503: {"description": "GOOGLE_API_KEY is not set"}, 504: {"description": "The model did not answer in time"},
}


class TestChatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str = Field(min_length=1, max_length=4000)
    conversation_id: uuid.UUID | None = None


class ToolCallOut(BaseModel):
    name: str
    arguments: dict[str, Any]
    output: str
    is_error: bool


class TestChatOut(BaseModel):
    conversation_id: uuid.UUID
    reply: str
    tool_calls: list[ToolCallOut]
    ended: bool = Field(description="The agent ended the conversation (end_call); start a new one")


class ModelFailed(DomainError):
    status_code = 502


class ModelTimedOut(DomainError):
    status_code = 504


@router.post("/agents/{agent_id}/test-chat", response_model=TestChatOut, responses=_RESPONSES)
async def test_chat(
    agent_id: uuid.UUID, body: TestChatIn, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
) -> TestChatOut:
    token = credentials.credentials if credentials and credentials.scheme.lower() == "bearer" else ""
    try:
        reply = await chat.send_test_message(token, agent_id, body.message, body.conversation_id)
    except chat.ModelMissing as exc:
        raise IntegrationNotConfigured(str(exc)) from exc
    except chat.ChatFailed as exc:
        raise (ModelTimedOut if exc.timed_out else ModelFailed)(str(exc)) from exc
    return TestChatOut(conversation_id=reply.conversation_id, reply=reply.reply, ended=reply.ended,
                       tool_calls=[ToolCallOut(**vars(c)) for c in reply.tool_calls])


@router.post("/agents/{agent_id}/test-chat/{conversation_id}/end", status_code=status.HTTP_204_NO_CONTENT,
             responses={401: _RESPONSES[401], 404: _RESPONSES[404]})
def end_test_chat(agent_id: uuid.UUID, conversation_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> None:
    """Reset: close the conversation; the next message starts a new one."""
    calls.end_test_session(session, user, agent_id, conversation_id)
