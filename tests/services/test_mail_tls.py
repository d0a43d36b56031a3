"""``services.mail`` over TLS: STARTTLS (``SMTP_SECURITY=starttls``) and implicit TLS (``ssl``).

The fake server's certificate is self-signed and made for each test; the app trusts it the
standard way, ``SSL_CERT_FILE`` pointing at it (OpenSSL reads it each time
``ssl.create_default_context()`` loads the default trust store), set with ``monkeypatch`` so it
never outlives the test. Without that, the certificate is as unknown as any stranger's.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
import time
from pathlib import Path

import pytest

from tests.fakes.smtp_server import FakeSmtp, make_certificate
from voice_platform.errors import MailNotSent
from voice_platform.services import mail
from voice_platform.settings import Settings

MESSAGE = mail.Mail(to="ada@example.com", subject="Choose a new password",
                    paragraphs=("Hello Ada,",), link="http://127.0.0.1:3000/reset-password/abc-123",
                    button="Choose a new password")
USER, PASSWORD = "mailer", "Tls-s3cret-pw-7781"
TIMEOUT = 2.0  # SMTP_TIMEOUT_SECONDS for the failure cases: nothing may wait longer than this
MODES = ["starttls", "implicit"]


@pytest.fixture()
def cert(tmp_path) -> tuple[Path, Path]:
    return make_certificate(tmp_path)


@pytest.fixture()
def trusted(cert, monkeypatch) -> tuple[Path, Path]:
    """The certificate, trusted by this process's default TLS contexts for this test only."""
    monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))
    return cert


def _settings(server: FakeSmtp, **overrides) -> Settings:
    env = {k.lower(): v for k, v in server.settings_env().items()}
    return Settings(**{**env, **overrides})


def _send_failing(settings: Settings, caplog) -> tuple[MailNotSent, float]:
    caplog.set_level(logging.WARNING, logger=mail.log.name)
    started = time.monotonic()
    with pytest.raises(MailNotSent) as caught:
        mail.send(MESSAGE, settings)
    return caught.value, time.monotonic() - started


def _assert_no_password(error: MailNotSent, caplog, password: str = PASSWORD) -> None:
    assert password not in str(error) and password not in error.message
    assert password not in caplog.text  # the warning the failure logs says the same words
    assert caplog.records, "the failure was logged"


# --- delivery --------------------------------------------------------------------------------
@pytest.mark.parametrize(("tls", "security"), [("starttls", "starttls"), ("implicit", "ssl")])
def test_tls_delivers_and_logs_in_only_over_tls(tls, security, trusted):
    with FakeSmtp(username=USER, password=PASSWORD, tls=tls, cert=trusted) as server:
        settings = _settings(server)
        assert settings.smtp_security == security
        mail.send(MESSAGE, settings)
        [got] = server.wait_for("ada@example.com")
        assert server.auth_attempts == [(USER, True)]
        assert server.auth_attempts_tls == [True]  # the password went over the encrypted connection
    assert got.tls and got.subject == "Choose a new password" and got.mail_from == "no-reply@voiceline.test"
    assert got.link("/reset-password/") == "http://127.0.0.1:3000/reset-password/abc-123"


def test_starttls_without_login_delivers(trusted):
    with FakeSmtp(tls="starttls", cert=trusted) as server:
        mail.send(MESSAGE, _settings(server))
        [got] = server.wait_for("ada@example.com")
    assert got.tls and server.auth_attempts == []


# --- the fake really enforces what the tests above rely on -------------------------------------
def test_the_starttls_fake_refuses_login_and_mail_before_tls(cert):
    """AUTH is neither announced nor accepted before STARTTLS, and nor is MAIL: the delivery
    above could only have logged in after TLS."""
    with FakeSmtp(username=USER, password=PASSWORD, tls="starttls", cert=cert) as server:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=5) as smtp:
            smtp.ehlo()
            assert smtp.has_extn("starttls") and not smtp.has_extn("auth")
            for command, arg in [("AUTH", "PLAIN AG1haWxlcgBwdw=="), ("MAIL", "FROM:<a@example.com>")]:
                code, text = smtp.docmd(command, arg)
                assert (code, text) == (530, b"Must issue a STARTTLS command first"), command
        assert server.auth_attempts == [] and server.received == []


def test_the_fake_s_certificate_is_not_trusted_by_default(cert):
    """Trust comes only from SSL_CERT_FILE: the same client without it refuses the server."""
    with FakeSmtp(tls="implicit", cert=cert) as server:
        with pytest.raises(ssl.SSLCertVerificationError):
            smtplib.SMTP_SSL("127.0.0.1", server.port, timeout=5, context=ssl.create_default_context())
        assert server.received == []


