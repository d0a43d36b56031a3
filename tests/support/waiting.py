"""Waiting without sleeping blind: poll a condition until a deadline."""

from __future__ import annotations

import asyncio
import time


async def until(predicate, timeout: float = 15.0, interval: float = 0.02):
    """The predicate's first truthy value; AssertionError when the deadline passes first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        await asyncio.sleep(interval)
    raise AssertionError("condition not met in time")
