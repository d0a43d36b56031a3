"""Wakes open calls pages when their organization's calls start, change or end.

Calls change in other processes (the worker, Twilio's webhooks, another backend worker),
so each backend process keeps one feed: while any calls page is open it reads, once a
second, the fingerprint of every watched organization in ONE grouped query — however many
pages are open — and wakes the pages of the organizations that changed. Each open page
waits in a Reflex background event (``CallsState.follow``), the supported way for the
server to push state into a connected client; it reloads its list only when woken.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 1.0


class CallFeed:
    def __init__(self) -> None:
        self._waiting: dict[uuid.UUID, int] = {}  # organization -> pages waiting on it
        self._latest: dict[uuid.UUID, str] = {}
        self._tick = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def wait(self, org_id: uuid.UUID, known: str, timeout: float) -> bool:
        """True as soon as the organization's calls differ from ``known`` (the page's own
        fingerprint), False after ``timeout`` seconds without a change."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self._waiting[org_id] = self._waiting.get(org_id, 0) + 1
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run())
        try:
            while True:
                latest = self._latest.get(org_id)
                if latest is not None and latest != known:
                    return True
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                tick = self._tick
                try:
                    await asyncio.wait_for(tick.wait(), remaining)
                except asyncio.TimeoutError:
                    return False
        finally:
            self._waiting[org_id] -= 1
            if self._waiting[org_id] <= 0:
                self._waiting.pop(org_id, None)
                self._latest.pop(org_id, None)

    async def _run(self) -> None:
        while self._waiting:
            try:
                now = await asyncio.wait_for(asyncio.to_thread(_fingerprints, list(self._waiting)), 5)
            except Exception:  # noqa: BLE001 - the database is away: the pages keep what they show
                log.warning("call feed: could not read the calls' fingerprints", exc_info=True)
            else:
                self._latest.update(now)
                tick, self._tick = self._tick, asyncio.Event()
                tick.set()  # every waiting page compares, in memory, and only a changed one reloads
            await asyncio.sleep(INTERVAL_SECONDS)


def _fingerprints(orgs: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    from voice_platform.db import session_scope
    from voice_platform.services import call_history

    with session_scope() as session:
        return call_history.fingerprints(session, orgs)


feed = CallFeed()
