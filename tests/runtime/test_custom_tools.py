"""Custom tools in a conversation: a real MCP server and a real HTTP API on 127.0.0.1, reached through the
test chat with the fake Gemini Live; what the model is offered, what reaches the servers, what is recorded
(and that the secret headers are nowhere), the circuit breaker and the per-conversation call limit."""

from __future__ import annotations

import json
import logging
import uuid

import pytest

from tests.fakes.http_api import FakeHttpApi
from tests.fakes.mcp_server import FakeMcpServer
from tests.runtime.conftest import attach, attach_custom, create_custom_tool
from tests.runtime.test_conversation import _open_test_session, _tool_responses
from tests.support.api import create_agent, signup
from voice_platform.db import session_scope
from voice_platform.runtime import chat, circuit_breaker
from voice_platform.runtime.circuit_breaker import CallLimit, CircuitBreaker, ServiceUnavailable
from voice_platform.runtime.custom_tools import CustomToolCalls, run_once
from voice_platform.services import calls
from voice_platform.services.custom_tools import RunnableCustomTool, RunnableFunction

MCP_SECRET = "Bearer mcp-secret-7f3a91"
HTTP_SECRET = "http-secret-c0ffee42"
ORDER_PARAMETERS = {"type": "object", "properties": {"order_id": {"type": "string"}, "verbose": {"type": "boolean"}},
                    "required": ["order_id"]}


