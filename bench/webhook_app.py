"""The app granian serves for ``bench_webhook``: the real API, plus two bare endpoints beside it.

Both answer a fixed TwiML document of the same shape as the webhook's, after reading the
request body as the webhook must:

- ``BARE_PATH``, in front of the API: what granian + one ASGI call cost (the server's ceiling);
- ``BARE_APP_PATH``, a route of the API app in the very place of the webhook (same router,
  same kind of route): FastAPI's middleware stack, its walk through the nested routers to
  ``/api/v1/voice/twilio/``, the request and response objects, i.e. everything the webhook
  pays before and after its own code.

Every other path goes to ``voice_platform.api.create_app()`` (signature check, agent lookup,
session upsert, TwiML). One worker serves all three, so the ratios compare our code only.
"""

from __future__ import annotations

import os
import time

from starlette.requests import Request
from starlette.responses import Response

from voice_platform.api import create_app, voice

BARE_PATH = "/bench/bare"
BARE_APP_PATH = "/api/v1/voice/twilio/bench-bare"
BARE_TWIML = (
    b'<?xml version="1.0" encoding="UTF-8"?><Response><Dial answerOnBridge="true" '
    b'action="https://voice.example.com/api/v1/voice/twilio/dial-status" method="POST">'
    b'<Sip username="twilio-in" password="bench-password">sip:+14155550100@bench.sip.livekit.cloud;'
    b"transport=tcp?X-Vp-Session=00000000-0000-0000-0000-000000000000</Sip></Dial></Response>"
)
_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/xml"), (b"content-length", str(len(BARE_TWIML)).encode())],
}
_BODY = {"type": "http.response.body", "body": BARE_TWIML}


async def bare_in_app(request: Request) -> Response:
    await request.body()
    return Response(BARE_TWIML, media_type="application/xml")


# Added to the voice router (in this process only) before the app is built from it; like the
# webhook's, a plain route whose path carries the router's prefix but not the app's /api/v1.
voice.router.add_route(BARE_APP_PATH.removeprefix("/api/v1"), bare_in_app, methods=["POST"], include_in_schema=False)
_api = create_app()

# bench_webhook_tracing's control server: EXTRA_WORK_US µs of plain CPU added to every incoming
# call, telemetry off, to tell what any added work costs the webhook from what tracing costs.
EXTRA_WORK_US = float(os.environ.get("BENCH_EXTRA_WORK_US") or 0)
if EXTRA_WORK_US:
    _answer = voice._incoming

    async def _with_extra_work(*args):
        until = time.perf_counter() + EXTRA_WORK_US / 1e6
        while time.perf_counter() < until:
            pass
        return await _answer(*args)

    voice._incoming = _with_extra_work


async def app(scope, receive, send):
    if scope["type"] == "http" and scope["path"] == BARE_PATH:
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        await send(_START)
        await send(_BODY)
        return
    await _api(scope, receive, send)
