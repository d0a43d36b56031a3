"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps every message it receives.

The app's own ``smtplib`` code talks to it when ``SMTP_HOST``/``SMTP_PORT`` point here
(``settings_env()``; ``SMTP_SECURITY=none``: no TLS on loopback). With ``username`` and
``password`` it requires AUTH LOGIN/PLAIN with exactly those. ``reject_recipients`` answers
550 to RCPT TO for those addresses. The server stops by itself after ``idle_timeout``
seconds without a connection, so a forgotten one never outlives its test run.

Waiting for mail never sleeps blind: ``wait_for`` blocks on a condition that every
delivery notifies, until a deadline; async tests poll ``messages_to`` with
``tests.support.waiting.until``.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

LINK = re.compile(r"https?://\S+")


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage

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
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.server._deliver(Received(envelope.mail_from, tuple(envelope.rcpt_tos),
                                      message_from_bytes(envelope.original_content or envelope.content,
                                                         policy=policy.default)))
        return "250 Message accepted for delivery"


class FakeSmtp:
    def __init__(self, *, username: str | None = None, password: str | None = None,
                 idle_timeout: float = 120.0) -> None:
        self.username, self.password = username, password
        self.reject_recipients: set[str] = set()
        self.received: list[Received] = []
        self.auth_attempts: list[tuple[str, bool]] = []  # (username, accepted)
        self._changed = threading.Condition()
        self._idle_timeout = idle_timeout
        self._last_activity = time.monotonic()
        self._stopped = threading.Event()
        kwargs = {}
        if username is not None:
            # AUTH offered without TLS (loopback); required by handle_RCPT, since aiosmtpd's own
            # auth_required=True warns on every connection when TLS is not required too
            kwargs = {"authenticator": self._authenticate, "auth_require_tls": False}
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
        env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.port), "SMTP_SECURITY": "none",
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
