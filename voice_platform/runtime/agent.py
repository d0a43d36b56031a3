"""One conversation with an agent, whatever carries it (a phone call in the worker, a test chat).

``build_conversation(session_id)`` reads the claimed call session's agent and
organization, assembles the agent's enabled tools with their configs and secrets,
wraps every function (bounded, recorded: ``tool_calls``), and writes the
instructions. The carrier then starts ``new_session()`` (Gemini Live, configured
by ``model``) and asks ``greet()`` for the first words. Tools and instructions are
fixed here, before the session starts: Gemini Live ignores changes mid-session. When the
conversation is over the carrier awaits ``aclose()`` (custom tools' MCP sessions end there).
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field

from livekit.agents import Agent, AgentSession
from livekit.agents.llm import ChatContext
from livekit.agents.voice import SpeechHandle

from voice_platform.db import session_scope
from voice_platform.models import CallSession, Organization, VoiceAgent
from voice_platform.models.calls import OUTBOUND
from voice_platform.runtime.assembly import AssembledTools, Userdata, assemble_agent_tools
from voice_platform.runtime.custom_tools import CustomToolCalls
from voice_platform.runtime.instructions import AgentBrief, build_instructions, greeting_request
from voice_platform.runtime.model import ModelChoice, realtime_model, require_api_key
from voice_platform.runtime.recorder import ConversationRecorder
from voice_platform.runtime.tool_calls import Invocation, Owner, Recorder, guard
from voice_platform.services import calls, placeholders, warm_transfer
from voice_platform.settings import get_settings
from voice_platform.tools.implementations.call_control import CallControl, unavailable_functions
from voice_platform.tools import registry as tool_registry
from voice_platform.tools.registry import ToolRegistry


class ConversationUnavailable(LookupError):
    """The session or its agent is gone: there is nothing to build."""


@dataclass
class CallConversation:
    """What the worker (``worker.entrypoint.Conversation``) and the test chat carry."""

    session_id: uuid.UUID
    agent: Agent
    userdata: Userdata
    brief: AgentBrief
    choice: ModelChoice
    recorder: ConversationRecorder
    function_names: list[str] = field(default_factory=list)
    custom_calls: CustomToolCalls | None = None
    # A call back from a warm transfer nobody took: what the model says first instead of the greeting.
    resume_note: str | None = None

    def new_session(self) -> AgentSession:
        session = AgentSession(llm=realtime_model(self.choice), userdata=self.userdata)
        self.recorder.attach(session)
        return session

    def greet(self, session: AgentSession) -> SpeechHandle:
        if self.resume_note is not None:
            return session.generate_reply(instructions=self.resume_note)
        return session.generate_reply(instructions=greeting_request(self.brief))

    async def aclose(self) -> None:
        """End what the conversation opened beyond the model session (MCP sessions); idempotent."""
        if self.custom_calls is not None:
            await self.custom_calls.aclose()


def _load(session_id: uuid.UUID) -> tuple[CallSession, VoiceAgent, Organization]:
    with session_scope() as session:
        call = session.get(CallSession, session_id)
        agent = session.get(VoiceAgent, call.agent_id) if call is not None else None
        org = session.get(Organization, agent.organization_id) if agent is not None else None
        if call is None or agent is None or org is None:
            raise ConversationUnavailable(f"call session {session_id} or its agent no longer exists")
        return call, agent, org


def _turns(session_id: uuid.UUID) -> list[tuple[str, str]]:
    with session_scope() as session:
        return [(t.role, t.text) for t in calls.turns(session, session_id)]


def _guarded_tools(assembled: AssembledTools, registry: ToolRegistry, recorder: ConversationRecorder,
                   hidden: set[str]) -> list:
    timeout = get_settings().tool_timeout_seconds
    schemas: dict[str, dict] = {}
    for tool_name in assembled.instances:
        schemas.update({s["name"]: s for s in registry.function_schemas(tool_name)})
    guarded = []
    for tool in assembled.function_tools:
        name = tool.info.name
        if name in hidden:
            continue
        tool_name, agent_tool_id = assembled.origins[name]
        cls = registry.get_tool_class(tool_name)
        owner = Owner(tool_name, agent_tool_id, tuple(cls.metadata.secret_fields) if cls else ())
        guarded.append(guard(tool, schemas[name], owner, timeout=timeout, record=recorder.tool_invocation))
    for custom in assembled.custom_functions:  # named apart from the code tools': none is hidden
        guarded.append(guard(custom.tool, custom.schema, custom.owner, timeout=custom.timeout,
                             record=_recorded_as(recorder.tool_invocation, custom.function_name)))
    return guarded


def _recorded_as(record: Recorder, function_name: str) -> Recorder:
    """A renamed custom function is recorded under its real name (the model saw a suffixed one)."""

    async def write(invocation: Invocation) -> None:
        await record(dataclasses.replace(invocation, function_name=function_name))

    return write


def build_conversation(
    session_id: uuid.UUID, *, registry: ToolRegistry | None = None, chat_ctx: ChatContext | None = None,
) -> CallConversation:
    """Everything a conversation needs, read once from the database (runs off the event loop)."""
    registry = registry or tool_registry.default_registry  # looked up per call: tests swap in their own
    require_api_key()  # before any database work: a call without a model fails at once, saying why
    call, agent, org = _load(session_id)
    resume_note = None
    if warm_transfer.resumed(call):  # the same conversation goes on: the model gets what was said
        resume_note = warm_transfer.resume_note(call)
        chat_ctx = chat_ctx or ChatContext()
        for role, text in _turns(session_id):
            chat_ctx.add_message(role=role, content=text)
    # caller_number is the person the agent talks to: the callee of an outbound call.
    outbound = call.direction == OUTBOUND
    person, line = (call.to_number, call.from_number) if outbound else (call.from_number, call.to_number)
    values = placeholders.call_values(caller_number=person, agent_number=line or agent.phone_number,
                                      timezone_name=org.timezone, variables=call.variables)
    brief = AgentBrief(
        agent_name=agent.name, organization_name=org.name, system_prompt=placeholders.fill(agent.system_prompt, values),
        greeting=placeholders.fill(agent.greeting, values), business_details=org.business_details,
        timezone=org.timezone,
    )
    recorder = ConversationRecorder(session_id)
    assembled = assemble_agent_tools(agent.id, registry=registry, session_id=session_id)
    assembled.userdata.call_session_id = session_id
    assembled.userdata.call_control = CallControl(
        session_id=session_id, call_sid=call.provider_call_id, transfer_number=agent.transfer_number,
    )
    hidden = set(unavailable_functions(agent.transfer_number, outbound=outbound))
    tools = _guarded_tools(assembled, registry, recorder, hidden)
    return CallConversation(
        session_id=session_id,
        agent=Agent(instructions=build_instructions(brief), tools=tools, chat_ctx=chat_ctx),
        userdata=assembled.userdata, brief=brief,
        choice=ModelChoice(model=agent.model, voice=agent.voice, language=agent.language),
        recorder=recorder, function_names=sorted(t.info.name for t in tools), custom_calls=assembled.custom_calls,
        resume_note=resume_note,
    )
