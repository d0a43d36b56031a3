"""Password reset in the service, with the e-mail going through a real SMTP server on 127.0.0.1.

Requests commit in their own ``session_scope`` (as the API and the dashboard do): the mail
leaves only after the commit, on a background thread, and the tests wait for it to arrive.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
import threading
import time
from datetime import timedelta

import pytest
from sqlmodel import select, update

from tests.fakes.smtp_server import mail_configured, smtp_server  # noqa: F401 - fixtures
from tests.support.waiting import until
from voice_platform import security
from voice_platform.db import session_scope
from voice_platform.errors import IntegrationNotConfigured, NotAuthenticated, ValidationFailed
from voice_platform.models import PasswordReset, User
from voice_platform.models.base import aware, utcnow
from voice_platform.services import auth, password_reset
from voice_platform.settings import reset_settings_cache

OLD = "old password 123"
NEW = "brand new password 456"


def _account(email: str, **fields) -> str:
    """A committed account; its first access token."""
    with session_scope() as session:
        signed, _ = auth.signup(session, email=email, password=OLD, organization_name="Reset Co")
        for name, value in fields.items():
            setattr(signed.user, name, value)
        return signed.access_token


def _request(email: str) -> str:
    with session_scope() as session:
        return password_reset.request(session, email)


def _token_from(received) -> str:
    return received.link("/reset-password/").rsplit("/reset-password/", 1)[1]


def _rows(email: str) -> list[PasswordReset]:
    with session_scope() as session:
        user = auth.find_user_by_email(session, email)
        return list(session.exec(select(PasswordReset).where(PasswordReset.user_id == user.id)).all())


def _signin(email: str, password: str):
    with session_scope() as session:
        return auth.signin(session, email=email, password=password)


def _user_of(token: str) -> User:
    with session_scope() as session:
        return auth.user_from_token(session, token)


def test_mail_round_trip_new_password_and_other_sessions_signed_out(mail_configured, test_database):
    email = "round.trip@example.com"
    other_device = _account(email, full_name="Ada Lovelace")

    answer = _request(" Round.Trip@Example.com ")
    [received] = mail_configured.wait_for(email)
    assert answer == password_reset.neutral_answer()
    assert received.subject == "Choose a new password" and "Hello Ada Lovelace," in received.text
    assert received.message["From"] == "Voiceline <no-reply@voiceline.test>"
    link = received.link("/reset-password/")
    assert link.startswith("http://localhost:3000/reset-password/")  # PUBLIC_BASE_URL
    assert f'href="{link}"' in received.html

    token = _token_from(received)
    with session_scope() as session:
        assert password_reset.check(session, token).email == email
        signed = password_reset.confirm(session, token, NEW)

    assert _user_of(signed.access_token).email == email  # the resetting browser is signed in
    with pytest.raises(NotAuthenticated):
        _user_of(other_device)  # every session issued before is signed out
    assert _signin(email, NEW).user.email == email
    with pytest.raises(NotAuthenticated):
        _signin(email, OLD)


def test_only_the_hash_is_stored_and_the_link_expires_after_the_ttl(mail_configured, monkeypatch, test_database):
    monkeypatch.setenv("PASSWORD_RESET_TTL_MINUTES", "15")
    reset_settings_cache()
    email = "hash.only@example.com"
    _account(email)
    _request(email)
    token = _token_from(mail_configured.wait_for(email)[0])
    [row] = _rows(email)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {str(value) for value in row.model_dump().values()}
    assert abs(aware(row.expires_at) - (utcnow() + timedelta(minutes=15))) < timedelta(minutes=1)
    assert row.used_at is None


def test_a_link_works_once(mail_configured, test_database):
    email = "once@example.com"
    _account(email)
    _request(email)
    token = _token_from(mail_configured.wait_for(email)[0])
    with session_scope() as session:
        password_reset.confirm(session, token, NEW)
    for attempt in (lambda s: password_reset.confirm(s, token, "yet another password"),
                    lambda s: password_reset.check(s, token)):
        with session_scope() as session, pytest.raises(password_reset.ResetLinkInvalid) as caught:
            attempt(session)
        assert caught.value.status_code == 403 and caught.value.message == password_reset.INVALID_LINK
    assert _signin(email, NEW)  # the second use changed nothing


def test_a_new_password_kills_the_other_pending_links(mail_configured, test_database):
    email = "two.links@example.com"
    _account(email)
    _request(email)
    _request(email)
    first, second = (_token_from(m) for m in mail_configured.wait_for(email, count=2))
    with session_scope() as session:
        password_reset.confirm(session, second, NEW)
    with session_scope() as session, pytest.raises(password_reset.ResetLinkInvalid):
        password_reset.confirm(session, first, "an older link's password")


def test_an_expired_link_is_refused(mail_configured, test_database):
    email = "late@example.com"
    _account(email)
    _request(email)
    token = _token_from(mail_configured.wait_for(email)[0])
    with session_scope() as session:
        session.execute(update(PasswordReset).values(expires_at=utcnow() - timedelta(seconds=1)))
    with session_scope() as session, pytest.raises(password_reset.ResetLinkInvalid):
        password_reset.confirm(session, token, NEW)
    assert _signin(email, OLD)


@pytest.mark.parametrize("token", ["", "x" * 43, "x" * 500, "nul\x00byte", None])
def test_unknown_links_are_refused(token, test_database):
    with session_scope() as session, pytest.raises(password_reset.ResetLinkInvalid):
        password_reset.confirm(session, token, NEW)


def test_a_weak_password_is_refused_and_the_link_stays_usable(mail_configured, test_database):
    email = "weak@example.com"
    _account(email)
    _request(email)
    token = _token_from(mail_configured.wait_for(email)[0])
    for weak in ("short", "x" * 129):
        with session_scope() as session, pytest.raises(ValidationFailed) as caught:
            password_reset.confirm(session, token, weak)
        assert caught.value.field == "password" and caught.value.status_code == 422
    with session_scope() as session:
        password_reset.confirm(session, token, NEW)  # the same rules as sign-up, and the link still works
    assert _signin(email, NEW)


def test_an_unknown_address_gets_the_same_answer_and_no_mail(mail_configured, test_database):
    known = "known@example.com"
    _account(known)
    _account("inactive@example.com", is_active=False)
    assert _request("nobody@example.com") == _request("inactive@example.com") == _request(known)
    mail_configured.wait_for(known)  # mail that was sent has arrived by now...
    with session_scope() as session:
        assert len(session.exec(select(PasswordReset)).all()) == 1  # ...and only the known account got a link
    assert [m.rcpt_tos for m in mail_configured.received] == [(known,)]


def test_the_request_does_not_wait_for_the_mail_server(monkeypatch, test_database):
    """A slow mail server slows nobody's answer: the time taken does not tell who has an account."""
    email = "timing@example.com"
    _account(email)
    with socket.socket() as silent:  # accepts and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)
        for name, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(silent.getsockname()[1]),
                            "SMTP_SECURITY": "none", "SMTP_FROM": "no-reply@voiceline.test",
                            "SMTP_TIMEOUT_SECONDS": "3"}.items():
            monkeypatch.setenv(name, value)
        reset_settings_cache()
        try:
            started = time.monotonic()
            known = _request(email)
            known_took = time.monotonic() - started
            assert known == _request("nobody@example.com")
            assert known_took < 1.5  # the SMTP server would have made it take 3 s
        finally:
            for name in ("SMTP_HOST", "SMTP_PORT", "SMTP_SECURITY", "SMTP_FROM", "SMTP_TIMEOUT_SECONDS"):
                monkeypatch.delenv(name)
            reset_settings_cache()


