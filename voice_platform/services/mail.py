"""Outgoing e-mail through the configured SMTP server (``SMTP_*`` settings).

One message = plain text plus a simple HTML part with the same words and one button.
Every network step is bounded by ``SMTP_TIMEOUT_SECONDS``; a failure becomes ``MailNotSent``
whose message says what went wrong in words an admin can act on, never the password.

``deliver_after_commit`` is for mail whose very sending must not be observable by the
requester (password resets: answering slower, or with an error, only for addresses that have
an account would tell who has one). It leaves on a background thread once the caller's
transaction has committed, so the link in it is stored before anyone can follow it.
"""

from __future__ import annotations

import html
import logging
import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from threading import Lock

from sqlalchemy import event
from sqlmodel import Session

from voice_platform.errors import IntegrationNotConfigured, MailNotSent
from voice_platform.settings import Settings, get_settings

log = logging.getLogger(__name__)

NOT_CONFIGURED = "E-mail is not configured on this installation (SMTP_HOST and SMTP_FROM)"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True)
class Mail:
    """What to send: the words once, rendered as text and as HTML by ``build``."""

    to: str
    subject: str
    paragraphs: tuple[str, ...]
    link: str | None = None
    button: str | None = None  # the HTML button's label for ``link``
    footer: str | None = None
    # A one-click unsubscribe address (RFC 8058): sent as List-Unsubscribe with
    # List-Unsubscribe-Post, so mail clients show their own Unsubscribe button, which POSTs to it.
    unsubscribe: str | None = None


def is_configured(settings: Settings | None = None) -> bool:
    return (settings or get_settings()).smtp_configured


def _header(value: str) -> str:
    """A header value on one line: user input (an organization's name) cannot add headers."""
    return _CONTROL.sub(" ", value).strip()


def build(mail: Mail, settings: Settings | None = None) -> EmailMessage:
    settings = settings or get_settings()
    message = EmailMessage()
    message["From"] = _header(settings.smtp_from or "")
    message["To"] = _header(mail.to)
    message["Subject"] = _header(mail.subject)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = parseaddr(settings.smtp_from or "")[1].rpartition("@")[2] or None
    message["Message-ID"] = make_msgid(domain=domain)
    if mail.unsubscribe:
        message["List-Unsubscribe"] = f"<{_header(mail.unsubscribe)}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    text = list(mail.paragraphs)
    if mail.link:
        text.append(mail.link)
    if mail.footer:
        text.append("-- \n" + mail.footer)
    message.set_content("\n\n".join(text) + "\n")
    message.add_alternative(_html(mail), subtype="html")
    return message


def _html(mail: Mail) -> str:
    parts = [f'<p style="margin:0 0 16px">{html.escape(p)}</p>' for p in mail.paragraphs]
    if mail.link:
        href = html.escape(mail.link, quote=True)
        parts.append(
            f'<p style="margin:24px 0"><a href="{href}" style="background:#3e63dd;color:#ffffff;'
            f'padding:10px 18px;border-radius:6px;text-decoration:none;display:inline-block">'
            f"{html.escape(mail.button or 'Open')}</a></p>"
            f'<p style="margin:0 0 16px;color:#60646c;font-size:13px">Or paste this address into your browser:'
            f'<br><a href="{href}" style="color:#3e63dd;word-break:break-all">{html.escape(mail.link)}</a></p>'
        )
    if mail.footer:
        parts.append(f'<p style="margin:24px 0 0;color:#8b8d98;font-size:12px">{html.escape(mail.footer)}</p>')
    body = "\n".join(parts)
    return (
        '<!doctype html>\n<html><body style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;'
        'color:#1c2024;font-size:15px;line-height:1.5;margin:0;padding:24px">\n'
        f'<div style="max-width:560px;margin:0 auto">\n{body}\n</div>\n</body></html>\n'
    )