# --- failures are clear, quick and never show the password -------------------------------------
@pytest.mark.parametrize("tls", MODES)
def test_an_untrusted_certificate_is_a_clear_error(tls, cert, caplog):
    with FakeSmtp(username=USER, password=PASSWORD, tls=tls, cert=cert) as server:
        error, elapsed = _send_failing(_settings(server, smtp_timeout_seconds=TIMEOUT), caplog)
        assert server.received == [] and server.auth_attempts == []  # the password was never sent
    assert error.message == (f"The e-mail could not be sent: the TLS connection to 127.0.0.1:{server.port} "
                             "failed (CERTIFICATE_VERIFY_FAILED)")
    assert elapsed < TIMEOUT  # refused at once, not after waiting for a reply that never comes
    _assert_no_password(error, caplog)


@pytest.mark.parametrize("tls", MODES)
def test_a_refused_login_over_tls_never_shows_the_password(tls, trusted, caplog):
    wrong = "Wrong-tls-Pa55-0042"
    with FakeSmtp(username=USER, password=PASSWORD, tls=tls, cert=trusted) as server:
        error, _ = _send_failing(_settings(server, smtp_password=wrong), caplog)
        assert server.received == []
        assert server.auth_attempts and all(server.auth_attempts_tls)  # it did try, over TLS
    assert error.message == (f"The e-mail could not be sent: the mail server 127.0.0.1:{server.port} "
                             "refused the login (check SMTP_USERNAME and SMTP_PASSWORD)")
    _assert_no_password(error, caplog, wrong)


@pytest.mark.parametrize("tls", MODES)
def test_a_server_echoing_the_password_over_tls_does_not_leak_it(tls, trusted, caplog):
    """Server text does reach the message (here a refused recipient's reply): the password in it is hidden."""
    with FakeSmtp(username=USER, password=PASSWORD, tls=tls, cert=trusted) as server:
        server.reject_recipients.add("ada@example.com")
        server.reject_reply = f"550 5.1.1 no mailbox here, and you logged in as {USER}/{PASSWORD}"
        error, _ = _send_failing(_settings(server), caplog)
        assert server.auth_attempts == [(USER, True)] and server.auth_attempts_tls == [True]
        assert server.received == []
    assert error.message == ("The e-mail could not be sent: the mail server refused the recipient "
                             f"(550 5.1.1 no mailbox here, and you logged in as {USER}/***)")
    _assert_no_password(error, caplog)


def test_a_short_password_in_the_reply_hides_the_whole_reply(trusted, caplog):
    """Replacing a short password's every occurrence would spell it out ("su***orted")."""
    short = "ppo"
    with FakeSmtp(username=USER, password=short, tls="starttls", cert=trusted) as server:
        server.reject_recipients.add("ada@example.com")
        server.reject_reply = "550 5.1.1 mailbox not supported here"
        error, _ = _send_failing(_settings(server, smtp_password=short), caplog)
        assert server.received == []
    assert error.message == (f"The e-mail could not be sent: the mail server 127.0.0.1:{server.port} refused the "
                             "message (its reply is not shown: it contains SMTP_PASSWORD)")
    _assert_no_password(error, caplog, "supported")


def test_starttls_against_a_server_without_it_is_a_clear_error(caplog):
    with FakeSmtp(username=USER, password=PASSWORD) as server:  # plain SMTP only
        error, elapsed = _send_failing(_settings(server, smtp_security="starttls", smtp_timeout_seconds=TIMEOUT),
                                       caplog)
        assert server.received == [] and server.auth_attempts == []  # no login in the clear either
    assert error.message.startswith(f"The e-mail could not be sent: the mail server 127.0.0.1:{server.port} "
                                    "said: STARTTLS extension not supported by server")
    assert "(check SMTP_SECURITY" in error.message
    assert elapsed < TIMEOUT
    _assert_no_password(error, caplog)


def test_ssl_against_a_plain_server_is_a_clear_error(caplog):
    """The wrong mode for the port: the server greets in plain text where TLS was expected."""
    with FakeSmtp(username=USER, password=PASSWORD) as server:
        error, elapsed = _send_failing(_settings(server, smtp_security="ssl", smtp_timeout_seconds=TIMEOUT),
                                       caplog)
        assert server.received == [] and server.auth_attempts == []
    assert error.message.startswith(f"The e-mail could not be sent: the TLS connection to 127.0.0.1:{server.port} "
                                    "failed (")
    assert elapsed < TIMEOUT
    _assert_no_password(error, caplog)


def test_ssl_against_a_silent_server_times_out(caplog):
    """A port that accepts and never answers the TLS handshake: bounded by SMTP_TIMEOUT_SECONDS."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)
        port = silent.getsockname()[1]
        error, elapsed = _send_failing(
            Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_security="ssl", smtp_from="no-reply@voiceline.test",
                     smtp_username=USER, smtp_password=PASSWORD, smtp_timeout_seconds=0.5), caplog)
    assert error.message == (f"The e-mail could not be sent: the mail server 127.0.0.1:{port} "
                             "did not answer within 0.5 seconds")
    assert elapsed < TIMEOUT
    _assert_no_password(error, caplog)
