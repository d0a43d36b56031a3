"""The one SSRF guard: every request to a URL a customer typed (custom tools, webhooks) goes here.

A URL is refused when its scheme is not http(s), its host does not resolve, or ANY address it
resolves to is loopback, private, link-local (cloud metadata at 169.254.169.254), multicast,
reserved or unspecified — unless that address lies inside ``OUTBOUND_ALLOWED_NETWORKS``.

The check is made when the request is sent, inside an httpx transport, and the connection is
then made to the very address that was checked (the URL's host is swapped for that IP; the
``Host`` header and the TLS server name stay the hostname, so virtual hosts and certificates
work). A DNS answer that changes between the check and the connect (DNS rebinding) therefore
cannot reach a refused address. Redirects are never followed, bodies are read up to a cap and
one deadline covers the whole request.

``guarded_client`` is for many requests to ONE host (the webhook sender keeps one per endpoint):
its pool reuses connections, which is only right while every request names the same host.

``mcp_httpx_client_factory`` gives the MCP SDK (which speaks ``httpx2``) a client with the same
transport-level guard, for discovery in the web process and for calls in the worker.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx

from voice_platform.errors import DomainError, ValidationFailed
from voice_platform.settings import get_settings

SCHEMES = ("http", "https")
DEFAULT_MAX_BYTES = 1 << 20
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundRefused(ValidationFailed):
    """The URL may not be requested (422, on the field ``url``); the message says why."""

    def __init__(self, message: str, *, field: str = "url") -> None:
        super().__init__(message, field=field)


class OutboundFailed(DomainError):
    """The request was allowed but did not complete: timeout, connection refused, TLS failure."""

    status_code = 502


@dataclass(frozen=True)
class OutboundResponse:
    status_code: int
    content_type: str
    body: bytes
    truncated: bool  # the body was longer than max_bytes: only its start was read


# -- the check ---------------------------------------------------------------------------------
@lru_cache(maxsize=8)
def parse_networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """``"127.0.0.0/8, 10.1.0.0/16"`` -> networks; a malformed entry is a ValueError (Settings
    validates the setting with this, so a typo stops the process at start, not at a call)."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


def _allowed(ip: IPAddress) -> bool:
    networks = parse_networks(get_settings().outbound_allowed_networks)
    candidates = [ip]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        candidates.append(ip.ipv4_mapped)
    return any(c.version == n.version and c in n for c in candidates for n in networks)


def refusal(ip: IPAddress) -> str | None:
    """Why ``ip`` may not be reached, or None when it may."""
    if _allowed(ip):
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return refusal(ip.ipv4_mapped)
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address (such as cloud metadata)"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "a non-public address"
    return None


