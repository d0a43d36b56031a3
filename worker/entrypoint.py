"""One job = one call: identify it, build the agent, answer, and close the session once.

    job received -> identify (claim the session) -> the runtime builds the conversation
    -> AgentSession starts in the room, linked to the caller -> greeting
    -> ... -> the session closes (caller hung up, end_call, transfer, error)
    -> end recorded -> room deleted (LiveKit hangs up the SIP leg) -> job ends

Setup time is measured here because only the worker sees both halves: our part is job
received -> session ready (identify, database, tools, instructions, session start),
the model's is session ready -> the greeting starting to play. The webhook's start
(``started_at``) to the job is LiveKit's and Twilio's dispatch, logged with the total.

Nothing may leave the caller in silence: a refused call hears a one-line goodbye when
the model can say it, and any failure closes the session (failed, with the reason)
before the room is deleted, so the Twilio Dial ``action`` speaks the apology.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from livekit import rtc
from livekit.agents import Agent, AgentSession, JobContext
from livekit.agents.voice import SpeechHandle
from livekit.agents.voice import room_io
from livekit.plugins.google.realtime import RealtimeModel  # plugins register on the main thread: import here

from voice_platform import telemetry
from voice_platform.models.base import aware, utcnow
from voice_platform.settings import get_settings
from voice_platform.tools.implementations.call_control import WARM_TRANSFER, CallControl, unavailable_functions
from worker import ending
from worker.identify import CallIdentity, CallRefused, identify_call, parse_job_metadata

log = logging.getLogger(__name__)

CALLER_KINDS = [rtc.ParticipantKind.PARTICIPANT_KIND_SIP, rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD]
CALLER_WAIT_SECONDS = 20.0  # a dispatched job whose caller never joins ends
GREETING_WAIT_SECONDS = 15.0  # no greeting by then: the model is not answering; end, never dead air
REFUSAL_GOODBYE = "Sorry, this call cannot be connected right now. Goodbye."


class Conversation(Protocol):
    """What the worker needs from the runtime's ``build_conversation(session_id)``.

    The runtime (``voice_platform.runtime.agent``) loads the agent, its instructions,
    enabled tools and model from the database for the claimed session; the worker only
    carries it: it puts ``call_control`` on ``userdata``, settles the function list,
    starts ``new_session()`` in the room and asks ``greet(session)`` for the greeting.
    """

    agent: Agent
    userdata: Any
    # optional: ``recorder.drain()`` is awaited at the end, so the transcript is whole when the call is closed,
    # and ``aclose()`` once the session is closed (tool connections the conversation opened)

    def new_session(self) -> AgentSession: ...

    def greet(self, session: AgentSession) -> SpeechHandle: ...


async def entrypoint(ctx: JobContext) -> None:
    """The job function ``WorkerOptions`` runs (module level, so job processes can import it)."""
    await answer(ctx)


async def answer(ctx: JobContext, *, build: Callable[[uuid.UUID], Conversation] | None = None) -> None:
    """Answer the job's call; ``build(session_id)`` makes the conversation (the runtime's by default)."""
    received = time.perf_counter()
    await ctx.connect()  # a fake job (tests) is already "connected" without a room
    participant = None
    try:
        if not _metadata_names_a_session(ctx.job.metadata):
            participant = await asyncio.wait_for(ctx.wait_for_participant(kind=CALLER_KINDS), CALLER_WAIT_SECONDS)
        call = await identify_call(
            job_metadata=ctx.job.metadata, room=ctx.room, participant=participant, room_name=ctx.room.name or None,
        )
    except asyncio.TimeoutError:
        log.warning("no caller joined room %s within %.0f s; leaving", ctx.room.name, CALLER_WAIT_SECONDS)
        ctx.shutdown(reason="no caller")
        return
    except CallRefused as refused:  # logged by identify_call
        if refused.reason == "duplicate_job":
            ctx.shutdown(reason="duplicate job")  # the call is someone else's: leave it alone
            return
        await _say_goodbye(ctx, participant)
        await ending.hang_up(ctx, reason=f"refused: {refused.reason}")
        return
    await run_call(ctx, call, participant, received, build)


async def run_call(
    ctx: JobContext, call: CallIdentity, participant, received: float, build: Callable[[uuid.UUID], Conversation] | None,
) -> None:
    with telemetry.continue_trace(call.trace_context, "call.worker_job", **{
            "call.session_id": str(call.session_id), "call.agent_id": str(call.agent_id),
            "call.source": call.source}) as span:
        reason = await _run_call(ctx, call, participant, received, build)
        span.set_attribute("call.end_reason", reason)
    telemetry.instruments().calls_ended.add(1, {"end_reason": reason})


async def _run_call(
    ctx: JobContext, call: CallIdentity, participant, received: float, build: Callable[[uuid.UUID], Conversation] | None,
) -> str:
    if build is None:
        from voice_platform.runtime.agent import build_conversation as build

    async def on_job_shutdown(shutdown_reason: str) -> None:
        # a worker stopped mid-call (deploy, crash of the room): the session must not stay "active";
        # but a caller on hold for a warm transfer is still on the call (in Twilio), not ours to end
        if _on_hold(conversation):
            return
        await ending.finish(call.session_id, "error", f"the job shut down: {shutdown_reason}"[:200])

    ctx.add_shutdown_callback(on_job_shutdown)  # a no-op after a normal end: the first finish wins
    closed: asyncio.Future = asyncio.get_running_loop().create_future()
    session: AgentSession | None = None
    conversation: Conversation | None = None
    try:
        conversation = await asyncio.to_thread(build, call.session_id)
        await _attach_call_control(conversation, call)
        session = conversation.new_session()
        session.on("close", lambda ev: closed.done() or closed.set_result(ev))
        await session.start(conversation.agent, **_room_arguments(ctx, participant))
        ready = time.perf_counter()
        greeted = await _greet(session, conversation, closed)
        if greeted is None and not closed.done():  # silence instead of a greeting: end it, never dead air
            log.error("call %s: no greeting within %.0f s", call.session_id, GREETING_WAIT_SECONDS)
            reason, error = ending.MODEL_UNAVAILABLE, f"the model did not greet within {GREETING_WAIT_SECONDS:.0f} s"
        else:
            if greeted is not None:
                await _record_setup(call, received, ready, greeted)
                telemetry.instruments().calls_started.add(1, {"source": call.source})
            event = await closed
            reason, error = ending.end_reason(event.reason, event.error)
    except Exception as exc:  # noqa: BLE001 - whatever broke, the caller is hung up and the session failed
        log.exception("call %s failed", call.session_id)
        reason, error = "error", ending.safe_error_text(exc)
    finally:
        if session is not None and not closed.done():
            try:
                await asyncio.wait_for(session.aclose(), 10)
            except Exception:  # noqa: BLE001 - closing is best effort; the room goes next
                log.warning("call %s: the session did not close cleanly", call.session_id)
        await _close_conversation(conversation)
        recorder = getattr(conversation, "recorder", None)
        if recorder is not None:
            await recorder.drain()  # the last words are stored before the call is reported over
    if _on_hold(conversation):  # the caller left for the warm transfer's hold: the call goes on in Twilio
        log.info("call %s: caller on hold for a warm transfer; this leg ends, the session stays open",
                 call.session_id)
        reason = WARM_TRANSFER
    elif await ending.finish(call.session_id, reason, error):
        log.info("call %s ended: %s", call.session_id, reason)
    await ending.hang_up(ctx, reason=reason)
    return reason


def _on_hold(conversation: Conversation | None) -> bool:
    """The call-control tool moved the caller to a warm transfer's hold (``CallControl.ended``)."""
    control = getattr(getattr(conversation, "userdata", None), "call_control", None)
    return getattr(control, "ended", None) == WARM_TRANSFER


