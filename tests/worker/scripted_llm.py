"""A scripted LLM for LiveKit's own AgentSession: a pipeline (non-realtime) model in text mode.

Each turn answers with the next scripted step: a function call, or text. It records
what it was offered and each tool output it saw, so tests assert on the model's view.
"""

from __future__ import annotations

import json

from livekit.agents.llm import LLM, ChatChunk, ChoiceDelta, FunctionToolCall, LLMStream
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS


class ScriptedLLM(LLM):
    def __init__(self, steps: list[tuple[str, str | dict]]) -> None:
        """``steps``: ("call", {"name":..., "arguments":{...}}) or ("say", "text"), used in order."""
        super().__init__()
        self.steps = list(steps)
        self.offered: list[list[str]] = []
        self.tool_outputs: list[str] = []

    def chat(self, *, chat_ctx, tools=None, conn_options=DEFAULT_API_CONNECT_OPTIONS, **_kwargs) -> LLMStream:
        self.offered.append(sorted(t.info.name for t in tools or [] if hasattr(t, "info")))
        return _Stream(self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options)


class _Stream(LLMStream):
    async def _run(self) -> None:
        llm: ScriptedLLM = self._llm  # type: ignore[assignment]
        items = self._chat_ctx.items
        if items and items[-1].type == "function_call_output":
            llm.tool_outputs.append(items[-1].output)
        kind, value = llm.steps.pop(0) if llm.steps else ("say", "")
        if kind == "call":
            call = FunctionToolCall(name=value["name"], arguments=json.dumps(value.get("arguments", {})),
                                    call_id=f"call_{len(llm.tool_outputs)}_{value['name']}")
            self._event_ch.send_nowait(ChatChunk(id="c", delta=ChoiceDelta(role="assistant", tool_calls=[call])))
        else:
            self._event_ch.send_nowait(ChatChunk(id="c", delta=ChoiceDelta(role="assistant", content=value)))
