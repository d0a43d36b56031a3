"""The real app (``reflex run --env prod``) on the run's test database, and a real chromium.

Reflex 0.10 in prod mode serves the compiled frontend, its websocket and our
FastAPI routes on ONE port, so the app is one subprocess on one free port. The
first run builds ``.web`` (bun install + vite build: minutes); later runs reuse
it and only recompile the pages (seconds).

Chromium is Debian's (/usr/bin/chromium); ``playwright install`` is never run.
Without it the browser tests skip, unless REQUIRE_BROWSER=1 makes that a failure.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
START_DEADLINE_S = float(os.environ.get("E2E_START_DEADLINE", "900"))
PASSWORD = "correct horse battery"


def _browser_required() -> bool:
    return os.environ.get("REQUIRE_BROWSER", "").lower() in {"1", "true", "yes"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except Exception:
        return False


# What the server prints when an event handler or a route raises; any of them fails the run.
BACKEND_ERROR_MARKERS = ("Traceback (most recent call last)", "[Reflex Backend Exception]", "Exception in ASGI application")


@dataclass
class LiveApp:
    base_url: str
    log_path: Path
    startup_seconds: float

    def url(self, path: str) -> str:
        return self.base_url + path

    def log_offset(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def backend_errors(self, since: int = 0) -> str:
        """The server's output from ``since`` on when it holds a backend exception, else ""."""
        with open(self.log_path, "rb") as log:
            log.seek(since)
            text = log.read().decode("utf-8", "replace")
        hits = [text.find(m) for m in BACKEND_ERROR_MARKERS if m in text]
        if not hits:
            return ""
        start = max(0, min(hits) - 500)
        return text[start:start + 6000]

    def assert_no_backend_errors(self, since: int = 0) -> None:
        found = self.backend_errors(since)
        if found:
            pytest.fail(f"backend exception in the server output ({self.log_path}):\n{found}", pytrace=False)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        if _browser_required():
            pytest.fail(f"REQUIRE_BROWSER is set but {CHROMIUM} does not exist")
        pytest.skip(f"{CHROMIUM} not found; browser tests skipped (set REQUIRE_BROWSER=1 to fail instead)")
    return CHROMIUM


# --- issue 8 (agent tools page): the app talks to the loopback fake Google server -------
@pytest.fixture(scope="session")
def fake_google():
    """tests/fakes/google_server.py for the whole run; its consent page approves at once."""
    from tests.fakes.google_server import FakeGoogle

    with FakeGoogle(account_email="frontdesk@example.com", idle_timeout=3600) as google:
        yield google


def _google_env(google) -> dict[str, str]:
    # oauthlib refuses http:// endpoints unless told; the fake and our callback are loopback http.
    return {**google.settings_env(), "OAUTHLIB_INSECURE_TRANSPORT": "1"}
# --- end issue 8 ---------------------------------------------------------------------------


@contextmanager
def running_app(database_url: str, log_path: Path, extra_env: dict[str, str] | None = None) -> Iterator[LiveApp]:
    """``reflex run --env prod`` on a free port until the block ends (the reusable piece).

    E2E_WEB_WORKDIR gives the run its own ``.web`` (REFLEX_WEB_WORKDIR): a prod
    server serves its build from disk, so another ``reflex run`` rebuilding the
    same ``.web`` with different pages (a colleague's tree, ``make run``) swaps
    the hashed assets under it and the browser gets 404s.
    """
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REFLEX_BUN_PATH": str(ROOT / ".tools/node_modules/bun/bin/bun.exe"),
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "0",
        "PUBLIC_BASE_URL": base,
        "API_BASE_URL": base,
        **(extra_env or {}),
    }
    if os.environ.get("E2E_WEB_WORKDIR"):
        env["REFLEX_WEB_WORKDIR"] = os.environ["E2E_WEB_WORKDIR"]
    command = [str(ROOT / ".venv/bin/reflex"), "run", "--env", "prod",
               "--frontend-port", str(port), "--backend-port", str(port), "--backend-host", "127.0.0.1"]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = started + START_DEADLINE_S
        while not (_answers(base + "/ping") and _answers(base + "/signin")):
            if proc.poll() is not None:
                raise RuntimeError(f"reflex exited with {proc.returncode}:\n{log_path.read_text()[-4000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"app not ready after {START_DEADLINE_S:.0f}s:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.5)  # polling interval, bounded by the deadline above
        app = LiveApp(base_url=base, log_path=log_path, startup_seconds=time.monotonic() - started)
        print(f"\n[e2e] app ready on {base} after {app.startup_seconds:.1f}s (compile + build + start)")
        yield app
    finally:
        _stop(proc)
    # After the server stopped, so an exception logged after the last test is not missed.
    app.assert_no_backend_errors()