async def _close_conversation(conversation: Conversation | None) -> None:
    """End what the conversation opened besides the model session (custom tools' MCP sessions)."""
    close = getattr(conversation, "aclose", None)
    if close is None:
        return
    try:
        await asyncio.wait_for(close(), 10)
    except Exception:  # noqa: BLE001 - the call is over either way; the server times the session out
        log.warning("could not close the conversation's tool sessions", exc_info=True)


async def _attach_call_control(conversation: Conversation, call: CallIdentity) -> None:
    """Give the call-control tool this call's data, and offer only the functions this call can use.

    Tools are fixed when the Gemini session starts, so the list is settled here, before it.
    """
    conversation.userdata.call_control = CallControl(
        session_id=call.session_id, call_sid=call.twilio_call_sid, transfer_number=call.transfer_number,
        transfer_mode=call.transfer_mode,
    )
    hidden = set(unavailable_functions(call.transfer_number, outbound=call.outbound))
    tools = conversation.agent.tools
    offered = [t for t in tools if getattr(getattr(t, "info", None), "name", None) not in hidden]
    if len(offered) != len(tools):
        await conversation.agent.update_tools(offered)


def _room_arguments(ctx: JobContext, participant) -> dict:
    """The room and its options for a real call; nothing for a roomless fake job (tests)."""
    if not ctx.room.isconnected():
        return {}
    options = room_io.RoomOptions(
        participant_kinds=CALLER_KINDS,
        close_on_disconnect=True,  # the caller hanging up closes the session: caller_hangup
        delete_room_on_close=False,  # we delete it ourselves, after the end is recorded
    )
    if participant is not None:
        options.participant_identity = participant.identity  # the caller, not whoever joins next
    return {"room": ctx.room, "room_options": options}


