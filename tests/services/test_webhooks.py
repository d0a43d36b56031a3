"""Webhooks in the services, against a real receiver on 127.0.0.1 and PostgreSQL: events made with
their cause, fanned out exactly once, signed so ``standardwebhooks`` verifies them, retried with the
same ``webhook-id``, kept in order, never sent twice by two senders, an endpoint failing for 3 days
switched off with its admins e-mailed."""

from __future__ import annotations

import contextvars
import threading
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import event, update
from sqlmodel import select
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.fakes.smtp_server import mail_configured, smtp_server  # noqa: F401 - fixtures
from tests.fakes.webhook_receiver import receiver, webhook_env  # noqa: F401 - fixtures
from tests.support.api import create_agent, signup
from tests.support.waiting import until
from voice_platform.db import get_engine, session_scope
from voice_platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from voice_platform.models import AuditEvent, CallSession, User, WebhookDelivery, WebhookEndpoint, WebhookEvent
from voice_platform.models.base import utcnow
from voice_platform.services import calls, webhook_outbox, webhook_sender, webhooks

pytestmark = pytest.mark.usefixtures("webhook_env")


@pytest.fixture()
def org(client):
    admin = signup(client, "hooks")
    agent = create_agent(client, admin)
    return SimpleNamespace(admin=admin, id=uuid.UUID(admin.org_id), user_id=uuid.UUID(admin.user_id),
                           agent_id=uuid.UUID(agent["id"]), client=client)


def _user(session, org) -> User:
    return session.get(User, org.user_id)


def _endpoint(org, url: str, events: list[str], **extra) -> webhooks.Created:
    with session_scope() as session:
        return webhooks.create_endpoint(session, _user(session, org), org.id, {"url": url, "events": events, **extra})


def _ping(org, endpoint_id) -> tuple[str, uuid.UUID]:
    with session_scope() as session:
        return webhooks.send_test(session, _user(session, org), org.id, endpoint_id)


def _delivery(delivery_id) -> WebhookDelivery:
    with session_scope() as session:
        return session.get(WebhookDelivery, delivery_id)


def _verified(secret: str, received) -> dict:
    return Webhook(secret).verify(received.body, received.headers)


def _test_chat(org, turns: tuple[str, ...] = ("Hello, Bright Smile dental.", "I need a cleaning.")) -> uuid.UUID:
    """A test chat as the API runs one: opened, two turns, ended (each its own transaction)."""
    with session_scope() as session:
        call_id = calls.open_test_session(session, _user(session, org), org.agent_id).id
    with session_scope() as session:
        for role, text in zip(("assistant", "user"), turns):
            calls.record_turn(session, call_id, role, text)
    with session_scope() as session:
        assert calls.end_test_session(session, _user(session, org), org.agent_id, call_id)
    return call_id


def test_a_ping_is_signed_the_standard_webhooks_way(org, receiver):
    created = _endpoint(org, receiver.url(), ["call.ended"])
    assert created.secret.startswith("whsec_") and len(created.secret) >= 6 + 32
    event_id, delivery_id = _ping(org, created.endpoint.id)
    [got] = receiver.wait_for(1)
    body = _verified(created.secret, got)
    assert got.webhook_id == event_id == body["id"] and event_id.startswith("evt_")
    assert body["type"] == "ping" and body["data"] == {"webhook_id": str(created.endpoint.id)}
    assert got.headers["content-type"] == "application/json" and got.path == "/hooks"
    assert abs(int(got.headers["webhook-timestamp"]) - got.at) < 5
    with pytest.raises(WebhookVerificationError):  # another secret does not verify it
        Webhook(webhook_sender.new_secret()).verify(got.body, got.headers)