@pytest.fixture(scope="session")
def fake_gemini(tmp_path_factory):
    """The fake Gemini Live server (TLS) the app's test chat talks to; tests script ``replies``."""
    from tests.fakes.gemini_live import ThreadedFakeGemini

    with ThreadedFakeGemini(tmp_path_factory.mktemp("gemini")) as server:
        yield server


def _gemini_env(gemini) -> dict[str, str]:
    return {**gemini.environment(), "GOOGLE_API_KEY": "e2e-test-key"}


@pytest.fixture(scope="session")
def fake_smtp():
    """tests/fakes/smtp_server.py for the whole run: the app's password-reset and invitation mail land here."""
    from tests.fakes.smtp_server import FakeSmtp

    with FakeSmtp(idle_timeout=3600) as server:
        yield server


@pytest.fixture(scope="session")
def live_app(chromium_path, test_database, fake_google, fake_gemini, fake_smtp) -> Iterator[LiveApp]:
    """The app on the run's test database, shared by every browser test of the session."""
    env = {**_google_env(fake_google), **_gemini_env(fake_gemini),  # fake Google (issue 8), fake Gemini Live
           **fake_smtp.settings_env()}  # e-mail goes to the fake SMTP server
    env["OUTBOUND_ALLOWED_NETWORKS"] = "127.0.0.0/8"  # custom tools reach the tests' loopback MCP/HTTP servers
    try:
        with running_app(test_database.url, ARTIFACTS / "e2e-app.log", env) as app:
            yield app
    except RuntimeError as exc:
        pytest.fail(str(exc))


def _stop(proc: subprocess.Popen) -> None:
    """The whole process group: reflex forks uvicorn/granian workers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def browser(chromium_path):
    """Module-scoped on purpose: Playwright's sync API keeps an asyncio loop running
    in the main thread, and pytest-asyncio tests collected after tests/e2e fail with
    "coroutine was never awaited" while it lives."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture()
def page(browser, live_app, request):
    """A fresh browser context per test (empty localStorage = signed out).

    The test fails when the server printed a backend exception while it ran: an
    exception in an event handler only shows as a toast in the browser, if at all.
    """
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=live_app.base_url)
    context.set_default_timeout(15_000)
    pg = context.new_page()
    since = live_app.log_offset()
    yield pg
    live_app.assert_no_backend_errors(since)
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
        pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()


@pytest.fixture()
def patient_expect():
    """Every step is a round trip to the server; on a loaded machine it can take seconds."""
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    yield
    expect.set_options(timeout=5_000)  # Playwright's default, for the tests that follow


def route(path: str) -> re.Pattern[str]:
    """Reflex's prod build redirects /agents to /agents/; match either."""
    return re.compile(r"^https?://[^/]+" + re.escape(path.rstrip("/")) + r"/?(\?.*)?$")


def wait_hydrated(pg) -> None:
    pg.locator('[data-hydrated="true"]').first.wait_for()


def sign_in(pg, email: str, password: str = PASSWORD, *, start: str = "/signin", lands_on: str = "/overview") -> None:
    """Sign in from ``start`` (e.g. ``/signin?next=...``) and wait to land on ``lands_on``."""
    pg.goto(start)
    wait_hydrated(pg)
    pg.get_by_label("E-mail").fill(email)
    pg.get_by_label("Password").fill(password)
    pg.get_by_role("button", name="Sign in", exact=True).click()
    pg.wait_for_url(route(lands_on))
    wait_hydrated(pg)