async def _greet(session: AgentSession, conversation: Conversation, closed: asyncio.Future) -> float | None:
    """Ask for the greeting; the moment it starts playing (perf_counter), or None when it never does."""
    loop = asyncio.get_running_loop()
    speaking: asyncio.Future = loop.create_future()

    def on_state(ev) -> None:
        if ev.new_state == "speaking" and not speaking.done():
            speaking.set_result(time.perf_counter())

    session.on("agent_state_changed", on_state)
    played = None
    try:
        handle = conversation.greet(session)
        played = asyncio.ensure_future(handle.wait_for_playout())
        done, _ = await asyncio.wait({speaking, played, closed}, timeout=GREETING_WAIT_SECONDS,
                                     return_when=asyncio.FIRST_COMPLETED)
        if speaking in done or (played in done and not played.exception()):
            return speaking.result() if speaking.done() else time.perf_counter()
        return None
    finally:
        session.off("agent_state_changed", on_state)
        if played is not None and not played.done():
            played.cancel()


async def _record_setup(call: CallIdentity, received: float, ready: float, greeted: float) -> None:
    ours_ms, model_ms = (ready - received) * 1000, (greeted - ready) * 1000

    def write() -> None:
        from voice_platform.db import session_scope
        from voice_platform.services import calls

        with session_scope() as session:
            calls.record_setup_times(session, call.session_id, ours_ms=ours_ms, model_ms=model_ms)

    try:
        await asyncio.to_thread(write)
    except Exception:  # noqa: BLE001 - a missing figure never ends a call
        log.exception("could not record setup times of %s", call.session_id)
    started = aware(call.started_at)
    total_ms = (utcnow() - started).total_seconds() * 1000 if started else None
    # total - ours - model = Twilio's and LiveKit's part (webhook answered -> job dispatched)
    if total_ms is not None:
        telemetry.instruments().call_setup.record(total_ms, {"part": "total"})
    telemetry.instruments().call_setup.record(ours_ms, {"part": "ours"})
    log.info("call %s answered: ours %.0f ms, model %.0f ms, since the webhook %s ms", call.session_id, ours_ms,
             model_ms, f"{total_ms:.0f}" if total_ms is not None else "?")


async def _say_goodbye(ctx: JobContext, participant) -> None:
    """A refused caller hears one line when the model is reachable; otherwise the line just ends.

    Built here, not by the runtime: there is no agent to build (the session was refused),
    only the default model saying one fixed sentence.
    """
    settings = get_settings()
    if participant is None or not ctx.room.isconnected() or not settings.google_api_key:
        return
    session = None
    try:
        model = RealtimeModel(model=settings.gemini_model, api_key=settings.google_api_key)
        session = AgentSession(llm=model)
        await session.start(Agent(instructions="You only say the one sentence you are asked to say."),
                            **_room_arguments(ctx, participant))
        handle = session.generate_reply(instructions=f'Say exactly this, then stop: "{REFUSAL_GOODBYE}"')
        await asyncio.wait_for(handle.wait_for_playout(), 10)
    except Exception:  # noqa: BLE001 - no goodbye possible: hang up without one
        log.warning("could not say goodbye to a refused caller in room %s", ctx.room.name, exc_info=True)
    finally:
        if session is not None:
            await session.aclose()


def _metadata_names_a_session(metadata: str | None) -> bool:
    try:
        return parse_job_metadata(metadata) is not None
    except CallRefused:
        return True  # malformed: identify_call refuses it (and logs it) without waiting for a caller
