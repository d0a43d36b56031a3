"""Every registered route, signed out and signed in, in a real browser.

The list of routes is read from the Reflex app itself, so a new page is swept
without editing this test. A visit fails on a backend exception in the server's
output (the ``page`` fixture), an error toast, a console error, or a page still
on its loading screen after a few seconds. Dynamic routes are visited with a real
id and with an unknown one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ROOT, route, sign_in, wait_hydrated

pytestmark = pytest.mark.e2e

SETTLE_MS = 5_000
INVITE = "/invite/"
_DYNAMIC = re.compile(r"\[([a-z_]+)\]")


def _registered_routes() -> list[str]:
    from voice_platform.voice_platform import app

    routes = []
    for name in app._unevaluated_pages:  # Reflex keeps every add_page() here, keyed by route
        if name == "404":
            routes.append(NOT_FOUND_PREFIX + uuid.uuid4().hex[:6])
        elif name == "index":
            routes.append("/")
        else:
            routes.append("/" + name.strip("/"))
    return routes


def _watch(pg) -> list[str]:
    problems: list[str] = []
    pg.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    pg.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    return problems


NOT_FOUND_PREFIX = "/no-such-page-"
DOCUMENT_404 = "console error: Failed to load resource: the server responded with a status of 404 (Not Found)"


def _visit(pg, url: str, problems: list[str]) -> None:
    before = len(problems)
    response = pg.goto(url)
    if url.startswith(NOT_FOUND_PREFIX):
        # The not-found page is served with HTTP 404, as it should be; Chromium logs that
        # document load as a console error, the only one this visit may produce.
        assert response is not None and response.status == 404
        problems_seen = problems[before:]
        if DOCUMENT_404 in problems_seen:
            problems.remove(DOCUMENT_404)
    # Settled: hydrated and off the loading screen within a few seconds.
    pg.locator('[data-hydrated="true"], form').first.wait_for(timeout=SETTLE_MS)
    expect(pg.get_by_test_id("session-loading")).to_have_count(0, timeout=SETTLE_MS)
    expect(pg.locator('[data-sonner-toast][data-type="error"]')).to_have_count(0)
    expect(pg.get_by_text("An error occurred")).to_have_count(0)
    assert problems[before:] == [], f"{url}: {problems[before:]}"


FORGOT, RESET = "/forgot-password", "/reset-password/"


def _urls(routes: list[str], ids: dict[str, str]) -> list[str]:
    urls = []
    for path in routes:
        params = _DYNAMIC.findall(path)
        if not params:
            urls.append(path)
            continue
        urls.append(_DYNAMIC.sub(lambda m: ids[m.group(1)], path))  # a real id
        urls.append(_DYNAMIC.sub(lambda m: str(uuid.uuid4()), path))  # an unknown one
    return urls


def _account_with_agent() -> tuple[str, dict[str, str]]:
    """A signed-up account with one agent and one recorded call: a real id for every dynamic route."""
    from tests.e2e.test_calls_page import record_call
    from voice_platform.db import session_scope
    from voice_platform.services import agents, auth, campaigns, invitations

    email = f"sweep-{uuid.uuid4().hex[:10]}@example.com"
    number = "+1415" + str(uuid.uuid4().int)[:7]
    with session_scope() as session:
        signed, org = auth.signup(session, email=email, password="correct horse battery", organization_name="Sweep Co")
        agent = agents.create_agent(session, signed.user, org.id, {"name": "Sweep agent", "phone_number": number})
        agent_id = agent.id
        invited = invitations.create_invitation(session, signed.user, org.id, email="sweep-guest@example.com",
                                                role="member")
        campaign_id = campaigns.create(session, signed.user, org.id, {
            "name": "Sweep campaign", "agent_id": str(agent_id), "contacts": [{"to": "+14155550100"}]}).id
    token = invited.link.rsplit("/invite/", 1)[1]
    return email, {"agent_id": str(agent_id), "call_id": str(record_call(number)), "invite_token": token,
                   "campaign_id": str(campaign_id),
                   "reset_token": "sweep-" + uuid.uuid4().hex}  # never a valid link: what a stale one shows


class _AnyId(dict):
    """Signed out, every dynamic segment gets some id: the visitor must land on sign-in regardless."""

    def __missing__(self, key: str) -> str:
        return str(uuid.uuid4())


def test_registered_routes_are_read_from_the_app():
    routes = _registered_routes()
    assert "/" in routes and "/signin" in routes and "/agents/[agent_id]/tools" in routes


def _password_reset_page(page, url: str) -> bool:
    """The password-reset pages are open to anyone (signed in or not): a form, or an unknown link said so."""
    if url.startswith(FORGOT):
        expect(page.get_by_text("Forgot your password?")).to_be_visible()
    elif url.startswith(RESET):
        expect(page.get_by_text("This password-reset link is invalid")).to_be_visible()
    else:
        return False
    return True


def test_every_route_signed_out(page):
    problems = _watch(page)
    for url in _urls(_registered_routes(), _AnyId()):
        _visit(page, url, problems)
        if _password_reset_page(page, url):
            continue
        if url.startswith(INVITE):  # open to visitors: the invitation (here an unknown one) says what it is
            expect(page.get_by_text("not valid")).to_be_visible()
        elif not url.startswith(("/signin", "/signup")):
            page.wait_for_url(re.compile(r".*/signin(/)?(\?.*)?$"))
            expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()


def test_every_route_signed_in(page):
    email, ids = _account_with_agent()
    problems = _watch(page)
    sign_in(page, email)
    for url in _urls(_registered_routes(), ids):
        _visit(page, url, problems)
        if _password_reset_page(page, url):
            continue
        if url in ("/", "/signin", "/signup"):
            page.wait_for_url(route("/overview"))  # a signed-in person lands on the overview
        elif url.startswith(INVITE):  # a card of its own, outside the dashboard shell
            expect(page.get_by_role("heading", name="Invitation")).to_be_visible()
        else:
            wait_hydrated(page)
            expect(page.get_by_role("navigation", name="Main navigation")).to_be_visible()


def test_the_url_make_run_prints_reaches_the_sign_in_form(page, live_app, test_database):
    """`make run` ends with the bootstrap command's "Dashboard: <url>" line: open exactly that."""
    env = {"DATABASE_URL": test_database.url, "PUBLIC_BASE_URL": live_app.base_url}
    out = subprocess.run([sys.executable, "-m", "voice_platform.cli", "bootstrap"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, env={**os.environ, **env})
    assert out.returncode == 0, out.stderr[-2000:]
    printed = re.search(r"^Dashboard: (\S+)$", out.stdout, re.M)
    assert printed, out.stdout
    problems = _watch(page)
    _visit(page, printed.group(1), problems)
    page.wait_for_url(re.compile(r".*/signin(/)?(\?.*)?$"))
    expect(page.get_by_label("E-mail")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    assert problems == []


def test_sidebar_runs_the_full_height_of_a_long_page(page):
    email, _ids = _account_with_agent()
    sign_in(page, email)
    page.set_viewport_size({"width": 1280, "height": 500})  # the agent list is longer than the window
    page.goto("/agents/new")
    wait_hydrated(page)
    heights = page.evaluate(
        "() => ({sidebar: document.querySelector('[data-testid=sidebar]').getBoundingClientRect().height,"
        " page: document.documentElement.scrollHeight, window: window.innerHeight})"
    )
    assert heights["page"] > heights["window"], heights  # the page really scrolls
    assert heights["sidebar"] >= heights["page"] - 1, heights


def test_starting_the_app_leaves_the_lock_files_as_committed(live_app):
    """`make run` must leave `git status` clean: Reflex writes reflex.lock/ back on every build,
    so what is committed is exactly what a fresh clone's build writes (package.json on one line,
    as Reflex renders it). bun pretty-prints package.json in a tree where it just added a
    package, so that one file is compared as JSON; everything else byte for byte."""
    import json

    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(["git", "status", "--porcelain", "--", "reflex.lock"], cwd=ROOT, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    changed = [line[3:] for line in out.stdout.splitlines()]
    if changed == ["reflex.lock/package.json"]:
        committed = subprocess.run(["git", "show", "HEAD:reflex.lock/package.json"], cwd=ROOT, capture_output=True,
                                   text=True, timeout=30).stdout
        assert json.loads(committed) == json.loads((ROOT / "reflex.lock/package.json").read_text())
        return
    assert changed == [], f"the app's build changed committed files:\n{out.stdout}"
