"""Call control: the agent ends the call, hands the caller to a person, or stops calling someone.

A built-in tool like any other (attached per agent, each function switchable on the
tools page), but it acts on the call rather than on an outside service, so its
per-call data is not config: whoever carries the conversation puts a ``CallControl``
on the session's userdata (``userdata.call_control``; the worker does it per call).

Ending means recording the end, then closing LiveKit's ``AgentSession`` once the
goodbye has been spoken: the worker, seeing the session close, deletes the room and
LiveKit hangs up the SIP caller; a roomless test chat simply ends. Transferring goes
through Twilio's REST API, because the TwiML ``<Dial><Sip>`` route into LiveKit has no
SIP REFER: the parent call (the session's CallSid) gets new TwiML that dials the
human, and Twilio leaves LiveKit by itself. A warm transfer (the agent's ``transfer_mode``)
puts the caller on hold in a Twilio conference instead, while the person hears the briefing
the model wrote (``services.warm_transfer``); the session stays open, because the call goes
on in Twilio and may come back to the agent.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass

from livekit.agents import RunContext
from livekit.agents.llm import RealtimeModel, ToolError, function_tool

from voice_platform.tools.base import BaseTool, ToolMetadata

log = logging.getLogger(__name__)

TRANSFER_FUNCTION = "transfer_call"
DO_NOT_CALL_FUNCTION = "do_not_call"
GOODBYE_WAIT_SECONDS = 5.0  # a realtime model's reply to the tool output starts within this, or we end anyway
TWILIO_HTTP_TIMEOUT_SECONDS = 5.0  # per request, shorter than the wait: a late success cannot follow a reported failure
TWILIO_TIMEOUT_SECONDS = 8.0
WARM_TRANSFER = "warm_transfer"  # CallControl.ended while the caller is on hold: the worker must not finish the session
NO_ANSWER = "Sorry, nobody could take your call right now. Please call again later. Goodbye."


@dataclass
class CallControl:
    """What the call-control functions need to know about the call in progress.

    ``call_sid`` is Twilio's id of the caller's (parent) call: only phone calls have one.
    ``ended`` is set once a function has ended the call, so a repeated request is a no-op.
    """

    session_id: uuid.UUID | None
    call_sid: str | None = None
    transfer_number: str | None = None
    ended: str | None = None
    transfer_mode: str = "cold"  # the agent's: cold (dial the person) | warm (hold, briefing, press 1)


def unavailable_functions(transfer_number: str | None, *, outbound: bool = False) -> list[str]:
    """Functions this call must not offer: the function list is built per call, with these left out.
    ``do_not_call`` is for a callee who asks not to be called again: offered on outbound calls."""
    hidden = [] if transfer_number else [TRANSFER_FUNCTION]
    return hidden if outbound else [*hidden, DO_NOT_CALL_FUNCTION]


def transfer_twiml(number: str) -> str:
    """TwiML for the parent call: dial the human; if nobody answers, say so and hang up (never silence)."""
    from twilio.twiml.voice_response import VoiceResponse

    response = VoiceResponse()
    response.dial(number, timeout=25, answer_on_bridge=True)
    response.say(NO_ANSWER)
    response.hangup()
    return str(response)


class CallControlTool(BaseTool):
    metadata = ToolMetadata(
        name="Call_control",
        description="End the call when the conversation is over, or transfer the caller to a person "
        "(the agent's transfer number).",
    )

    @function_tool()
    async def end_call(self, context: RunContext) -> str:
        """End the phone call. Use it when the caller says goodbye or the conversation is finished,
        never while the caller still needs something.
        """
        call = _call_control(context)
        if call.ended:
            return "The call is already ending."
        call.ended = "agent_ended"
        await _finish(call, "agent_ended")
        _close_after_reply(context)
        return "Say a short goodbye to the caller now; the call ends when you finish speaking."

    @function_tool()
    async def transfer_call(self, context: RunContext, briefing: str = "") -> str:
        """Transfer the caller to a person at the business. Use it when the caller asks for a person
        or you cannot help. Tell the caller you are transferring them before you call this.

        Args:
            briefing: One or two sentences for the person taking the call: who is calling, what they
                want, and what you have already done.
        """
        call = _call_control(context)
        if not call.transfer_number:
            raise ToolError("Transferring is not set up for this agent. Offer to help or to take a message instead.")
        if not call.call_sid:
            raise ToolError("This conversation is not a phone call, so it cannot be transferred.")
        if call.ended:
            return "The call is already ending."
        if call.transfer_mode == "warm":
            return await _warm_transfer(context, call, briefing)
        await context.wait_for_playout()  # "I'll put you through" is heard before the line switches
        try:
            await asyncio.wait_for(
                asyncio.to_thread(_update_call, call.call_sid, transfer_twiml(call.transfer_number)),
                TWILIO_TIMEOUT_SECONDS,
            )
        except Exception as exc:  # noqa: BLE001 - any failure: the caller stays with the agent
            log.warning("transfer of session %s failed: %s", call.session_id, exc.__class__.__name__)
            raise ToolError(
                "The transfer did not go through. Apologise, and offer to help or to take a message."
            ) from exc
        call.ended = "transferred"
        await _finish(call, "transferred")
        # the caller already hears the human's line: close without waiting for more speech
        context.speech_handle.add_done_callback(lambda _h: context.session.shutdown(drain=False))
        return "The caller has been transferred; the call with you is over."


    @function_tool()
    async def do_not_call(self, context: RunContext) -> str:
        """Put the person you are talking to on the business's do-not-call list, so it never calls
        them again. Use it only when they ask not to be called again; then confirm it to them.
        """
        call = _call_control(context)
        if call.session_id is None:
            raise ToolError("This conversation is not a phone call, so there is no number to list.")
        try:
            number = await asyncio.to_thread(_list_other_party, call.session_id)
        except Exception as exc:  # noqa: BLE001 - the model must not promise what was not done
            log.warning("do_not_call for session %s failed: %s", call.session_id, exc.__class__.__name__)
            raise ToolError("The number could not be added right now. Apologise and say the business will "
                            "make sure they are not called again.") from exc
        if number is None:
            raise ToolError("This call has no phone number to list (the number is withheld or this is a test).")
        return "Done: the business will not call this number again. Confirm this to them."


async def _warm_transfer(context: RunContext, call: CallControl, briefing: str) -> str:
    """Put the caller on hold while the person hears the briefing (``warm_transfer_legs.start``).

    ``ended`` is set before Twilio moves the caller, so the worker, seeing the SIP leg drop,
    knows the session goes on; a failure clears it again: the caller never left the agent.
    """
    from voice_platform.services import warm_transfer, warm_transfer_legs

    if not " ".join((briefing or "").split()):
        raise ToolError("Call transfer_call again with a briefing for the person: who is calling, what they want, "
                        "and what you have done.")
    await context.wait_for_playout()  # "let me connect you" is heard before the hold music
    call.ended = WARM_TRANSFER
    try:
        await asyncio.wait_for(asyncio.to_thread(warm_transfer_legs.start, call.session_id, briefing),
                               TWILIO_TIMEOUT_SECONDS)
    except warm_transfer.TransferRefused as refused:
        call.ended = None
        raise ToolError(str(refused)) from refused
    except Exception as exc:  # noqa: BLE001 - any failure: the caller stays with the agent
        call.ended = None
        log.warning("warm transfer of session %s failed: %s", call.session_id, exc.__class__.__name__)
        raise ToolError("The transfer did not go through. Apologise, and offer to help or to take a message.") from exc
    # the caller hears the hold music now; the SIP leg into LiveKit ends, and with it this session
    context.speech_handle.add_done_callback(lambda _h: context.session.shutdown(drain=False))
    return "The caller is on hold while a person is asked to take the call; your part of the call is over."


def _list_other_party(session_id: uuid.UUID) -> str | None:
    from voice_platform.db import session_scope
    from voice_platform.services import do_not_call

    with session_scope() as session:
        return do_not_call.add_from_call(session, session_id)


def _call_control(context: RunContext) -> CallControl:
    try:
        call = getattr(context.userdata, "call_control", None)
    except ValueError:  # an AgentSession without userdata
        call = None
    if not isinstance(call, CallControl):
        raise ToolError("Call control is not available in this conversation.")
    return call


def _update_call(call_sid: str, twiml: str) -> None:
    """Give the caller's parent call new TwiML through the Twilio adapter (the account's credentials,
    its bounded HTTP client); any failure raises, and the caller stays with the agent."""
    from voice_platform.telephony import twilio_rest

    twilio_rest.update_call_twiml(call_sid, twiml, timeout=TWILIO_HTTP_TIMEOUT_SECONDS)


async def _finish(call: CallControl, reason: str) -> None:
    """Record the end now (first writer wins), so a later hang-up event does not call it the caller's."""
    if call.session_id is None:
        return
    from voice_platform.db import session_scope
    from voice_platform.services import calls

    def finish() -> None:
        with session_scope() as session:
            calls.finish_session(session, call.session_id, reason=reason)

    try:
        await asyncio.to_thread(finish)
    except Exception:  # noqa: BLE001 - the call still ends; the close handler records what it can
        log.exception("could not record the end of session %s", call.session_id)


