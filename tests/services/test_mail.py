"""``services.mail`` against a real SMTP server on 127.0.0.1 (and against ports that refuse or hang)."""

from __future__ import annotations

import socket
import time

import pytest

from tests.fakes.smtp_server import FakeSmtp
from voice_platform.errors import IntegrationNotConfigured, MailNotSent
from voice_platform.services import mail
from voice_platform.settings import Settings

MESSAGE = mail.Mail(to="ada@example.com", subject="Choose a new password",
                    paragraphs=("Hello Ada,", "Tom & Jerry <script>alert(1)</script>"),
                    link="http://127.0.0.1:3000/reset-password/abc-123", button="Choose a new password",
                    footer="Did not ask for this? Ignore it.")


def _settings(server: FakeSmtp | None = None, **overrides) -> Settings:
    env = {k.lower(): v for k, v in server.settings_env().items()} if server else {}
    return Settings(**{**env, **overrides})


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_message_arrives_with_text_and_html_parts():
    with FakeSmtp() as server:
        mail.send(MESSAGE, _settings(server))
        [got] = server.wait_for("ada@example.com")
    assert got.mail_from == "no-reply@voiceline.test"
    assert got.subject == "Choose a new password"
    assert str(got.message["From"]) == "Voiceline <no-reply@voiceline.test>"
    assert got.message["Message-ID"] and got.message["Date"]
    assert "Hello Ada," in got.text and got.link("/reset-password/") == "http://127.0.0.1:3000/reset-password/abc-123"
    assert "Did not ask for this?" in got.text
    assert 'href="http://127.0.0.1:3000/reset-password/abc-123"' in got.html
    assert "&lt;script&gt;" in got.html and "<script>" not in got.html  # the words are escaped in HTML
    assert "Tom &amp; Jerry" in got.html


def test_a_subject_cannot_add_headers():
    with FakeSmtp() as server:
        mail.send(mail.Mail(to="ada@example.com", subject="Hi\r\nBcc: eve@example.com", paragraphs=("x",)),
                  _settings(server))
        [got] = server.wait_for("ada@example.com")
    assert got.message["Bcc"] is None and got.rcpt_tos == ("ada@example.com",)
    assert got.subject == "Hi Bcc: eve@example.com"


def test_login_with_the_configured_credentials():
    with FakeSmtp(username="mailer", password="s3cret-smtp-pw") as server:
        mail.send(MESSAGE, _settings(server))
        server.wait_for("ada@example.com")
        assert server.auth_attempts == [("mailer", True)]


def test_a_refused_login_is_clear_and_never_shows_the_password():
    with FakeSmtp(username="mailer", password="right-password") as server:
        with pytest.raises(MailNotSent) as caught:
            mail.send(MESSAGE, _settings(server, smtp_password="wrong-Pa55word-xyz"))
        assert server.received == []
    assert caught.value.status_code == 503
    assert caught.value.message.startswith("The e-mail could not be sent: ")
    assert "refused the login" in caught.value.message and "SMTP_PASSWORD" in caught.value.message
    assert "wrong-Pa55word-xyz" not in str(caught.value) and caught.value.__cause__ is None
    assert caught.value.__suppress_context__  # the traceback does not carry smtplib's exception either


def test_a_server_that_is_down_is_a_clear_error():
    port = _closed_port()
    with pytest.raises(MailNotSent) as caught:
        mail.send(MESSAGE, Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_security="none",
                                    smtp_from="no-reply@voiceline.test", smtp_password="pw-never-shown"))
    assert caught.value.message == f"The e-mail could not be sent: the mail server 127.0.0.1:{port} refused the connection"


def test_a_server_that_never_answers_times_out():
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(MailNotSent) as caught:
            mail.send(MESSAGE, Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_security="none",
                                        smtp_from="no-reply@voiceline.test", smtp_timeout_seconds=0.5))
        elapsed = time.monotonic() - started
    assert "did not answer within 0.5 seconds" in caught.value.message
    assert elapsed < 5


def test_starttls_required_but_not_offered():
    with FakeSmtp() as server:
        with pytest.raises(MailNotSent) as caught:
            mail.send(MESSAGE, _settings(server, smtp_security="starttls"))
    assert "STARTTLS" in caught.value.message and "SMTP_SECURITY" in caught.value.message


def test_a_refused_recipient_is_named():
    with FakeSmtp() as server:
        server.reject_recipients.add("ada@example.com")
        with pytest.raises(MailNotSent) as caught:
            mail.send(MESSAGE, _settings(server))
    assert "refused the recipient (550" in caught.value.message


def test_without_settings_nothing_is_sent():
    assert not mail.is_configured(Settings())
    assert not mail.is_configured(Settings(smtp_host="mail.example.com"))  # no sender
    assert mail.is_configured(Settings(smtp_host="mail.example.com", smtp_from="a@example.com"))
    with pytest.raises(IntegrationNotConfigured) as caught:
        mail.send(MESSAGE, Settings())
    assert caught.value.status_code == 503 and "SMTP_HOST" in caught.value.message


def test_the_fake_refuses_mail_without_login():
    """The server really requires the login: a client that skips it is refused."""
    import smtplib

    with FakeSmtp(username="mailer", password="pw") as server:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=5) as smtp:
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                smtp.sendmail("a@example.com", ["b@example.com"], "Subject: x\r\n\r\nbody")
        assert server.received == []