def test_rate_limited_per_address_and_overall(mail_configured, monkeypatch, test_database):
    email = "eager@example.com"
    _account(email)
    answers = {_request(email) for _ in range(password_reset.MAX_PER_ADDRESS + 2)}
    assert answers == {password_reset.neutral_answer()}  # limited requests answer the same
    other = "patient@example.com"
    _account(other)
    _request(other)  # the limit is per address: another one still gets its link
    mail_configured.wait_for(other)
    mail_configured.wait_for(email, count=password_reset.MAX_PER_ADDRESS)
    assert len(_rows(email)) == password_reset.MAX_PER_ADDRESS
    assert len(mail_configured.messages_to(email)) == password_reset.MAX_PER_ADDRESS

    with session_scope() as session:  # an hour later the address may ask again
        session.execute(update(PasswordReset).values(created_at=utcnow() - password_reset.WINDOW - timedelta(minutes=1)))
    _request(email)
    mail_configured.wait_for(email, count=password_reset.MAX_PER_ADDRESS + 1)

    monkeypatch.setattr(password_reset, "MAX_OVERALL", 2)  # overall: every address together
    third = "third@example.com"
    _account(third)
    _request(other)  # 2 links in the window now: this one and the last of eager@
    _request(third)
    mail_configured.wait_for(other, count=2)
    assert _rows(third) == [] and mail_configured.messages_to(third) == []


