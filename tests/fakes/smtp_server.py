"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps every message it receives.

The app's own ``smtplib`` code talks to it when ``SMTP_HOST``/``SMTP_PORT`` point here
(``settings_env()``). With ``username`` and ``password`` it requires AUTH LOGIN/PLAIN with
exactly those. ``reject_recipients`` answers ``reject_reply`` (a 550) to RCPT TO for those
addresses; a test may make that reply echo anything, as a careless server might. The server
stops by itself after ``idle_timeout`` seconds without a connection, so a forgotten one never
outlives its test run.

TLS: by default there is none (``SMTP_SECURITY=none``, plain SMTP on loopback). With
``tls="starttls"`` the server offers STARTTLS and refuses everything but EHLO/NOOP/QUIT before
it, AUTH included (aiosmtpd's ``require_starttls`` and ``auth_require_tls``);
``tls="implicit"`` speaks TLS from the first byte (``SMTP_SECURITY=ssl``). Both need
``cert=(cert_path, key_path)``, e.g. from ``make_certificate`` (a self-signed certificate for
127.0.0.1 and localhost); the client trusts it the standard way, ``SSL_CERT_FILE`` pointing at
``cert_path``. ``auth_attempts_tls`` and ``Received.tls`` say whether each login and each
message came over an encrypted connection.

Waiting for mail never sleeps blind: ``wait_for`` blocks on a condition that every
delivery notifies, until a deadline; async tests poll ``messages_to`` with
``tests.support.waiting.until``.
"""

from __future__ import annotations

import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Literal

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.fakes.gemini_live import make_certificate  # the tests' one self-signed certificate maker

__all__ = ["FakeSmtp", "Received", "make_certificate", "mail_configured", "smtp_server"]

LINK = re.compile(r"https?://\S+")


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    tls: bool = False  # the connection was encrypted when the message came in

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    @property
    def text(self) -> str:
        return self.message.get_body(preferencelist=("plain",)).get_content()

    @property
    def html(self) -> str:
        return self.message.get_body(preferencelist=("html",)).get_content()

    def link(self, containing: str) -> str:
        """The first link in the plain-text part whose address contains ``containing``."""
        for url in LINK.findall(self.text):
            if containing in url:
                return url
        raise AssertionError(f"no link containing {containing!r} in:\n{self.text}")


def _encrypted(server) -> bool:
    """Whether aiosmtpd's connection is TLS right now (after STARTTLS, or implicit TLS)."""
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler:
    def __init__(self, server: "FakeSmtp") -> None:
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd's name)
        self.server._touch()
        if self.server.username is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        if address.lower() in self.server.reject_recipients:
            return self.server.reject_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.server._deliver(Received(envelope.mail_from, tuple(envelope.rcpt_tos),
                                      message_from_bytes(envelope.original_content or envelope.content,
                                                         policy=policy.default),
                                      tls=_encrypted(server)))
        return "250 Message accepted for delivery"


class FakeSmtp:
    def __init__(self, *, username: str | None = None, password: str | None = None,
                 idle_timeout: float = 120.0, tls: Literal["starttls", "implicit"] | None = None,
                 cert: tuple[Path, Path] | None = None) -> None:
        if tls not in (None, "starttls", "implicit"):
            raise ValueError(f"tls must be 'starttls', 'implicit' or None, not {tls!r}")
        if (tls is None) != (cert is None):
            raise ValueError("tls and cert=(cert_path, key_path) go together")
        self.username, self.password = username, password
        self.tls = tls
        self.cert_path: Path | None = Path(cert[0]) if cert else None
        self.reject_recipients: set[str] = set()
        self.reject_reply = "550 5.1.1 No such mailbox here"
        self.received: list[Received] = []
        self.auth_attempts: list[tuple[str, bool]] = []  # (username, accepted)
        self.auth_attempts_tls: list[bool] = []  # per attempt: the connection was encrypted then
        self._changed = threading.Condition()
        self._idle_timeout = idle_timeout
        self._last_activity = time.monotonic()
        self._stopped = threading.Event()
        kwargs: dict = {}
        if username is not None:
            # required by handle_RCPT, since aiosmtpd's own auth_required=True warns on every
            # connection when TLS is not required too. Without TLS, AUTH is offered in the clear
            # (loopback); with STARTTLS only after it (before it, AUTH is not announced, and
            # require_starttls answers it, like MAIL, with 530). aiosmtpd's auth_require_tls only knows
            # STARTTLS: on an implicit-TLS connection it would refuse AUTH, which is encrypted
            # from the first byte there.
            kwargs = {"authenticator": self._authenticate, "auth_require_tls": tls == "starttls"}
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*cert)
            if tls == "starttls":
                kwargs |= {"tls_context": context, "require_starttls": True}
            else:  # the Controller wraps the listening socket; its readiness probe speaks TLS too
                kwargs["ssl_context"] = context
        self._controller_args = kwargs

    # --- lifecycle -------------------------------------------------------------------
    def __enter__(self) -> "FakeSmtp":
        # aiosmtpd's readiness check connects to the configured port, so it cannot be 0: take a free one
        for attempt in range(5):
            self.port = _free_port()
            self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port,
                                          **self._controller_args)
            try:
                self._controller.start()
                break
            except OSError:  # another process took the port in between
                if attempt == 4:
                    raise
        threading.Thread(target=self._watchdog, name="fake-smtp-idle", daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        if not self._stopped.is_set():
            self._stopped.set()
            self._controller.stop(no_assert=True)

    def _watchdog(self) -> None:
        while not self._stopped.wait(timeout=min(5.0, self._idle_timeout)):
            if time.monotonic() - self._last_activity > self._idle_timeout:
                self.stop()

    def _touch(self) -> None:
        self._last_activity = time.monotonic()

    # --- what the app reads ------------------------------------------------------------
    def settings_env(self) -> dict[str, str]:
        security = {None: "none", "starttls": "starttls", "implicit": "ssl"}[self.tls]
        env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.port), "SMTP_SECURITY": security,
               "SMTP_FROM": "Voiceline <no-reply@voiceline.test>", "SMTP_TIMEOUT_SECONDS": "5"}
        if self.username is not None:
            env |= {"SMTP_USERNAME": self.username, "SMTP_PASSWORD": self.password or ""}
        return env

    # --- what tests read ------------------------------------------------------------------
    def messages_to(self, address: str) -> list[Received]:
        with self._changed:
            return [m for m in self.received if address.lower() in (r.lower() for r in m.rcpt_tos)]

    def wait_for(self, address: str, count: int = 1, timeout: float = 15.0) -> list[Received]:
        """The first ``count`` messages to ``address``, as soon as they are in; AssertionError at the deadline."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._matching(address)) >= count, timeout=timeout):
                raise AssertionError(f"no {count} message(s) to {address} within {timeout}s; got "
                                     f"{[(m.rcpt_tos, m.subject) for m in self.received]}")
            return self._matching(address)[:count]

    def _matching(self, address: str) -> list[Received]:
        return [m for m in self.received if address.lower() in (r.lower() for r in m.rcpt_tos)]

    def _deliver(self, received: Received) -> None:
        self._touch()
        with self._changed:
            self.received.append(received)
            self._changed.notify_all()

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        self._touch()
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, secret = auth_data.login.decode(), auth_data.password.decode()
        ok = user == self.username and secret == self.password
        self.auth_attempts_tls.append(_encrypted(server))
        self.auth_attempts.append((user, ok))
        return AuthResult(success=ok, handled=False)


@pytest.fixture()
def smtp_server() -> Iterator[FakeSmtp]:
    """A fresh server for one test; stopped at its end (and by itself when idle)."""
    with FakeSmtp() as server:
        yield server


@pytest.fixture()
def mail_configured(smtp_server, monkeypatch) -> Iterator[FakeSmtp]:
    """``smtp_server`` plus the app's SMTP settings pointing at it (fresh settings before and after)."""
    from voice_platform.settings import reset_settings_cache

    for name, value in smtp_server.settings_env().items():
        monkeypatch.setenv(name, value)
    reset_settings_cache()
    yield smtp_server
    for name in smtp_server.settings_env():
        monkeypatch.delenv(name, raising=False)
    reset_settings_cache()
