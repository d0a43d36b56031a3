"""The webhooks page in a real browser, against a real receiver on 127.0.0.1.

An org admin finds "Webhooks" in the sidebar, adds an endpoint (a metadata address refused
first), copies the signing secret shown once, sends a test ping and watches its delivery turn
``delivered`` without a reload; the receiver's request verifies with that very secret
(``standardwebhooks``). Then: redeliver (same ``webhook-id``), rotate (the new secret verifies,
the old one no longer does), edit, switch off, delete. A member sees neither the link nor the
endpoints. The shared app allows loopback through the SSRF guard (``OUTBOUND_ALLOWED_NETWORKS``
in tests/e2e/conftest.py), as an operator would for a receiver inside their own network.
"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.e2e.conftest import route, sign_in, wait_hydrated
from tests.e2e.tools_support import add_member, admin_with_agent
from tests.fakes.webhook_receiver import Received, WebhookReceiver

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("patient_expect")]


SECRET = re.compile(r"^whsec_[A-Za-z0-9+/=]{32,}$")


@pytest.fixture()
def receiver():
    with WebhookReceiver() as server:
        yield server


def _verify(secret: str, request: Received) -> dict:
    return Webhook(secret).verify(request.body, {k: v for k, v in request.headers.items() if k.startswith("webhook-")})


def _open_webhooks(page: Page) -> None:
    nav = page.get_by_role("navigation", name="Main navigation")
    nav.get_by_role("link", name="Webhooks").click()
    page.wait_for_url(route("/webhooks"))
    wait_hydrated(page)
    expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()


def _stored_endpoints(org_id: uuid.UUID) -> list:
    from sqlmodel import select

    from voice_platform.db import session_scope
    from voice_platform.models import WebhookEndpoint

    with session_scope() as session:
        return list(session.exec(select(WebhookEndpoint).where(WebhookEndpoint.organization_id == org_id)).all())


def _frames(page: Page) -> list[str]:
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))
    return frames


def test_add_a_webhook_send_a_test_ping_and_see_it_delivered(page: Page, receiver: WebhookReceiver):
    email, org_id, _agent = admin_with_agent("Webhooks Co")
    frames = _frames(page)
    sign_in(page, email)
    _open_webhooks(page)
    expect(page.get_by_text("No webhooks yet")).to_be_visible()

    form = page.get_by_role("form", name="Add a webhook")
    form.get_by_label("Endpoint URL").fill("http://169.254.169.254/latest/meta-data")
    form.get_by_role("button", name="Add webhook").click()
    expect(page.get_by_test_id("error-url")).to_be_visible()
    assert _stored_endpoints(org_id) == []

    form.get_by_label("Endpoint URL").fill(receiver.url())
    form.get_by_label("call.started").click()  # only the end and the analysis of calls
    expect(form.get_by_label("call.started")).not_to_be_checked()
    _pick(page, "Webhook agent", "Front desk")
    form.get_by_label("Description").fill("CRM sync")
    form.get_by_role("button", name="Add webhook").click()

    secret_box = page.get_by_test_id("webhook-secret")
    expect(secret_box).to_have_value(SECRET)
    secret = secret_box.input_value()
    card = page.get_by_test_id("webhook")
    expect(card).to_have_count(1)
    expect(card.get_by_test_id("webhook-url")).to_have_text(receiver.url())
    expect(card.get_by_test_id("webhook-event")).to_have_text(["call.ended", "call.analyzed"])
    expect(card.get_by_test_id("webhook-agent")).to_have_text("for Front desk")
    (stored,) = _stored_endpoints(org_id)
    assert (stored.events, stored.description) == (["call.ended", "call.analyzed"], "CRM sync")

    card.get_by_role("button", name="Send test ping").click()
    delivery = card.get_by_test_id("delivery")
    expect(delivery).to_have_count(1)
    expect(delivery.get_by_test_id("delivery-status")).to_have_text("delivered", timeout=20_000)
    expect(delivery).to_contain_text("ping")
    expect(delivery).to_contain_text("204")
    (ping,) = receiver.wait_for(1)
    assert _verify(secret, ping)["type"] == "ping"

    page.get_by_role("button", name="Hide secret").click()
    expect(secret_box).to_have_count(0)
    hidden_at = len(frames)
    page.reload()
    wait_hydrated(page)
    expect(page.get_by_test_id("webhook")).to_have_count(1)
    expect(page.get_by_test_id("webhook-secret")).to_have_count(0)

    card.get_by_role("button", name="Recent deliveries").click()
    card.get_by_role("button", name="Redeliver").click()
    expect(card.get_by_test_id("delivery")).to_have_count(2)
    expect(card.get_by_test_id("delivery-status")).to_have_text(["delivered", "delivered"], timeout=20_000)
    again = receiver.wait_for(2)[1]
    assert again.webhook_id == ping.webhook_id  # the receiver's idempotency key
    _verify(secret, again)

    # Once hidden, the secret never reached the browser again (the reload's lists, the deliveries).
    assert len(frames) > hidden_at and not any(secret in f for f in frames[hidden_at:])

    card.get_by_role("button", name="Rotate secret").click()
    page.get_by_role("button", name="Confirm rotate").click()
    expect(secret_box).to_have_value(SECRET)
    rotated = secret_box.input_value()
    assert rotated != secret
    card.get_by_role("button", name="Send test ping").click()
    expect(card.get_by_test_id("delivery-status")).to_have_text(["delivered"] * 3, timeout=20_000)
    third = receiver.wait_for(3)[2]
    _verify(rotated, third)
    with pytest.raises(WebhookVerificationError):
        _verify(secret, third)

    card.get_by_role("button", name="Edit webhook").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Description").fill("CRM sync (prod)")
    dialog.get_by_label("Edit call.started").click()
    dialog.get_by_role("button", name="Save webhook").click()
    expect(dialog).to_have_count(0)
    expect(card.get_by_test_id("webhook-event")).to_have_text(["call.started", "call.ended", "call.analyzed"])
    expect(card).to_contain_text("CRM sync (prod)")

    card.get_by_role("switch", name="Webhook enabled").click()
    expect(card.get_by_role("button", name="Send test ping")).to_be_disabled()
    assert _stored_endpoints(org_id)[0].enabled is False

    card.get_by_role("button", name="Delete webhook").click()
    page.get_by_role("button", name="Confirm delete").click()
    expect(page.get_by_text("No webhooks yet")).to_be_visible()
    assert _stored_endpoints(org_id) == []


def test_a_member_sees_no_webhooks(page: Page):
    email, org_id, _agent = admin_with_agent("Webhooks Members Co")
    member = add_member(email, org_id)
    sign_in(page, member)
    page.get_by_label("Organization").click()  # the member's own organization is theirs to run
    page.get_by_role("option", name="Webhooks Members Co").click()
    expect(page.get_by_text("Switched to Webhooks Members Co")).to_be_visible()
    nav = page.get_by_role("navigation", name="Main navigation")
    expect(nav.get_by_role("link", name="Agents")).to_be_visible()
    expect(nav.get_by_role("link", name="Webhooks")).to_have_count(0)
    page.goto("/webhooks")
    wait_hydrated(page)
    expect(page.get_by_test_id("webhooks-admins-only")).to_be_visible()


def _pick(page: Page, label: str, option: str) -> None:
    page.get_by_label(label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()

