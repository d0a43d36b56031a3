"""A test tool covering the parameter kinds the registry must describe like LiveKit does."""

from __future__ import annotations

from typing import Literal, Optional

from livekit.agents import RunContext
from livekit.agents.llm import function_tool

from voice_platform.tools.base import BaseTool, ToolMetadata


class WeatherTool(BaseTool):
    metadata = ToolMetadata(
        name="Test_weather",
        description="Weather for tests.",
        config_schema={
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "units": {"type": "string", "enum": ["metric", "imperial"], "default": "metric"},
                "max_days": {"type": "integer", "minimum": 1, "maximum": 14},
                "api_key": {"type": "string", "minLength": 8, "writeOnly": True},
            },
            "required": ["api_key"],
        },
        secret_fields=("api_key",),
    )

    @function_tool()
    async def forecast(
        self,
        context: RunContext,
        city: str,
        days: int = 3,
        country: Optional[str] = None,
        units: Literal["metric", "imperial"] = "metric",
    ) -> dict:
        """Forecast for a city.

        Args:
            city: The city name.
            days: How many days ahead.
            country: ISO country code, when the city name is ambiguous.
            units: Unit system.
        """
        runtime = self.runtime(context)
        return {"city": city, "days": days, "units": units, "key_set": bool(runtime.secrets.get("api_key"))}

    @function_tool(name="current_conditions")
    async def now(self, context: RunContext, city: str) -> str:
        """Current conditions in a city.

        Args:
            city: The city name.
        """
        return f"sunny in {city}"

    async def not_a_tool(self) -> None:
        """Plain methods are not offered to the model."""
