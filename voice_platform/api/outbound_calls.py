"""POST /api/v1/agents/{agent_id}/calls: the agent calls a number.

Thin: the checks, the session and Twilio are ``services/outbound_calls.py``'s. The schema
declares what the service enforces (E.164 ``to``; variables: a flat object of at most 50
scalars named like placeholders), so a generated client sends what is taken. Refusals a person
can act on each have their own status: the number on the do-not-call list or the agent switched
off 409, the plan's lines all busy (or its minutes used up) 429, Twilio failing 502 (the call's
session is then closed as ``dial_failed``), Twilio or LiveKit SIP not configured 503.

No request transaction is used for the work: the service commits the session (and its slot)
before Twilio is asked, and records Twilio's answer in a transaction of its own.
"""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from voice_platform.api.deps import CurrentUser
from voice_platform.api.schemas import E164, TEXT, declared
from voice_platform.services import outbound_calls as service
from voice_platform.services.placeholders import NAME_PATTERN

router = APIRouter(prefix="/agents/{agent_id}/calls", tags=["calls"])

_VALUE = {"anyOf": [{"type": "string", "maxLength": service.MAX_VALUE_LENGTH, "pattern": TEXT},
                    {"type": "number"}, {"type": "boolean"}, {"type": "null"}]}
_RESPONSES = {
    401: {"description": "Not signed in"},
    403: {"description": "Not allowed (agent:update)"},
    404: {"description": "Agent not found"},
    409: {"description": "The number is on the do-not-call list, or the agent is switched off"},
    422: {"description": "Not an E.164 number, invalid variables, or the agent has no number"},
    429: {"description": "Every call line of the plan is in use, or its minutes are used up"},
    502: {"description": "Twilio refused or did not answer; the call was not placed"},
    503: {"description": "Twilio or LiveKit SIP is not configured"},
}


class OutboundCallIn(BaseModel):
    to: str = Field(max_length=32, description="The number to call, E.164", **E164)
    variables: dict[str, str | bool | int | float | None] = Field(
        default_factory=dict, description="Values for the {{placeholders}} of the agent's prompt, greeting "
                                          "and voicemail message",
        **declared(maxProperties=service.MAX_VARIABLES, propertyNames={"pattern": NAME_PATTERN},
                   additionalProperties=_VALUE),
    )


class OutboundCallOut(BaseModel):
    call_id: uuid.UUID
    status: Literal["queued"]


@router.post("", response_model=OutboundCallOut, status_code=status.HTTP_201_CREATED, responses=_RESPONSES)
def place_call(agent_id: uuid.UUID, body: OutboundCallIn, user: CurrentUser) -> OutboundCallOut:
    """Place a call from the agent's number; the agent speaks first when the callee answers.
    Follow it in the calls list (``call_id``) like any call."""
    placed = service.place_call(user, agent_id, body.to, body.variables)
    return OutboundCallOut(call_id=placed.call_id, status="queued")
