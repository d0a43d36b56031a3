"""Test tools for the runtime: one with its own config and secret, one that fails and one that hangs."""

from __future__ import annotations

import asyncio

from livekit.agents import RunContext
from livekit.agents.llm import function_tool

from voice_platform.tools.base import BaseTool, ToolMetadata


class NotesTool(BaseTool):
    metadata = ToolMetadata(
        name="Test_notes",
        description="Business notes for tests.",
        config_schema={
            "type": "object",
            "properties": {"prefix": {"type": "string"}, "token": {"type": "string", "writeOnly": True}},
            "required": ["prefix"],
        },
        secret_fields=("token",),
    )

    @function_tool()
    async def lookup(self, context: RunContext, topic: str, pin: str = "") -> dict:
        """Look up a note.

        Args:
            topic: What the note is about.
            pin: The caller's PIN, when the note is private.
        """
        runtime = self.runtime(context)
        return {"note": f"{runtime.config['prefix']}:{topic}", "token_set": bool(runtime.secrets.get("token"))}


class FlakyTool(BaseTool):
    metadata = ToolMetadata(name="Test_flaky", description="Fails or hangs, for tests.")

    @function_tool()
    async def explode(self, context: RunContext) -> str:
        """Always fails."""
        raise RuntimeError("the backend of this tool is down")

    @function_tool()
    async def stall(self, context: RunContext) -> str:
        """Never answers."""
        await asyncio.Event().wait()
        return "never"

    @function_tool()
    async def unused(self, context: RunContext) -> str:
        """Switched off in the tests."""
        return "off"
