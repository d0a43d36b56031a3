"""QA: hostile URLs in the dashboard must neither run script nor leave the site."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import route, sign_in, wait_hydrated
from tests.e2e.tools_support import admin_with_agent, sync_catalogue

pytestmark = pytest.mark.e2e


@pytest.fixture()
def admin(test_database):
    sync_catalogue()
    return admin_with_agent("QA Org")


def test_agent_id_in_the_tools_url_is_never_run_as_script(page: Page, admin):
    email, _org, _agent_id = admin
    sign_in(page, email)
    page.goto("/agents/x'-(window.__qa_xss=1)-'/tools?oauth=error&message=hello")
    wait_hydrated(page)
    expect(page.get_by_test_id("not-found")).to_be_visible()
    expect(page.get_by_text("Google did not complete the connection; please try again.")).to_be_visible()
    expect(page.get_by_text("hello")).to_have_count(0)  # link text is never shown as our message
    # The address-bar script (the one that used to splice the id) has run once the query is gone.
    page.wait_for_url(lambda url: "oauth=" not in url)
    assert page.evaluate("window.__qa_xss") is None


@pytest.mark.parametrize("target", ["/%5Cevil.example/phish", "/%09/evil.example/phish"])
def test_sign_in_next_with_backslash_or_tab_stays_on_site(page: Page, admin, target):
    email, _org, _agent_id = admin
    sign_in(page, email, start=f"/signin?next={target}", lands_on="/overview")
    assert "evil.example" not in page.url
