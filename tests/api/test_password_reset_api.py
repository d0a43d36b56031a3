"""``/api/v1/auth/password-reset`` through the real app, the mail through a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import socket
from datetime import timedelta

from sqlmodel import select, update

from tests.fakes.smtp_server import mail_configured, smtp_server  # noqa: F401 - fixtures
from tests.support.api import PASSWORD, signup
from voice_platform.services import password_reset
from voice_platform.settings import reset_settings_cache

NEW = "a fresh password 789"
RESET = "/api/v1/auth/password-reset"


def _token(received) -> str:
    return received.link("/reset-password/").rsplit("/reset-password/", 1)[1]


def test_round_trip_through_the_api(client, mail_configured):
    me = signup(client, "api-reset")
    other_session = client.post("/api/v1/auth/signin", json={"email": me.email, "password": PASSWORD}).json()

    asked = client.post(RESET, json={"email": me.email.upper()})
    assert asked.status_code == 202 and asked.json() == {"detail": password_reset.neutral_answer()}
    token = _token(mail_configured.wait_for(me.email)[0])

    done = client.post(RESET + "/confirm", json={"token": token, "password": NEW})
    assert done.status_code == 200, done.text
    assert done.json()["user"]["email"] == me.email
    fresh = {"Authorization": "Bearer " + done.json()["access_token"]}
    assert client.get("/api/v1/auth/user", headers=fresh).status_code == 200
    for old in (me.headers, {"Authorization": "Bearer " + other_session["access_token"]}):
        assert client.get("/api/v1/auth/user", headers=old).status_code == 401  # signed out everywhere else
    assert client.post("/api/v1/auth/signin", json={"email": me.email, "password": NEW}).status_code == 200
    assert client.post("/api/v1/auth/signin", json={"email": me.email, "password": PASSWORD}).status_code == 401

    again = client.post(RESET + "/confirm", json={"token": token, "password": "one more password"})
    assert again.status_code == 403 and again.json()["detail"] == password_reset.INVALID_LINK


def test_unknown_address_same_answer_nothing_sent(client, mail_configured):
    me = signup(client, "api-known")
    unknown = client.post(RESET, json={"email": "no-such-account@example.com"})
    known = client.post(RESET, json={"email": me.email})
    assert (unknown.status_code, unknown.json()) == (known.status_code, known.json()) == (
        202, {"detail": password_reset.neutral_answer()})
    assert dict(unknown.headers).keys() == dict(known.headers).keys()
    mail_configured.wait_for(me.email)
    assert [m.rcpt_tos for m in mail_configured.received] == [(me.email,)]
    assert client.post(RESET, json={"email": "not an address"}).status_code == 422


def test_expired_invalid_and_weak(client, mail_configured):
    from voice_platform.db import session_scope
    from voice_platform.models import PasswordReset
    from voice_platform.models.base import utcnow

    me = signup(client, "api-expired")
    client.post(RESET, json={"email": me.email})
    token = _token(mail_configured.wait_for(me.email)[0])

    weak = client.post(RESET + "/confirm", json={"token": token, "password": "short"})
    assert weak.status_code == 422 and weak.json()["detail"][0]["loc"] == ["body", "password"]
    assert "at least 8" in weak.json()["detail"][0]["msg"]

    with session_scope() as session:
        session.execute(update(PasswordReset).values(expires_at=utcnow() - timedelta(minutes=1)))
    expired = client.post(RESET + "/confirm", json={"token": token, "password": NEW})
    assert expired.status_code == 403 and expired.json()["detail"] == password_reset.INVALID_LINK
    invalid = client.post(RESET + "/confirm", json={"token": "x" * 43, "password": NEW})
    assert invalid.status_code == 403 and invalid.json()["detail"] == password_reset.INVALID_LINK
    assert client.post("/api/v1/auth/signin", json={"email": me.email, "password": PASSWORD}).status_code == 200


def test_rate_limit_answers_the_same_and_sends_no_more(client, mail_configured):
    from voice_platform.db import session_scope
    from voice_platform.models import PasswordReset

    me = signup(client, "api-limit")
    answers = [client.post(RESET, json={"email": me.email}) for _ in range(password_reset.MAX_PER_ADDRESS + 2)]
    assert {(a.status_code, a.text) for a in answers} == {(202, answers[0].text)}
    mail_configured.wait_for(me.email, count=password_reset.MAX_PER_ADDRESS)
    with session_scope() as session:
        assert len(session.exec(select(PasswordReset)).all()) == password_reset.MAX_PER_ADDRESS
    assert len(mail_configured.messages_to(me.email)) == password_reset.MAX_PER_ADDRESS


def test_without_smtp_a_503_that_says_so(client):
    me = signup(client, "api-nosmtp")
    r = client.post(RESET, json={"email": me.email})
    assert r.status_code == 503
    assert r.json()["detail"].startswith("Password reset by e-mail is not available on this installation; "
                                         "ask an administrator")


def test_mail_server_down_neutral_answer_and_no_live_link(client, monkeypatch, caplog):
    import asyncio
    import logging

    from tests.support.waiting import until
    from voice_platform.db import session_scope
    from voice_platform.models import PasswordReset

    me = signup(client, "api-down")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    for name, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(closed), "SMTP_SECURITY": "none",
                        "SMTP_FROM": "no-reply@voiceline.test"}.items():
        monkeypatch.setenv(name, value)
    reset_settings_cache()
    caplog.set_level(logging.INFO)
    try:
        r = client.post(RESET, json={"email": me.email})
        assert r.status_code == 202 and r.json() == {"detail": password_reset.neutral_answer()}
        withdrawn = asyncio.run(until(lambda: [m for m in (x.getMessage() for x in caplog.records)
                                               if "link withdrawn" in m]))
    finally:
        for name in ("SMTP_HOST", "SMTP_PORT", "SMTP_SECURITY", "SMTP_FROM"):
            monkeypatch.delenv(name)
        reset_settings_cache()
    assert f"127.0.0.1:{closed} refused the connection" in withdrawn[0]  # the operator reads why
    with session_scope() as session:
        assert session.exec(select(PasswordReset)).all() == []  # no link nobody received stays valid