async def test_a_failed_attempt_is_retried_with_the_same_webhook_id(org, receiver):
    receiver.fail_first(1)
    created = _endpoint(org, receiver.url(), ["call.ended"])
    event_id, delivery_id = _ping(org, created.endpoint.id)
    first, second = receiver.wait_for(2)
    assert (first.status, second.status) == (500, 200)
    assert first.webhook_id == second.webhook_id == event_id and first.body == second.body
    assert second.at - first.at >= 0.25  # the schedule's first delay
    _verified(created.secret, second)
    done = await until(lambda: (d := _delivery(delivery_id)).status == "delivered" and d)
    assert (done.attempts, done.response_status, done.next_attempt_at) == (2, 200, None)


async def test_retries_run_out_then_failed_and_the_next_one_goes(org, receiver):
    receiver.fail_first(3)  # the first event's three attempts (schedule: two retries)
    created = _endpoint(org, receiver.url(), ["call.ended"])
    _first, failing = _ping(org, created.endpoint.id)
    second_id, second = _ping(org, created.endpoint.id)
    got = receiver.wait_for(4)
    assert [r.status for r in got] == [500, 500, 500, 200] and got[3].webhook_id == second_id
    failed = await until(lambda: (d := _delivery(failing)).status == "failed" and d)
    assert failed.attempts == 3 and "HTTP 500" in failed.last_error
    assert (await until(lambda: _delivery(second).status == "delivered"))
    with session_scope() as session:
        assert session.get(WebhookEndpoint, created.endpoint.id).failing_since is None  # it succeeded last


def test_order_is_kept_behind_a_retry(org, receiver):
    receiver.fail_first(1)
    created = _endpoint(org, receiver.url(), ["call.ended"])
    ids = [_ping(org, created.endpoint.id)[0] for _ in range(4)]
    got = receiver.wait_for(5)
    assert [r.webhook_id for r in got] == [ids[0], *ids]


def test_a_test_chat_sends_started_then_ended_with_test_true(org, receiver):
    created = _endpoint(org, receiver.url(), ["call.started", "call.ended"])
    call_id = _test_chat(org)
    started, ended = receiver.wait_for(2)
    assert [_verified(created.secret, r)["type"] for r in (started, ended)] == ["call.started", "call.ended"]
    call = ended.json["data"]["call"]
    assert call["id"] == str(call_id) and call["test"] is True and call["kind"] == "test"
    assert call["status"] == "completed" and call["end_reason"] == "agent_ended" and call["agent_name"] == "Front desk"
    assert [t["text"] for t in call["turns"]] == ["Hello, Bright Smile dental.", "I need a cleaning."]
    assert call["duration_seconds"] is not None and "analysis" in call
    with session_scope() as session:
        assert session.get(CallSession, call_id).pending_events == 0


def test_endpoints_get_only_their_events_and_agent(org, receiver):
    other_agent = uuid.UUID(create_agent(org.client, org.admin, name="Night line")["id"])
    ended_only = _endpoint(org, receiver.url("/ended"), ["call.ended"])
    for_other = _endpoint(org, receiver.url("/other"), ["call.started", "call.ended"], agent_id=other_agent)
    _test_chat(org)
    [got] = receiver.wait_for(1)
    assert (got.path, got.json["type"]) == ("/ended", "call.ended")
    _verified(ended_only.secret, got)
    with session_scope() as session:
        assert session.exec(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == for_other.endpoint.id)).all() == []


async def test_without_endpoints_a_call_only_clears_its_bits(org):
    call_id = _test_chat(org)

    def cleared() -> bool:
        webhook_outbox.fan_out_once()  # or the loop does it; a row another transaction holds is skipped
        with session_scope() as session:
            return session.get(CallSession, call_id).pending_events == 0

    await until(cleared)
    with session_scope() as session:
        assert session.exec(select(WebhookEvent).where(WebhookEvent.organization_id == org.id)).all() == []