def send(mail: Mail, settings: Settings | None = None) -> None:
    """Hand the message to the SMTP server; ``MailNotSent`` when that did not happen."""
    settings = settings or get_settings()
    if not is_configured(settings):
        raise IntegrationNotConfigured(NOT_CONFIGURED)
    message = build(mail, settings)
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    try:
        with _connect(settings) as smtp:
            if settings.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password or "")
            smtp.send_message(message)
    except Exception as exc:  # every way a send can fail ends as one clear error
        reason = _scrub(_reason(exc, where, settings.smtp_timeout_seconds), settings, where)
        log.warning("e-mail to %s not sent: %s", _header(mail.to), reason)
        raise MailNotSent(f"The e-mail could not be sent: {reason}") from None


def _connect(settings: Settings) -> smtplib.SMTP:
    host, port, timeout = settings.smtp_host or "", settings.smtp_port, settings.smtp_timeout_seconds
    if settings.smtp_security == "ssl":
        return smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    return smtplib.SMTP(host, port, timeout=timeout)


def _reason(exc: BaseException, where: str, timeout: float) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return f"the mail server {where} refused the connection"
    if isinstance(exc, (socket.timeout, TimeoutError)) or (
            isinstance(exc, smtplib.SMTPServerDisconnected) and isinstance(exc.__context__, TimeoutError)):
        return f"the mail server {where} did not answer within {timeout:g} seconds"
    if isinstance(exc, socket.gaierror):
        return f"the mail server's name {where} could not be resolved"
    if isinstance(exc, ssl.SSLError):
        return f"the TLS connection to {where} failed ({exc.reason or exc.__class__.__name__})"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"the mail server {where} refused the login (check SMTP_USERNAME and SMTP_PASSWORD)"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        detail = _text(exc.args[0]) if exc.args else "an extension is missing"
        return f"the mail server {where} said: {detail} (check SMTP_SECURITY, SMTP_USERNAME)"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({f"{code} {_text(msg)}" for code, msg in exc.recipients.values()})
        return "the mail server refused the recipient (" + "; ".join(codes) + ")"
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return f"the mail server refused the sender ({exc.smtp_code} {_text(exc.smtp_error)}; check SMTP_FROM)"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"the mail server {where} answered {exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"the mail server {where} closed the connection"
    if isinstance(exc, OSError):
        return f"the mail server {where} could not be reached ({exc.strerror or exc.__class__.__name__})"
    return f"{exc.__class__.__name__} while talking to {where}"


def _text(raw: bytes | str) -> str:
    value = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return _CONTROL.sub(" ", value).strip()[:200]


SCRUBBED_MIN = 8  # shorter passwords hide the whole reason: "su***orted" would give "pp" away


def _scrub(reason: str, settings: Settings, where: str) -> str:
    """A server may echo what it was sent; the password never leaves this module."""
    password = settings.smtp_password
    if not password or password not in reason:
        return reason
    if len(password) < SCRUBBED_MIN:
        return f"the mail server {where} refused the message (its reply is not shown: it contains SMTP_PASSWORD)"
    return reason.replace(password, "***")


# --- sending after the caller's transaction commits, off the request's thread -----------
_executor: ThreadPoolExecutor | None = None
_executor_lock = Lock()


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="mail")
        return _executor


def deliver_after_commit(session: Session, mail: Mail, *,
                         on_sent: Callable[[], None] | None = None,
                         on_failure: Callable[[MailNotSent], None] | None = None) -> None:
    """Send ``mail`` in the background once ``session`` commits; nothing at all if it rolls back.

    ``on_sent`` runs on the mail thread once the server took the message (e.g. to record that it
    left); ``on_failure`` runs there with the error (e.g. to withdraw the link the mail carried,
    so nothing half-done stays behind). The message itself lives only in memory until then:
    a caller that must not lose it to a stopped process keeps what it needs to send it again
    (see ``password_reset.resend_unsent``).
    """
    settings = get_settings()

    def _deliver() -> None:
        try:
            send(mail, settings)
        except MailNotSent as exc:
            _run(on_failure, exc)
        except Exception:
            log.exception("sending an e-mail failed")
        else:
            _run(on_sent)

    def _after_commit(_session) -> None:
        _pool().submit(_deliver)

    event.listen(session, "after_commit", _after_commit, once=True)


def _run(callback: Callable[..., None] | None, *args) -> None:
    """A callback's own failure is logged; it must not kill the mail thread."""
    if callback is None:
        return
    try:
        callback(*args)
    except Exception:
        log.exception("handling the outcome of an e-mail failed")
