"""The app each web process of ``bench_campaign`` serves: the real API, with the campaign dialer
running in it as every web process runs it (``dialer.start_background`` is idempotent, so this is
the same whether or not the start-up work starts it too)."""

from __future__ import annotations

from voice_platform.api import create_app
from voice_platform.services import dialer

_api = create_app()


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        dialer.start_background()
    await _api(scope, receive, send)