def test_concurrent_fan_outs_make_each_event_once(org, receiver):
    _endpoint(org, receiver.url(), ["call.started", "call.ended"])
    call_ids = [_test_chat(org) for _ in range(5)]
    start = threading.Barrier(4)

    def fan_out() -> None:
        start.wait()
        webhook_outbox.fan_out_once()

    threads = [threading.Thread(target=fan_out) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    receiver.wait_for(10)
    with session_scope() as session:
        events = session.exec(select(WebhookEvent.call_session_id, WebhookEvent.type)).all()
    assert sorted(events) == sorted((c, t) for c in call_ids for t in ("call.started", "call.ended"))


def test_emit_writes_call_analyzed_after_what_the_call_still_owes(org, receiver):
    created = _endpoint(org, receiver.url(), ["call.ended", "call.analyzed"])
    with session_scope() as session:
        call_id = calls.open_test_session(session, _user(session, org), org.agent_id).id
    with session_scope() as session:  # the end and the analysis in one transaction: call.ended not fanned out yet
        calls.end_test_session(session, _user(session, org), org.agent_id, call_id)
        call = session.get(CallSession, call_id)
        call.analysis_status, call.analysis = "done", {"summary": "Booked a cleaning.", "sentiment": "positive"}
        session.add(call)
        assert webhook_outbox.emit(session, org.id, "call.analyzed", call=call) is not None
        assert webhook_outbox.emit(session, uuid.uuid4(), "call.analyzed", call=call) is None  # nobody listens
    ended, analyzed = receiver.wait_for(2)
    assert [_verified(created.secret, r)["type"] for r in (ended, analyzed)] == ["call.ended", "call.analyzed"]
    analysis = analyzed.json["data"]["call"]["analysis"]
    assert analysis["status"] == "done" and analysis["summary"] == "Booked a cleaning."
    webhook_outbox.send_due_once()
    assert len(receiver.received) == 2  # call.ended once: the fan-out found its bit already claimed


def test_after_a_rotation_the_new_secret_signs(org, receiver):
    created = _endpoint(org, receiver.url(), ["call.ended"])
    with session_scope() as session:
        secret = webhooks.rotate_secret(session, _user(session, org), org.id, created.endpoint.id)
    assert secret != created.secret and secret.startswith("whsec_")
    _ping(org, created.endpoint.id)
    [got] = receiver.wait_for(1)
    assert _verified(secret, got)["type"] == "ping"
    with pytest.raises(WebhookVerificationError):
        _verified(created.secret, got)
    with session_scope() as session:
        row = session.get(WebhookEndpoint, created.endpoint.id)
        entries = session.exec(select(AuditEvent).where(AuditEvent.organization_id == org.id)).all()
    assert secret not in row.secret_encrypted and created.secret not in row.secret_encrypted
    assert {e.action for e in entries} >= {"webhook.created", "webhook.secret_rotated"}
    assert not any(s in str(e.changes) + e.summary for e in entries for s in (secret, created.secret))


async def test_two_sender_loops_never_send_one_delivery_twice(org, receiver):
    created = _endpoint(org, receiver.url(), ["call.ended"])
    stop = threading.Event()
    loops = [webhook_outbox.start_loop(stop, name=f"second-process-{i}") for i in range(2)]  # + this process's
    try:
        ids = []
        for _ in range(6):  # while the loops run: several commits of ten events each
            with session_scope() as session:
                endpoint = session.get(WebhookEndpoint, created.endpoint.id)
                ids += [webhook_outbox.public_id(webhook_outbox.ping(session, endpoint)[0].id) for _ in range(10)]
            webhook_outbox.send_due_once()  # and a sender in this thread too
        got = receiver.wait_for(60)
        await until(lambda: _pending(created.endpoint.id) == 0)
    finally:
        stop.set()
        for loop in loops:
            loop.join(timeout=10)
    assert [r.webhook_id for r in receiver.received] == ids  # each once, in order
    with session_scope() as session:
        attempts = session.exec(select(WebhookDelivery.attempts).where(WebhookDelivery.endpoint_id == created.endpoint.id)).all()
    assert len(got) == 60 and set(attempts) == {1}


def _pending(endpoint_id) -> int:
    with session_scope() as session:
        return len(session.exec(select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint_id,
                                                                   WebhookDelivery.status != "delivered")).all())


