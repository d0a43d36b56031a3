"""The scaled web tier: two backend processes behind one origin, sharing Redis and PostgreSQL.

Two ``reflex run --env prod`` servers (one granian worker each, so one server is exactly one
backend process) run on the run's test database with ``REDIS_URL`` pointing at a Redis database
of their own (``E2E_REDIS_URL``, default ``redis://127.0.0.1:6379/7``; flushed before and after,
no other database of that Redis is touched). In front of them, ``RoundRobinProxy`` is the load
balancer: a raw TCP proxy that sends each new connection to the next process in turn — page and
asset connections in one rotation, websockets in another — so successive websockets of one
browser alternate between the processes, and it records which process got which connection.

Both servers are built with the proxy's URL as ``REFLEX_API_URL``, so the browser only ever sees the
proxy's origin. That build differs from the single-app fixture's (whose websocket URL is its own
port), so these servers use their own web directory (``E2E_SCALED_WEB_WORKDIR``, default a fixed
folder under the system temp dir, reused by later runs) and never rebuild the shared ``.web``
under a running single app.

What it proves:

* a signed-in tab whose reload lands on the other process keeps working: its Reflex state is
  the same (a filter chosen on one process is still chosen on the other: Redis holds it), the
  pages load, lists show, and a form saves;
* the live calls list updates in a tab connected to each process when a call comes in through
  the Twilio webhook of either process (each process's call feed reads PostgreSQL).

Each server's output is kept in ``test-artifacts/e2e-scaled-web-{a,b}.log``; any backend
exception in it fails the test.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import (
    ARTIFACTS, PASSWORD, ROOT, START_DEADLINE_S, LiveApp, _answers, _free_port, _stop, route, sign_in,
    wait_hydrated,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

REDIS_URL = os.environ.get("E2E_REDIS_URL", "redis://127.0.0.1:6379/7")
WEB_WORKDIR = Path(os.environ.get("E2E_SCALED_WEB_WORKDIR")
                   or Path(tempfile.gettempdir()) / "voice-platform-e2e-scaled-web")
TWILIO_TOKEN = "scaled-web-twilio-token-0123456789"
INCOMING = "/api/v1/voice/twilio/incoming"
PROXY_IDLE_TIMEOUT_S = 600.0  # the proxy stops by itself when nothing connects for this long


# --- the load balancer ---------------------------------------------------------------------

@dataclass(frozen=True)
class Routed:
    """One client connection and the backend process it was sent to."""

    backend: int
    websocket: bool
    request_line: str


class RoundRobinProxy:
    """A TCP proxy on 127.0.0.1 that hands each connection to the next backend in turn.

    It reads the connection's first request head only to tell a websocket upgrade from a page or
    asset request (two rotations, so a browser's successive websockets always alternate), then
    pipes bytes both ways untouched. Runs its own event loop on a daemon thread; stops on
    ``close()``, and by itself after ``idle_timeout`` seconds without a new connection.
    """

    def __init__(self, backends: list[int], idle_timeout: float = PROXY_IDLE_TIMEOUT_S) -> None:
        self.backends = backends
        self.routed: list[Routed] = []
        self._turn = {False: 0, True: 0}
        self._lock = threading.Lock()
        self._idle_timeout = idle_timeout
        self._last = time.monotonic()
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="round-robin-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def websockets(self) -> list[Routed]:
        with self._lock:
            return [r for r in self.routed if r.websocket]

    def __enter__(self) -> RoundRobinProxy:
        self._thread.start()
        if not self._ready.wait(timeout=10):
            raise RuntimeError("proxy did not start")
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            while not self._stop.is_set():
                try:
                    await asyncio.wait_for(self._stop.wait(), 5)
                except asyncio.TimeoutError:
                    if time.monotonic() - self._last > self._idle_timeout:
                        break
            server.close()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self._last = time.monotonic()
        backend_w = None
        try:
            try:  # the request head: a speculative connection that never sends one just closes
                head = await asyncio.wait_for(client_r.readuntil(b"\r\n\r\n"), 30)
            except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                return
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            websocket = b"upgrade: websocket" in head.lower()
            with self._lock:
                index = self._turn[websocket] % len(self.backends)
                self._turn[websocket] += 1
                self.routed.append(Routed(index, websocket, request_line))
            backend_r, backend_w = await asyncio.open_connection("127.0.0.1", self.backends[index])
            backend_w.write(head)
            pipes = [asyncio.ensure_future(self._pipe(client_r, backend_w)),
                     asyncio.ensure_future(self._pipe(backend_r, client_w))]
            # Either side closing ends the connection (browsers never half-close a request).
            _done, pending = await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
        except ConnectionError:
            pass
        finally:
            for writer in (client_w, backend_w):
                if writer is not None:
                    writer.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass


# --- the two backend processes ----------------------------------------------------------------

def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the test process dies, however it dies."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Backend:
    name: str
    port: int
    proc: subprocess.Popen
    app: LiveApp  # base_url: this process's own port (the proxy is in front of both)


@dataclass
class ScaledWeb:
    url: str  # the proxy: the one origin the browser sees
    proxy: RoundRobinProxy
    backends: list[Backend]

    def log_offsets(self) -> list[int]:
        return [b.app.log_offset() for b in self.backends]

    def assert_no_backend_errors(self, since: list[int]) -> None:
        for backend, offset in zip(self.backends, since):
            backend.app.assert_no_backend_errors(offset)


def _redis_or_skip():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("REQUIRE_REDIS", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"REQUIRE_REDIS is set but Redis at {REDIS_URL} does not answer: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} does not answer ({exc}); the scaled web tier needs it")
    return client


@contextmanager
def scaled_web(database_url: str, extra_env: dict[str, str] | None = None) -> Iterator[ScaledWeb]:
    """Two backend processes on one database and one Redis database, behind ``RoundRobinProxy``."""
    ports = [_free_port(), _free_port()]
    with ExitStack() as stack:
        proxy = stack.enter_context(RoundRobinProxy(ports))
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "GRANIAN_WORKERS": "1",  # one server = one backend process; the proxy spreads the load
            "REFLEX_API_URL": proxy.url,  # the websocket URL built into the frontend: the proxy, for both
            "PUBLIC_BASE_URL": proxy.url,
            "API_BASE_URL": proxy.url,
            "REFLEX_WEB_WORKDIR": str(WEB_WORKDIR),
            "REFLEX_BUN_PATH": str(ROOT / ".tools/node_modules/bun/bin/bun.exe"),
            "REFLEX_TELEMETRY_ENABLED": "false",
            "REFLEX_CHECK_LATEST_VERSION": "0",
            "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "LIVEKIT_SIP_DOMAIN": "vp-scaled.sip.livekit.cloud",
            "LIVEKIT_SIP_USERNAME": "twilio-in",
            "LIVEKIT_SIP_PASSWORD": "scaled-secret",
            **(extra_env or {}),
        }
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        backends: list[Backend] = []
        started = time.monotonic()
        # One after the other: ``reflex run`` empties the ``.states`` folder of the checkout as it
        # starts, and two doing it at once race to delete the same files (one of them then dies).
        deadline = started + START_DEADLINE_S
        for name, port in zip("ab", ports):
            log_path = ARTIFACTS / f"e2e-scaled-web-{name}.log"
            command = [str(ROOT / ".venv/bin/reflex"), "run", "--env", "prod", "--frontend-port", str(port),
                       "--backend-port", str(port), "--backend-host", "127.0.0.1"]
            with open(log_path, "wb") as log:
                proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True, preexec_fn=_die_with_parent)
            stack.callback(_stop, proc)
            backend = Backend(name, port, proc, LiveApp(f"http://127.0.0.1:{port}", log_path, 0.0))
            backends.append(backend)
            base = backend.app.base_url
            while not (_answers(base + "/ping") and _answers(base + "/signin")):
                if backend.proc.poll() is not None:
                    raise RuntimeError(f"backend {backend.name} exited with {backend.proc.returncode}:\n"
                                       f"{backend.app.log_path.read_text()[-4000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"backend {backend.name} not ready after {START_DEADLINE_S:.0f}s:\n"
                                       f"{backend.app.log_path.read_text()[-4000:]}")
                time.sleep(0.5)  # polling interval, bounded by the deadline above
            backend.app.startup_seconds = time.monotonic() - started
        print(f"\n[e2e] two backends behind {proxy.url} ready after {time.monotonic() - started:.1f}s")
        yield ScaledWeb(proxy.url, proxy, backends)
    # After both stopped, so an exception logged at shutdown is not missed either.
    for backend in backends:
        backend.app.assert_no_backend_errors()


@pytest.fixture(scope="module")
def web(chromium_path, test_database) -> Iterator[ScaledWeb]:
    if not test_database.is_postgres:
        pytest.skip("the scaled web tier runs on PostgreSQL (the test database is SQLite)")
    redis_client = _redis_or_skip()
    redis_client.flushdb()  # this test's own Redis database only
    try:
        with scaled_web(test_database.url) as scaled:
            yield scaled
    except RuntimeError as exc:
        pytest.fail(str(exc))
    finally:
        redis_client.flushdb()
        redis_client.close()


@pytest.fixture()
def new_page(browser, web, request):
    """Fresh browser contexts on the proxy's origin; fails on a backend exception in either log,
    a console error or a failed request, and saves screenshots of a failed test."""
    opened, problems = [], []
    since = web.log_offsets()

    def make():
        context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=web.url)
        context.set_default_timeout(15_000)
        pg = context.new_page()
        pg.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
        pg.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status} {r.url}"))
        opened.append((context, pg))
        return pg

    yield make
    web.assert_no_backend_errors(since)
    failed = getattr(request.node, "rep_call", None)
    for n, (context, pg) in enumerate(opened):
        if failed is not None and failed.failed:
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
            pg.screenshot(path=str(ARTIFACTS / f"{name}-{n}.png"), full_page=True)
        context.close()
    assert not problems, problems


# --- helpers --------------------------------------------------------------------------------

def _account(org_name: str, number: str | None = None, agent_name: str = "Front desk") -> tuple[str, uuid.UUID]:
    from voice_platform.db import session_scope
    from voice_platform.services import agents, auth

    email = f"scaled-{uuid.uuid4().hex[:10]}@example.com"
    with session_scope() as session:
        signed, org = auth.signup(session, email=email, password=PASSWORD, organization_name=org_name)
        agents.create_agent(session, signed.user, org.id, {"name": agent_name, "phone_number": number})
        return email, org.id


def _one_new_websocket(web: ScaledWeb, before: int) -> int:
    """The backend that took the one websocket opened since ``before`` websockets."""
    opened = web.proxy.websockets()[before:]
    assert len(opened) == 1, f"expected exactly one new websocket, got {opened}"
    assert opened[0].request_line.startswith("GET /_event"), opened[0]
    return opened[0].backend


def _incoming_call(web: ScaledWeb, backend: int, to: str) -> None:
    """Twilio's incoming-call webhook, signed for the public URL, posted to ONE process directly."""
    from twilio.request_validator import RequestValidator

    params = {"CallSid": "CA" + uuid.uuid4().hex, "AccountSid": "AC" + "0" * 32, "From": "+15550007777",
              "To": to, "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01"}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(web.url + INCOMING, params)
    response = httpx.post(web.backends[backend].app.url(INCOMING), content=urlencode(params), timeout=10,
                          headers={"Content-Type": "application/x-www-form-urlencoded",
                                   "X-Twilio-Signature": signature})
    assert response.status_code == 200, response.text
    assert "<Sip" in response.text, response.text  # routed to LiveKit: the session is open


# --- the tests --------------------------------------------------------------------------------

def test_a_session_keeps_working_when_its_reload_lands_on_the_other_process(web, new_page):
    from tests.e2e.test_calls_page import record_call
    from voice_platform.db import session_scope
    from voice_platform.models import Organization

    number = "+1415" + str(uuid.uuid4().int)[:7]
    email, org_id = _account("Two Rooms Dental", number, agent_name="Reception")
    record_call(number)  # a completed call to filter
    page = new_page()
    ws = len(web.proxy.websockets())

    sign_in(page, email)
    first = _one_new_websocket(web, ws)
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Agents").click()
    page.wait_for_url(route("/agents"))
    expect(page.get_by_test_id("agent-row").filter(has_text="Reception")).to_contain_text(number)
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Calls").click()
    page.wait_for_url(route("/calls"))
    expect(page.get_by_test_id("call-row")).to_have_count(1)
    page.get_by_label("Status filter").click()
    page.get_by_role("option", name="Failed").click()
    expect(page.get_by_text("No calls yet")).to_be_visible()
    assert len(web.proxy.websockets()) == ws + 1  # all of that over the first websocket

    ws = len(web.proxy.websockets())
    page.reload()
    wait_hydrated(page)
    second = _one_new_websocket(web, ws)
    assert second != first, "the reload's websocket should land on the other process"
    # The tab's Reflex state followed it: the filter chosen on one process is still chosen here.
    expect(page.get_by_label("Status filter")).to_contain_text("Failed")
    expect(page.get_by_text("No calls yet")).to_be_visible()
    page.get_by_label("Status filter").click()
    page.get_by_role("option", name="Completed").click()
    expect(page.get_by_test_id("call-row")).to_have_count(1)  # an event handled by the second process
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Agents").click()
    page.wait_for_url(route("/agents"))
    expect(page.get_by_test_id("agent-row").filter(has_text="Reception")).to_contain_text(number)

    ws = len(web.proxy.websockets())
    page.goto("/settings")  # a full load again: back on the first process
    wait_hydrated(page)
    assert _one_new_websocket(web, ws) == first
    page.get_by_label("Business details").fill("Two rooms, one team. Open Mon-Fri 8-17.")
    page.get_by_role("button", name="Save organization").click()
    expect(page.get_by_text("Organization saved")).to_be_visible()
    with session_scope() as session:
        assert session.get(Organization, org_id).business_details == "Two rooms, one team. Open Mon-Fri 8-17."
    page.reload()  # and the saved form reads back on the other process
    wait_hydrated(page)
    expect(page.get_by_label("Business details")).to_have_value("Two rooms, one team. Open Mon-Fri 8-17.")

    used = {r.backend for r in web.proxy.routed}
    assert used == {0, 1}, f"both processes should have served this session: {web.proxy.routed}"
    assert {r.backend for r in web.proxy.routed if not r.websocket} == {0, 1}  # pages and assets too


def test_the_live_calls_list_updates_on_both_processes_whichever_took_the_call(web, new_page):
    number = "+1415" + str(uuid.uuid4().int)[:7]
    email, _org = _account("Both Ways Clinic", number, agent_name="Switchboard")
    pages, backends = [new_page(), new_page()], []
    for pg in pages:  # two tabs (own browser contexts), each with its websocket on its own process
        ws = len(web.proxy.websockets())
        sign_in(pg, email)
        pg.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Calls").click()
        pg.wait_for_url(route("/calls"))
        expect(pg.get_by_text("No calls yet")).to_be_visible()
        backends.append(_one_new_websocket(web, ws))
    assert sorted(backends) == [0, 1], f"the two tabs should be connected to different processes: {backends}"
    ws = len(web.proxy.websockets())

    for calls, took_it in enumerate((0, 1), start=1):  # a call through each process's webhook in turn
        _incoming_call(web, took_it, number)
        for pg in pages:
            rows = pg.get_by_test_id("call-row")
            expect(rows).to_have_count(calls, timeout=10_000)
            expect(rows.first).to_contain_text("Switchboard")
            expect(rows.first).to_contain_text(re.compile("pending", re.I))
    assert len(web.proxy.websockets()) == ws, "pushed over the tabs' own websockets, without reconnecting"