def test_without_smtp_settings_reset_is_unavailable(test_database):
    email = "no.smtp@example.com"
    _account(email)
    assert not password_reset.available()
    with session_scope() as session, pytest.raises(IntegrationNotConfigured) as caught:
        password_reset.request(session, email)
    assert caught.value.status_code == 503
    assert caught.value.message.startswith(password_reset.UNAVAILABLE)
    assert _rows(email) == []


def test_a_mail_server_that_is_down_leaves_no_live_link(monkeypatch, caplog, test_database):
    email = "server.down@example.com"
    _account(email)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    for name, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(closed), "SMTP_SECURITY": "none",
                        "SMTP_FROM": "no-reply@voiceline.test", "SMTP_PASSWORD": "never-in-a-log"}.items():
        monkeypatch.setenv(name, value)
    reset_settings_cache()
    caplog.set_level(logging.INFO)
    try:
        assert _request(email) == password_reset.neutral_answer()  # nobody learns more than anybody else
        asyncio.run(until(lambda: any("link withdrawn" in r.getMessage() for r in caplog.records)))
    finally:
        reset_settings_cache()
    assert _rows(email) == []  # withdrawn: no link that nobody received stays valid
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"the mail server 127.0.0.1:{closed} refused the connection" in logged
    assert "never-in-a-log" not in logged