def test_a_lease_left_by_a_stopped_sender_is_taken_over(org, receiver):
    created = _endpoint(org, receiver.url(), ["call.ended"])
    held = webhook_sender.take_and_load(created.endpoint.id)  # a sender that then stopped
    assert held is not None and webhook_sender.take_and_load(created.endpoint.id) is None
    _ping(org, created.endpoint.id)
    assert webhook_outbox.send_due_once() == 0 and receiver.received == []  # nobody else sends under it
    with session_scope() as session:  # its lease runs out
        session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == created.endpoint.id)
                        .values(lease_until=utcnow() - timedelta(seconds=1)))
    receiver.wait_for(1)


async def test_an_endpoint_failing_for_3_days_is_switched_off_and_its_admins_mailed(org, receiver, mail_configured):
    receiver.answer = lambda _n, _r: 503
    created = _endpoint(org, receiver.url(), ["call.ended"])
    with session_scope() as session:
        session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == created.endpoint.id)
                        .values(failing_since=utcnow() - timedelta(days=3, minutes=1)))
    _ping(org, created.endpoint.id)
    [mail] = mail_configured.wait_for(org.admin.email)
    assert "switched off" in mail.subject and receiver.url() in mail.text and "/organization/webhooks" in mail.text
    with session_scope() as session:
        endpoint = session.get(WebhookEndpoint, created.endpoint.id)
        actions = session.exec(select(AuditEvent.action).where(AuditEvent.organization_id == org.id)).all()
        assert endpoint.enabled is False and "3 days" in endpoint.disabled_reason
        assert "webhook.disabled" in actions
        with pytest.raises(Conflict):
            webhooks.send_test(session, _user(session, org), org.id, created.endpoint.id)
        view = webhooks.update_endpoint(session, _user(session, org), org.id, created.endpoint.id, {"enabled": True})
    assert view.enabled and view.disabled_reason is None and view.failing_since is None


def test_rules_validation_and_tenancy(org, client):
    stranger = signup(client, "stranger")
    with session_scope() as session:
        user = _user(session, org)
        for data, field in (({"url": "ftp://example.com/x", "events": ["call.ended"]}, "url"),
                            ({"url": "https://user:pw@example.com/x", "events": ["call.ended"]}, "url"),
                            ({"url": "https://example.com/x", "events": []}, "events"),
                            ({"url": "https://example.com/x", "events": ["ping"]}, "events"),
                            ({"url": "http://169.254.169.254/latest", "events": ["call.ended"]}, "url"),
                            ({"url": "https://example.com/x", "events": ["call.ended"], "secret": "x"}, "secret")):
            with pytest.raises(ValidationFailed) as refused:
                webhooks.create_endpoint(session, user, org.id, data)
            assert refused.value.field == field, data
        other_agent = create_agent(client, stranger)["id"]
        with pytest.raises(NotFound):  # another organization's agent
            webhooks.create_endpoint(session, user, org.id, {"url": "http://127.0.0.1:9/x", "events": ["call.ended"],
                                                             "agent_id": other_agent})
        made = webhooks.create_endpoint(session, user, org.id, {"url": "http://127.0.0.1:9/x", "events": ["call.ended"]})
        outsider = session.get(User, uuid.UUID(stranger.user_id))
        with pytest.raises(NotFound):
            webhooks.get_endpoint(session, outsider, org.id, made.endpoint.id)
        with pytest.raises(NotFound):
            webhooks.get_endpoint(session, outsider, uuid.UUID(stranger.org_id), made.endpoint.id)
    member = signup(client, "member-of")
    client.post(f"/api/v1/organizations/{org.id}/members", json={"email": member.email, "role": "member"},
                headers=org.admin.headers).raise_for_status()
    with session_scope() as session:
        with pytest.raises(PermissionDenied):
            webhooks.list_endpoints(session, session.get(User, uuid.UUID(member.user_id)), org.id)


