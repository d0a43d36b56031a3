"""The app granian serves for ``bench_outbound_webhook``: ``bench/webhook_app.py``'s (the real API
and the two bare endpoints), plus the outbound answer webhook dispatched ahead of FastAPI at
``AHEAD_PATH``, as ``api/app.py`` dispatches the incoming one: what that routing would gain,
measured beside the webhook served through the router."""

from __future__ import annotations

from bench import webhook_app
from voice_platform.api import voice

AHEAD_PATH = "/bench/outbound-ahead"


async def app(scope, receive, send):
    if scope["type"] == "http" and scope["path"] == AHEAD_PATH:
        await voice.outbound_app(scope, receive, send)
        return
    await webhook_app.app(scope, receive, send)
