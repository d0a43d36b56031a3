"""The incoming-call webhook's ASGI fast path answers exactly as the same handler would as a FastAPI route.

``api.app`` hands ``INCOMING_ROUTE`` to ``voice.incoming_app`` ahead of FastAPI, which then
does for itself what FastAPI's layers did (read the body with a bound, answer a refused
signature or a wrong method with FastAPI's JSON errors). Here the same ``voice.incoming`` is
also served the ordinary way, a FastAPI route with the app's error handlers, and both answer
the same requests, byte for byte but for the session id a dialed call gets.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient

from tests.support.api import create_agent, signup, unique_phone
from tests.telephony.voice_support import call_params, post, signature, voice_settings  # noqa: F401 - fixture
from voice_platform.api import voice
from voice_platform.api.errors import install_error_handlers

INCOMING = voice.INCOMING_ROUTE
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

pytestmark = pytest.mark.usefixtures("voice_settings")


def _as_fastapi_route() -> FastAPI:
    """The public path: FastAPI reads the request, the app's handlers map a refusal to its 403."""
    app = FastAPI()
    install_error_handlers(app)

    @app.post(INCOMING)
    async def incoming(request: Request) -> Response:
        return await voice.incoming(await request.body(), request.scope["query_string"],
                                    request.headers.get("x-twilio-signature"))

    return app


@pytest.fixture()
def route_client(test_database):
    with TestClient(_as_fastapi_route()) as c:
        yield c


@pytest.fixture()
def number(client) -> str:
    return create_agent(client, signup(client, "parity"), phone_number=unique_phone())["phone_number"]


def _oversized(http, number: str):
    return post(http, INCOMING, call_params(number, Padding="x" * voice.MAX_BODY_BYTES))


def _without_call_sid(http, number: str):
    params = call_params(number)
    del params["CallSid"]
    return post(http, INCOMING, params)


def _bad_signature(http, number: str):
    params = call_params(number)
    return post(http, INCOMING, params, sig=signature(INCOMING, {**params, "To": "+15559999999"}))


def _unsigned(http, number: str):
    return http.post(INCOMING, content=urlencode(call_params(number)),
                     headers={"Content-Type": "application/x-www-form-urlencoded"})


# case -> (how it is asked, the status both answer)
REQUESTS: dict[str, tuple[Callable, int]] = {
    "dialed": (lambda http, number: post(http, INCOMING, call_params(number)), 200),
    "unknown_number": (lambda http, _number: post(http, INCOMING, call_params("+19999999999")), 200),
    "bad_signature": (_bad_signature, 403),
    "unsigned": (_unsigned, 403),
    "get": (lambda http, _number: http.get(INCOMING), 405),
    "over_large_body": (_oversized, 403),
    "missing_call_sid": (_without_call_sid, 200),
}


def _answer(response) -> tuple[int, str | None, str | None, str]:
    return (response.status_code, response.headers.get("content-type"), response.headers.get("allow"),
            UUID.sub("<session>", response.text))


@pytest.mark.parametrize("case", list(REQUESTS))
def test_the_fast_path_answers_as_the_fastapi_route_would(client, route_client, number, case):
    ask, status = REQUESTS[case]
    fast = ask(client, number)  # the real app: api.app hands the path to incoming_app
    routed = ask(route_client, number)
    assert _answer(fast) == _answer(routed)
    assert fast.status_code == status, fast.text
    if case == "dialed":
        sessions = [UUID.findall(r.text) for r in (fast, routed)]
        assert [len(ids) for ids in sessions] == [1, 1] and sessions[0] != sessions[1], sessions
        assert "<Dial" in fast.text and "<session>" in _answer(fast)[3]
