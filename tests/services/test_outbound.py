"""The SSRF guard: what it refuses (before any connection), and guarded requests to a real server."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.fakes.http_api import FakeHttpApi
from tests.services.test_custom_tools import http_api, loopback_allowed  # noqa: F401 - fixtures
from voice_platform.services import outbound


@pytest.mark.parametrize(("url", "why"), [
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://10.0.0.1/", "private"),
    ("http://192.168.1.10:8080/", "private"),
    ("http://[fe80::1]/", "link-local"),
    ("http://224.0.0.1/", "multicast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://[::ffff:10.0.0.1]/", "private"),
    ("file:///etc/passwd", "http:// or https://"),
    ("gopher://example.com/", "http:// or https://"),
    ("http://no-such-host.invalid/", "cannot be resolved"),
])
def test_refused_with_the_reason(loopback_allowed, url, why):  # noqa: F811
    with pytest.raises(outbound.OutboundRefused, match=why) as refused:
        outbound.check_url(url)
    assert refused.value.field == "url" and refused.value.status_code == 422


def test_allowed_networks_open_exactly_themselves(loopback_allowed):  # noqa: F811
    assert outbound.check_url("http://127.0.0.1:9/") == ["127.0.0.1"]
    with pytest.raises(outbound.OutboundRefused):
        outbound.check_url("http://[::1]/")  # 127.0.0.0/8 says nothing about IPv6 loopback


def test_settings_refuse_a_malformed_network(monkeypatch):
    from pydantic import ValidationError

    from voice_platform.settings import Settings

    with pytest.raises(ValidationError):
        Settings(outbound_allowed_networks="127.0.0.0/8, not-a-network")


def test_the_guard_refuses_at_call_time_without_connecting():
    async def go() -> None:
        for url in ("http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/x"):
            with pytest.raises(outbound.OutboundRefused):
                await outbound.request("GET", url, timeout=5)
        async with outbound.mcp_httpx_client_factory() as client:  # the MCP SDK's client, same guard
            with pytest.raises(outbound.OutboundRefused):
                await client.post("http://10.0.0.1/mcp", json={})

    started = time.monotonic()
    asyncio.run(go())
    assert time.monotonic() - started < 2  # refused, not timed out on an unroutable address


def test_guarded_requests_reach_an_allowed_server(loopback_allowed, http_api):  # noqa: F811
    async def go():
        by_name = await outbound.request("POST", f"http://localhost:{http_api.port}/echo", params={"q": "1"},
                                         json={"a": 1}, headers={"Authorization": "Bearer t"}, timeout=5)
        text = await outbound.request("GET", http_api.url("/text"), timeout=5)
        failed = await outbound.request("GET", http_api.url("/status/503"), timeout=5)
        redirect = await outbound.request("GET", http_api.url("/redirect"), timeout=5)
        big = await outbound.request("GET", http_api.url("/big?bytes=300000"), timeout=5, max_bytes=1000)
        return by_name, text, failed, redirect, big

    by_name, text, failed, redirect, big = asyncio.run(go())
    assert by_name.status_code == 200 and by_name.content_type == "application/json"
    echoed = http_api.requests[0]
    assert echoed["headers"]["host"] == f"localhost:{http_api.port}"  # connected to the checked IP, Host kept
    assert echoed["headers"]["authorization"] == "Bearer t" and echoed["query"] == {"q": "1"} and echoed["body"] == {"a": 1}
    assert text.content_type.startswith("text/plain") and text.body.startswith(b"Open Monday")
    assert failed.status_code == 503 and b"says no" in failed.body
    assert redirect.status_code == 302  # never followed
    assert [r["path"] for r in http_api.requests].count("/orders/A-1") == 0
    assert big.truncated and len(big.body) == 1000


def test_timeouts_and_refused_connections_are_outbound_failures(loopback_allowed, http_api):  # noqa: F811
    async def slow():
        await outbound.request("GET", http_api.url("/slow?seconds=5"), timeout=0.5)

    started = time.monotonic()
    with pytest.raises(outbound.OutboundFailed, match="did not answer within 0.5 s"):
        asyncio.run(slow())
    assert time.monotonic() - started < 3
    with pytest.raises(outbound.OutboundFailed, match="connection refused"):
        asyncio.run(outbound.request("GET", "http://127.0.0.1:1/", timeout=5))


def test_fake_http_api_is_reusable():
    with FakeHttpApi() as api:
        assert api.url("/x").startswith("http://127.0.0.1:")