def test_two_uses_at_once_only_one_wins(mail_configured, test_database):
    email = "race@example.com"
    _account(email)
    _request(email)
    token = _token_from(mail_configured.wait_for(email)[0])
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def use(password: str) -> None:
        barrier.wait()
        try:
            with session_scope() as session:
                password_reset.confirm(session, token, password)
            outcomes.append("ok:" + password)
        except password_reset.ResetLinkInvalid:
            outcomes.append("refused")
        except Exception as exc:  # a serialization failure also means "did not win"
            outcomes.append("error:" + exc.__class__.__name__)

    threads = [threading.Thread(target=use, args=(p,)) for p in ("first password 1", "second password 2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    winners = [o for o in outcomes if o.startswith("ok:")]
    assert len(outcomes) == 2 and len(winners) == 1, outcomes
    assert _signin(email, winners[0][3:])


def test_a_reset_lifts_a_sign_in_lockout(mail_configured, test_database):
    from voice_platform.errors import TooManyAttempts
    from voice_platform.settings import get_settings

    email = "locked@example.com"
    _account(email)
    for _ in range(get_settings().signin_max_failures):
        with pytest.raises(NotAuthenticated):
            _signin(email, "wrong guess")
    with pytest.raises(TooManyAttempts):
        _signin(email, OLD)
    _request(email)
    token = _token_from(mail_configured.wait_for(email)[0])
    with session_scope() as session:
        password_reset.confirm(session, token, NEW)
    assert _signin(email, NEW)
    with session_scope() as session:
        assert security.verify_password(NEW, auth.find_user_by_email(session, email).password_hash)


# --- a mail lost with the process that was sending it ------------------------------------------

def _lost_in_flight(monkeypatch) -> list:
    """The process stops between the commit and the mail server: the mail never leaves."""
    kept = []
    monkeypatch.setattr(password_reset.mail, "deliver_after_commit",
                        lambda session, message, **callbacks: kept.append(message))
    return kept


def _lease_runs_out() -> None:
    with session_scope() as session:
        session.execute(update(PasswordReset).values(mail_lease_until=utcnow() - timedelta(seconds=1)))


def _lost_mail(email: str, monkeypatch) -> None:
    """An account whose reset mail was lost with its process, the sender's lease run out."""
    _account(email)
    _lost_in_flight(monkeypatch)
    _request(email)
    _lease_runs_out()


def test_a_mail_that_left_is_recorded_and_never_sent_again(mail_configured, test_database):
    email = "recorded@example.com"
    _account(email)
    _request(email)
    mail_configured.wait_for(email)
    asyncio.run(until(lambda: _rows(email)[0].mailed_at is not None))
    assert _rows(email)[0].mail_lease_until is None
    _lease_runs_out()
    assert password_reset.resend_unsent() == 0
    assert len(mail_configured.messages_to(email)) == 1


def test_a_mail_lost_with_its_process_leaves_again_with_a_new_link(mail_configured, monkeypatch, test_database):
    monkeypatch.setenv("PASSWORD_RESET_TTL_MINUTES", "30")
    reset_settings_cache()
    email = "crashed@example.com"
    _account(email)
    lost = _lost_in_flight(monkeypatch)
    _request(email)
    [first_link] = [m.link for m in lost]
    [row] = _rows(email)
    assert row.mailed_at is None
    assert aware(row.mail_lease_until) - utcnow() > password_reset.mail_lease() - timedelta(minutes=1)

    assert password_reset.resend_unsent() == 0  # within its lease the sender may still be alive: not doubled
    assert mail_configured.received == []

    with session_scope() as session:  # the lost mail waited 20 of its 30 minutes
        session.execute(update(PasswordReset).values(expires_at=utcnow() + timedelta(minutes=10)))
    _lease_runs_out()
    assert password_reset.resend_unsent() == 1
    [received] = mail_configured.messages_to(email)
    token = _token_from(received)
    assert received.link("/reset-password/") != first_link
    [row] = _rows(email)
    assert row.mailed_at is not None and row.mail_lease_until is None
    assert aware(row.expires_at) - utcnow() > timedelta(minutes=29)  # a new link gets the whole lifetime
    assert password_reset.resend_unsent() == 0  # sent once

    with session_scope() as session, pytest.raises(password_reset.ResetLinkInvalid):
        password_reset.check(session, first_link.rsplit("/", 1)[1])  # only the newest link works
    with session_scope() as session:
        password_reset.confirm(session, token, NEW)
    assert _signin(email, NEW)


def test_of_several_processes_exactly_one_sends_a_lost_mail(mail_configured, monkeypatch, test_database):
    email = "raced@example.com"
    _lost_mail(email, monkeypatch)
    start = threading.Barrier(4)
    sent = []

    def process() -> None:
        start.wait(timeout=10)
        sent.append(password_reset.resend_unsent())

    threads = [threading.Thread(target=process) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(sent) == [0, 0, 0, 1]
    assert len(mail_configured.messages_to(email)) == 1


# Two web processes' recovery loops, as two real OS processes: own interpreter, engine and pool.
# Each connects first, says "ready", and runs one round of ``resend_unsent`` when told "go", so
# both rounds start together on the same rows.
_RECOVERY_PROCESS = """
import sys
from sqlalchemy import text
from voice_platform.db import get_engine
from voice_platform.services import password_reset

with get_engine().connect() as conn:  # pool warm: the race starts at "go", not at connect
    conn.execute(text("SELECT 1"))
print("ready", flush=True)
if sys.stdin.readline().strip() == "go":
    print("sent", password_reset.resend_unsent(), flush=True)
"""


def _line(proc, deadline: float) -> str:
    """The process's next output line, or AssertionError at the deadline (never a blind wait)."""
    import selectors

    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if sel.select(timeout=max(0.0, deadline - time.monotonic())):
                line = proc.stdout.readline()
                if not line:
                    raise AssertionError(f"recovery process exited ({proc.wait()}): {proc.stderr.read()}")
                return line.strip()
    raise AssertionError("recovery process did not answer in time")


def test_two_web_processes_recovering_at_once_send_each_lost_mail_exactly_once(mail_configured, monkeypatch,
                                                                               test_database):
    import os
    import subprocess
    import sys
    from pathlib import Path

    if not test_database.is_postgres:
        pytest.skip("two processes on one database: PostgreSQL only (SQLite serializes writers anyway)")
    emails = [f"lost-{n:02d}@example.com" for n in range(30)]
    for email in emails:
        _account(email)
    _lost_in_flight(monkeypatch)
    for email in emails:
        _request(email)
    _lease_runs_out()

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}  # DATABASE_URL and SMTP_* point at this test's DB and server
    procs = [subprocess.Popen([sys.executable, "-c", _RECOVERY_PROCESS], cwd=root, env=env, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(2)]
    try:
        deadline = time.monotonic() + 60
        assert [_line(p, deadline) for p in procs] == ["ready", "ready"]
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        answers = [_line(p, deadline) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=10)
    sent = [int(a.removeprefix("sent ")) for a in answers]

    assert sum(sent) == len(emails)
    assert all(n > 0 for n in sent), f"both processes should have taken some of the mails: {sent}"
    for email in emails:  # every lost mail left once: none doubled, none missed
        assert len(mail_configured.messages_to(email)) == 1, email
    assert len(mail_configured.received) == len(emails)
    for email in emails:
        [row] = _rows(email)
        assert row.mailed_at is not None and row.mail_lease_until is None


def test_lost_mails_of_expired_links_and_inactive_accounts_are_not_sent(mail_configured, monkeypatch, test_database):
    expired, inactive = "expired.lost@example.com", "inactive.lost@example.com"
    _account(expired)
    _account(inactive)
    _lost_in_flight(monkeypatch)
    _request(expired)
    _request(inactive)
    with session_scope() as session:
        user = auth.find_user_by_email(session, expired)
        session.execute(update(PasswordReset).where(PasswordReset.user_id == user.id)
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
        auth.find_user_by_email(session, inactive).is_active = False
    _lease_runs_out()
    assert password_reset.resend_unsent() == 0
    assert mail_configured.received == []
    assert _rows(inactive) == []  # nobody may use it: withdrawn


def test_a_lost_mail_the_server_refuses_withdraws_its_link(mail_configured, monkeypatch, caplog, test_database):
    email = "refused.later@example.com"
    _lost_mail(email, monkeypatch)
    mail_configured.reject_recipients.add(email)
    caplog.set_level(logging.INFO)
    assert password_reset.resend_unsent() == 0
    assert _rows(email) == []
    assert any("link withdrawn" in r.getMessage() for r in caplog.records)


def test_every_web_process_sends_lost_mails_in_the_background(mail_configured, monkeypatch, caplog, test_database):
    from voice_platform import startup

    email = "background@example.com"
    _lost_mail(email, monkeypatch)
    stop = threading.Event()
    stop.set()  # one round, then the loop returns
    startup._mail_recovery_loop(stop)
    assert len(mail_configured.messages_to(email)) == 1

    def broken() -> int:
        raise OSError("database went away")

    monkeypatch.setattr(password_reset, "resend_unsent", broken)
    caplog.set_level(logging.ERROR)
    startup._mail_recovery_loop(stop)  # a failed round is logged; the loop would go on
    assert any("unsent password-reset e-mails failed" in r.getMessage() for r in caplog.records)