def _close_after_reply(context: RunContext) -> None:
    """Close the session once the goodbye has been spoken.

    A realtime model (Gemini Live) answers a tool output by itself, in a new speech after
    the one that called the tool: wait for that one (bounded), then close. Other LLMs
    speak the reply within the same speech handle, so its end is the moment. The
    listener is attached now, before the tool returns, so a quick reply is not missed.
    """
    session, tool_turn = context.session, context.speech_handle
    llm = session.current_agent.llm or session.llm
    if not (isinstance(llm, RealtimeModel) and llm.capabilities.auto_tool_reply_generation):
        tool_turn.add_done_callback(lambda _h: session.shutdown())
        return
    replies: asyncio.Queue = asyncio.Queue()

    def on_created(ev) -> None:
        if ev.speech_handle is not tool_turn:
            replies.put_nowait(ev.speech_handle)

    async def close_after_goodbye() -> None:
        try:
            await tool_turn
            goodbye = await asyncio.wait_for(replies.get(), GOODBYE_WAIT_SECONDS)
            await asyncio.wait_for(goodbye.wait_for_playout(), 30)
        except asyncio.TimeoutError:
            log.info("no goodbye from the model in time; ending the call anyway")
        finally:
            session.off("speech_created", on_created)
            session.shutdown()

    session.on("speech_created", on_created)
    task = asyncio.get_running_loop().create_task(close_after_goodbye())
    _closing.add(task)
    task.add_done_callback(_closing.discard)


_closing: set[asyncio.Task] = set()  # keeps the closing tasks alive until they are done