class Clock:
    """A clock the test moves by hand (the breaker's time, without sleeping)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def fresh_breaker(monkeypatch) -> Clock:
    """A breaker of this test only, on a hand-moved clock (the process-wide one outlives tests)."""
    clock = Clock()
    monkeypatch.setattr(circuit_breaker, "breaker", CircuitBreaker(clock=clock))
    return clock


@pytest.fixture()
def mcp_server():
    with FakeMcpServer() as server:
        yield server


@pytest.fixture()
def http_api():
    with FakeHttpApi() as api:
        yield api


def _stored(session_id: uuid.UUID) -> tuple[list, list]:
    with session_scope() as session:
        return list(calls.turns(session, session_id)), list(calls.tool_invocations(session, session_id))


def _http_tool(url: str, *, method: str = "GET", name: str = "Order status", headers=None, parameters=None,
               timeout: float = 5.0) -> RunnableCustomTool:
    return RunnableCustomTool(
        custom_tool_id=uuid.uuid4(), tool_id=uuid.uuid4(), agent_tool_id=uuid.uuid4(), kind="http", name=name,
        url=url, method=method, timeout_seconds=timeout, headers=dict(headers or {}),
        functions=(RunnableFunction("order_status", "Where an order is.", parameters or ORDER_PARAMETERS),),
    )


# -- through the test chat --------------------------------------------------------------------------
async def test_an_mcp_tool_offers_only_its_enabled_functions_and_its_answer_reaches_the_model(
        gemini, client, outbound_loopback, mcp_server, caplog):
    caplog.set_level(logging.DEBUG)
    admin = signup(client, "mcp")
    agent = create_agent(client, admin, greeting="")
    shop = create_custom_tool(client, admin, kind="mcp", name="Shop", description="The shop's orders and stock",
                              url=mcp_server.url, headers={"Authorization": MCP_SECRET})
    assert {f["name"] for f in shop["functions"]} == {"lookup_order", "check_stock"}
    attach_custom(client, admin, agent["id"], shop, unselected_functions=["check_stock"])
    requests_before = len(mcp_server.requests)
    gemini.replies = [[{"call": "lookup_order", "args": {"order_id": "A-1"}}], [{"say": "Your order has shipped."}]]

    session_id = _open_test_session(agent["id"])
    reply = await chat.converse(session_id, "Where is order A-1?")

    assert gemini.declared_functions() == ["lookup_order"]  # check_stock is switched off on this agent
    assert mcp_server.calls == [("lookup_order", {"order_id": "A-1"})]
    answer = {r["name"]: r["response"] for r in _tool_responses(gemini)}["lookup_order"]
    assert "shipped" in json.dumps(answer) and "2026-12-12" in json.dumps(answer)
    assert reply.reply == "Your order has shipped." and [c.name for c in reply.tool_calls] == ["lookup_order"]
    served = mcp_server.requests[requests_before:]
    assert served and all(r["headers"].get("authorization") == MCP_SECRET for r in served)
    assert served[-1]["method"] == "DELETE"  # the session was ended with the conversation

    turns, invocations = _stored(session_id)
    [invocation] = invocations
    assert (invocation.tool_name, invocation.function_name, invocation.error) == (
        shop_catalogue_name(shop), "lookup_order", None)
    assert invocation.arguments == {"order_id": "A-1"} and invocation.duration_ms > 0
    for place in (json.dumps(gemini.received), repr([(t.role, t.text) for t in turns]), repr(invocation.result),
                  caplog.text):
        assert "mcp-secret-7f3a91" not in place


def shop_catalogue_name(custom: dict) -> str:
    from voice_platform.models import PlatformTool

    with session_scope() as session:
        return session.get(PlatformTool, uuid.UUID(custom["tool_id"])).name


async def test_an_http_tool_sends_its_secret_header_and_the_secret_is_kept_out_of_everything(
        gemini, client, outbound_loopback, http_api, caplog):
    caplog.set_level(logging.DEBUG)
    admin = signup(client, "http")
    agent = create_agent(client, admin, greeting="")
    tool = create_custom_tool(client, admin, kind="http", name="Order status", description="Where an order is",
                              method="GET", url=http_api.url("/orders/{order_id}"), parameters=ORDER_PARAMETERS,
                              headers={"X-Api-Key": HTTP_SECRET}, timeout_seconds=5)
    assert tool["headers_set"] == ["X-Api-Key"] and HTTP_SECRET not in json.dumps(tool)
    attach_custom(client, admin, agent["id"], tool)
    gemini.replies = [[{"call": "order_status", "args": {"order_id": "A 1/x", "verbose": True}}],
                      [{"say": "It has shipped."}]]

    session_id = _open_test_session(agent["id"])
    await chat.converse(session_id, "Where is my order?")

    [request] = http_api.requests
    assert request["headers"]["x-api-key"] == HTTP_SECRET
    assert request["raw_path"] == "/orders/A%201%2Fx" and request["query"] == {"verbose": "true"}
    output = {r["name"]: r["response"] for r in _tool_responses(gemini)}["order_status"]["output"]
    assert json.loads(output)["status"] == "shipped"  # JSON reaches the model as JSON, not a Python repr
    turns, invocations = _stored(session_id)
    assert [(i.function_name, i.error) for i in invocations] == [("order_status", None)]
    for place in (json.dumps(gemini.received), repr([(t.role, t.text) for t in turns]),
                  repr([(i.arguments, i.result, i.error) for i in invocations]), caplog.text):
        assert HTTP_SECRET not in place


async def test_functions_sharing_a_name_are_declared_apart_and_recorded_under_their_own_name(
        gemini, client, registry, outbound_loopback, http_api):
    admin = signup(client, "names")
    agent = create_agent(client, admin, greeting="")
    attach(client, admin, agent["id"], "Test_notes", config={"prefix": "N", "token": "notes-secret-2"})  # has lookup
    parameters = {"type": "object", "properties": {"topic": {"type": "string"}}}
    first = create_custom_tool(client, admin, kind="http", name="Lookup", url=http_api.url("/echo?from=first"),
                               parameters=parameters)
    second = create_custom_tool(client, admin, kind="http", name="Lookup", url=http_api.url("/echo?from=second"),
                                parameters=parameters)
    assert first["functions"][0]["name"] == second["functions"][0]["name"] == "lookup"
    attach_custom(client, admin, agent["id"], first)
    attach_custom(client, admin, agent["id"], second)
    gemini.replies = [[{"say": "Hello."}]]

    session_id = _open_test_session(agent["id"])
    await chat.converse(session_id, "Hello", registry=registry)

    declared = gemini.declared_functions()
    custom_names = [n for n in declared if n.startswith("lookup_")]
    assert "lookup" in declared and len(custom_names) == 2 and len(set(declared)) == len(declared)
    gemini.replies = [[{"call": custom_names[1], "args": {"topic": "stock"}}], [{"say": "Done."}]]
    await chat.converse(session_id, "And stock?", registry=registry)

    assert [r["query"] for r in http_api.requests] == [{"from": _which(custom_names[1], first, second),
                                                      "topic": "stock"}]
    _turns, invocations = _stored(session_id)
    assert invocations[-1].function_name == "lookup"  # the real name, not the one the model saw
    assert invocations[-1].tool_name in (shop_catalogue_name(first), shop_catalogue_name(second))


def _which(visible: str, first: dict, second: dict) -> str:
    """The tools are declared in a stable order (by name, then id): the suffixed "_2" is the later one."""
    ordered = sorted([("first", first["id"]), ("second", second["id"])], key=lambda t: t[1])
    return ordered[1][0] if visible.endswith("_2") else ordered[0][0]


async def test_a_failing_service_opens_the_circuit_and_the_refusal_is_recorded(
        gemini, client, outbound_loopback, http_api, fresh_breaker):
    admin = signup(client, "breaker")
    agent = create_agent(client, admin, greeting="")
    tool = create_custom_tool(client, admin, kind="http", name="Order status", url=http_api.url("/status/503"),
                              parameters=ORDER_PARAMETERS)
    attach_custom(client, admin, agent["id"], tool)
    gemini.replies = [[{"call": "order_status", "args": {"order_id": f"A-{i}"}}] for i in range(6)]
    gemini.replies.append([{"say": "Sorry, the order service is down."}])

    session_id = _open_test_session(agent["id"])
    await chat.converse(session_id, "Where is my order?")

    assert len(http_api.requests) == 5  # the sixth call failed fast, without a request
    _turns, invocations = _stored(session_id)
    errors = [i.error for i in invocations]
    assert len(errors) == 6 and all("HTTP 503" in e for e in errors[:5]) and "unavailable" in errors[5]
    responses = _tool_responses(gemini)
    assert "unavailable" in json.dumps(responses[-1])


# -- the same execution, directly ---------------------------------------------------------------------
async def test_the_breaker_fails_fast_for_30_seconds_then_lets_one_call_try(outbound_loopback, http_api):
    clock = Clock()
    state = CustomToolCalls(breaker=CircuitBreaker(clock=clock))
    tool = _http_tool(http_api.url("/status/500"))
    for _ in range(5):
        with pytest.raises(ServiceUnavailable, match="HTTP 500"):
            await state.call(tool, "order_status", {"order_id": "A-1"})
        clock.now += 10  # five failures within 60 s
    with pytest.raises(ServiceUnavailable, match="unavailable"):
        await state.call(tool, "order_status", {"order_id": "A-1"})
    assert len(http_api.requests) == 5
    clock.now += 30
    with pytest.raises(ServiceUnavailable, match="HTTP 500"):  # half-open: one try, which fails...
        await state.call(tool, "order_status", {"order_id": "A-1"})
    with pytest.raises(ServiceUnavailable, match="unavailable"):  # ...and opens it again at once
        await state.call(tool, "order_status", {"order_id": "A-1"})
    assert len(http_api.requests) == 6


async def test_failures_spread_over_more_than_a_minute_and_client_errors_do_not_open_it(outbound_loopback, http_api):
    clock = Clock()
    breaker = CircuitBreaker(clock=clock)
    state = CustomToolCalls(breaker=breaker)
    failing, refusing = _http_tool(http_api.url("/status/502")), _http_tool(http_api.url("/orders/{order_id}"))
    for _ in range(8):
        with pytest.raises(ServiceUnavailable):
            await state.call(failing, "order_status", {"order_id": "A-1"})
        clock.now += 20  # at most three failures in any 60 s
    for _ in range(6):
        with pytest.raises(Exception, match="HTTP 404"):
            await state.call(refusing, "order_status", {"order_id": "missing"})
    assert not breaker.is_open((failing.tool_id, "order_status"))
    assert not breaker.is_open((refusing.tool_id, "order_status"))


async def test_the_21st_call_of_a_function_in_one_conversation_is_refused(outbound_loopback, http_api):
    state = CustomToolCalls(breaker=CircuitBreaker(clock=Clock()), limit=CallLimit())
    tool = _http_tool(http_api.url("/orders/{order_id}"))
    for i in range(20):
        await state.call(tool, "order_status", {"order_id": f"A-{i}"})
    with pytest.raises(Exception, match="already used 20 times"):
        await state.call(tool, "order_status", {"order_id": "A-21"})
    assert len(http_api.requests) == 20
    fresh = CustomToolCalls(breaker=CircuitBreaker(clock=Clock()))  # another conversation starts at zero
    assert (await fresh.call(tool, "order_status", {"order_id": "B-1"}))["order_id"] == "B-1"


async def test_a_test_run_shows_output_errors_and_duration(outbound_loopback, http_api, mcp_server):
    post = _http_tool(http_api.url("/echo"), method="POST", headers={"X-Api-Key": HTTP_SECRET})
    run = await run_once(post, "order_status", {"order_id": "A-1", "verbose": False})
    assert not run.is_error and run.duration_ms > 0
    assert run.output["method"] == "POST" and run.output["body"] == {"order_id": "A-1", "verbose": False}
    assert run.output["headers"]["x-api-key"] == "[redacted]"  # an echoed secret never comes back

    missing = await run_once(_http_tool(http_api.url("/orders/{order_id}")), "order_status", {"order_id": "missing"})
    assert missing.is_error and "HTTP 404" in missing.output and "no such order" in missing.output
    text = await run_once(_http_tool(http_api.url("/text")), "order_status", {"order_id": "A-1"})
    assert text.output == "Open Monday to Friday, 9 to 5."
    big = await run_once(_http_tool(http_api.url("/big")), "order_status", {"order_id": "A-1"})
    assert len(big.output.encode()) <= 16 * 1024 + 16 and big.output.endswith("[cut]")
    slow = await run_once(_http_tool(http_api.url("/slow?seconds=5"), timeout=1), "order_status", {"order_id": "x"})
    assert slow.is_error and "within 1 s" in slow.output and slow.duration_ms < 3000

    shop = RunnableCustomTool(
        custom_tool_id=uuid.uuid4(), tool_id=uuid.uuid4(), agent_tool_id=None, kind="mcp", name="Shop",
        url=mcp_server.url, method=None, timeout_seconds=5, headers={"Authorization": MCP_SECRET},
        functions=(RunnableFunction("lookup_order", "", {"type": "object", "properties": {}}),),
    )
    found = await run_once(shop, "lookup_order", {"order_id": "B-2"})
    assert not found.is_error and "processing" in json.dumps(found.output)
    unknown = await run_once(shop, "lookup_order", {"order_id": "Z-9"})
    assert unknown.is_error and "reported an error" in unknown.output  # isError; the SDK hides the exception text


async def test_a_refused_address_is_a_tool_error_not_a_request(http_api):
    """Without the loopback allowance the SSRF guard refuses 127.0.0.1 at call time."""
    run = await run_once(_http_tool(http_api.url("/orders/{order_id}")), "order_status", {"order_id": "A-1"})
    assert run.is_error and "loopback" in run.output and http_api.requests == []


async def test_the_call_limit_counts_the_whole_test_chat_conversation(gemini, client, outbound_loopback, http_api):
    """The test chat rebuilds the conversation per message; calls already recorded in it still count."""
    admin = signup(client, "limit")
    agent = create_agent(client, admin, greeting="")
    tool = create_custom_tool(client, admin, kind="http", name="Order status", url=http_api.url("/orders/{order_id}"),
                              parameters=ORDER_PARAMETERS)
    attachment = attach_custom(client, admin, agent["id"], tool)
    session_id = _open_test_session(agent["id"])
    with session_scope() as session:
        for i in range(20):
            calls.record_tool_invocation(session, session_id, tool_name="earlier", function_name="order_status",
                                         arguments={"order_id": f"A-{i}"}, agent_tool_id=uuid.UUID(attachment["id"]))
    gemini.replies = [[{"call": "order_status", "args": {"order_id": "A-21"}}], [{"say": "I cannot look that up."}]]

    await chat.converse(session_id, "And order A-21?")

    assert http_api.requests == []
    _turns, invocations = _stored(session_id)
    assert "already used 20 times" in invocations[-1].error