@pytest.fixture()
def loop_stopped():
    """This process's webhook loop stopped for the test (it must not take the lease first), then
    running again for the tests that follow."""
    webhook_outbox.stop_background()
    yield
    webhook_outbox.start_background()


@pytest.mark.usefixtures("loop_stopped")
async def test_a_drain_is_two_transactions_the_lease_with_its_batch_then_the_outcomes_with_its_release(org, receiver):
    """Each round of the loop drains every endpoint with work: what a drain costs the database is
    paid per round, so a short batch takes one transaction to start and one to finish, not five."""
    created = _endpoint(org, receiver.url(), ["call.ended"])
    ids = [_ping(org, created.endpoint.id)[0] for _ in range(3)]
    in_drain = contextvars.ContextVar("in_drain", default=False)
    commits: list[str] = []

    def counted(_conn) -> None:
        if in_drain.get():  # asyncio.to_thread carries this task's context into the drain's threads
            commits.append("commit")

    engine = get_engine()
    event.listen(engine, "commit", counted)
    try:
        in_drain.set(True)
        assert await webhook_sender.drain(created.endpoint.id) == 3
    finally:
        in_drain.set(False)
        event.remove(engine, "commit", counted)
    assert [r.webhook_id for r in receiver.received] == ids
    assert len(commits) == 2
    assert _pending(created.endpoint.id) == 0
    with session_scope() as session:
        assert session.get(WebhookEndpoint, created.endpoint.id).lease_until is None  # given back
    assert await webhook_sender.drain(created.endpoint.id) == 0 and len(receiver.received) == 3


@pytest.mark.usefixtures("loop_stopped")
def test_events_past_retention_go_with_their_deliveries_unless_one_is_still_owed(org, receiver, monkeypatch):
    from voice_platform.settings import reset_settings_cache

    created = _endpoint(org, receiver.url(), ["call.ended"])
    delivered_old, failed_old, pending_old, delivered_recent = (_ping(org, created.endpoint.id)[1] for _ in range(4))
    assert webhook_outbox.send_due_once() == 4
    ages = {delivered_old: 31, failed_old: 45, pending_old: 60, delivered_recent: 29}  # days; retention 30
    with session_scope() as session:
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id == failed_old).values(status="failed"))
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id == pending_old)  # waiting for its retry
                        .values(status="pending", next_attempt_at=utcnow() + timedelta(hours=1)))
        events = {d: session.get(WebhookDelivery, d).event_id for d in ages}
        for delivery_id, days in ages.items():
            session.execute(update(WebhookEvent).where(WebhookEvent.id == events[delivery_id])
                            .values(created_at=utcnow() - timedelta(days=days)))

    assert webhook_outbox.sweep_old_once(batch=1) == 2  # one per transaction: the loop goes on until done
    with session_scope() as session:
        left_events = set(session.exec(select(WebhookEvent.id)).all())
        left_deliveries = set(session.exec(select(WebhookDelivery.id)).all())
    assert left_events == {events[pending_old], events[delivered_recent]}
    assert left_deliveries == {pending_old, delivered_recent}
    assert webhook_outbox.sweep_old_once() == 0

    monkeypatch.setenv("WEBHOOK_RETENTION_DAYS", "0")  # keep everything
    reset_settings_cache()
    try:
        with session_scope() as session:
            session.execute(update(WebhookEvent).values(created_at=utcnow() - timedelta(days=400)))
        assert webhook_outbox.sweep_old_once() == 0
    finally:
        monkeypatch.delenv("WEBHOOK_RETENTION_DAYS")
        reset_settings_cache()