def _split(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL we may request, or OutboundRefused saying what is wrong."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise OutboundRefused(f"The URL is not valid: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise OutboundRefused("The URL must start with http:// or https://")
    host = parts.hostname
    if not host:
        raise OutboundRefused("The URL has no host")
    return scheme, host, port or (443 if scheme == "https" else 80)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _judge(host: str, addresses: list[str]) -> list[str]:
    """The addresses, de-duplicated, if every one may be reached; otherwise OutboundRefused."""
    unique = list(dict.fromkeys(addresses))
    if not unique:
        raise OutboundRefused(f"The host {host} does not resolve to any address")
    for address in unique:
        reason = refusal(ipaddress.ip_address(address.split("%", 1)[0]))
        if reason:
            shown = host if host == address else f"{host} ({address})"
            raise OutboundRefused(f"The host {shown} is {reason}; requests there are not allowed")
    return unique


def _addresses(infos: list[tuple[Any, ...]]) -> list[str]:
    return [info[4][0] for info in infos]


def check_url(url: str) -> list[str]:
    """Resolve the URL's host and return its addresses if every one may be reached.

    Raises OutboundRefused (422 on ``url``) for a bad scheme, an unresolvable host, or any
    refused address. Blocking (getaddrinfo): call it from a thread, never on an event loop.
    """
    _scheme, host, port = _split(url)
    literal = _literal(host)
    if literal is not None:
        return _judge(host, [str(literal)])
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise OutboundRefused(f"The host {host} cannot be resolved") from exc
    return _judge(host, _addresses(infos))


async def _checked_address(host: str, port: int) -> str:
    """``check_url`` for one host inside an event loop: the first address, all of them checked."""
    literal = _literal(host)
    if literal is not None:
        return _judge(host, [str(literal)])[0]
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise OutboundRefused(f"The host {host} cannot be resolved") from exc
    return _judge(host, _addresses(infos))[0]


# -- the transports ------------------------------------------------------------------------------
class _GuardMixin:
    """Checks each request's host when it is sent and connects to the checked address.

    The request handed on is a copy aimed at the IP (the caller's request object keeps its URL:
    the MCP SDK resolves relative redirects against it). ``Host`` was set when the request was
    built and is kept; ``sni_hostname`` (an httpx/httpcore request extension) keeps TLS on the
    hostname.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def handle_async_request(self, request: Any) -> Any:
        url = request.url
        if url.scheme not in SCHEMES:
            raise OutboundRefused("The URL must start with http:// or https://")
        host = url.host
        address = await _checked_address(host, url.port or (443 if url.scheme == "https" else 80))
        extensions = dict(request.extensions)
        if url.scheme == "https" and _literal(host) is None:
            extensions["sni_hostname"] = host
        aimed = type(request)(request.method, url.copy_with(host=address), headers=request.headers,
                              stream=request.stream, extensions=extensions)
        return await self._inner.handle_async_request(aimed)

    async def aclose(self) -> None:
        await self._inner.aclose()


class _GuardedTransport(_GuardMixin, httpx.AsyncBaseTransport):
    pass


@lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """Built once (loading the CA bundle costs milliseconds); clients are made per request."""
    return httpx.create_ssl_context()


def _client(timeout: float) -> httpx.AsyncClient:
    """A fresh client per request: its pool then never reuses a connection made for another host
    name (the TLS name is set per connection), and no pool is shared across event loops."""
    transport = _GuardedTransport(httpx.AsyncHTTPTransport(verify=_ssl_context(), trust_env=False))
    return httpx.AsyncClient(transport=transport, follow_redirects=False, trust_env=False, timeout=timeout)


def guarded_client(timeout: float) -> httpx.AsyncClient:
    """A guarded client to pass as ``request(..., client=)`` for a series of requests to one host
    name, so they share keep-alive connections. Never share it across host names: its pool keys
    connections by the checked address, and the TLS name is set per connection."""
    return _client(timeout)


def mcp_httpx_client_factory(headers: dict[str, str] | None = None, timeout: Any = None, auth: Any = None) -> Any:
    """An ``mcp.shared._httpx_utils.McpHttpClientFactory``: the ``httpx2.AsyncClient`` the MCP SDK's
    transports use (pass it as ``http_client=`` to ``streamable_http_client``, or as the client
    factory of LiveKit's ``MCPServerHTTP``). Redirects off; every request, the SDK's own
    same-origin redirect follow-ups included, checked by the guard."""
    import httpx2

    class _GuardedMcpTransport(_GuardMixin, httpx2.AsyncBaseTransport):
        pass

    transport = _GuardedMcpTransport(httpx2.AsyncHTTPTransport(verify=_ssl_context(), trust_env=False))
    kwargs: dict[str, Any] = {"transport": transport, "follow_redirects": False, "trust_env": False,
                              "timeout": timeout if timeout is not None else httpx2.Timeout(30.0, read=300.0)}
    if headers is not None:
        kwargs["headers"] = headers
    if auth is not None:
        kwargs["auth"] = auth
    return httpx2.AsyncClient(**kwargs)


# -- one request ------------------------------------------------------------------------------
async def _read_capped(response: httpx.Response, max_bytes: int) -> tuple[bytes, bool]:
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        room = max_bytes - size
        if len(chunk) > room:
            chunks.append(chunk[:room])
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False


async def request(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    json: object = None,
    content: bytes | None = None,
    timeout: float,
    max_bytes: int = DEFAULT_MAX_BYTES,
    client: httpx.AsyncClient | None = None,
) -> OutboundResponse:
    """One guarded request. ``json=None`` sends no body; ``content`` sends these exact bytes (a
    signed body). ``timeout`` bounds the whole exchange (connect, send, the capped read).
    ``client``: a ``guarded_client`` to reuse (same host only); by default a fresh one.
    OutboundRefused for a refused URL, OutboundFailed when the other side does not answer properly."""
    _scheme, host, _port = _split(url)
    body: dict[str, Any] = {"content": content} if content is not None else {} if json is None else {"json": json}
    try:
        with anyio.fail_after(timeout):
            if client is not None:
                return await _exchange(client, method, url, headers, params, body, max_bytes)
            async with _client(timeout) as fresh:
                return await _exchange(fresh, method, url, headers, params, body, max_bytes)
    except TimeoutError as exc:
        raise OutboundFailed(f"{host} did not answer within {timeout:g} s") from exc
    except httpx.TimeoutException as exc:
        raise OutboundFailed(f"{host} did not answer within {timeout:g} s") from exc
    except httpx.ConnectError as exc:
        raise OutboundFailed(f"Could not connect to {host}: {_reason(exc)}") from exc
    except httpx.HTTPError as exc:
        raise OutboundFailed(f"The request to {host} failed: {_reason(exc)}") from exc


async def _exchange(client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str] | None,
                    params: dict[str, Any] | None, body: dict[str, Any], max_bytes: int) -> OutboundResponse:
    async with client.stream(method, url, headers=headers, params=params, **body) as response:
        content, truncated = await _read_capped(response, max_bytes)
        return OutboundResponse(response.status_code, response.headers.get("content-type", ""), content, truncated)


def _reason(exc: BaseException) -> str:
    """A short cause: "connection refused" when the socket said so (httpx words it otherwise)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError) or "refused" in str(seen).lower():
            return "connection refused"
        if isinstance(seen, OSError) and seen.__cause__ is None and seen.__context__ is None and str(seen):
            return str(seen)[:200]
        seen = seen.__cause__ or seen.__context__
    return (str(exc) or type(exc).__name__)[:200]
