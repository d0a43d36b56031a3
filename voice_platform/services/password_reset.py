""""Forgot password?": a link by e-mail that works once, expires, and signs out every other session.

``request`` gives one answer whatever the address: an account or not, rate-limited or not.
It does the same queries either way, and the e-mail leaves on a background thread after the
transaction commits (``mail.deliver_after_commit``), so neither the words, the status nor the
time taken tell whether an address has an account. A mail that could not be sent withdraws its
link and is logged for the operator; the requester cannot be told without telling everyone.

Only the SHA-256 of the link's random token is stored (``PasswordReset``), like invitations.

No link is lost to a process that stops between the commit and the mail server: the row says
whether its mail left (``mailed_at``) and until when the process sending it may take
(``mail_lease_until``). Past that lease, ``resend_unsent`` (every web process runs it in the
background, ``startup``) takes the row in one conditional statement, so of several processes
exactly one sends it, and mails a new link: the first token's clear text was never stored, so
it gets a new one and a fresh lifetime; the old token, if its mail did leave after all, stops
working. At least one mail, and only the newest link works.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, update
from sqlmodel import Session, select

from voice_platform.errors import SPENT_OR_FORGED_PROOF, DomainError, IntegrationNotConfigured, MailNotSent, ValidationFailed
from voice_platform.models import PasswordReset, SigninThrottle, User
from voice_platform.models.base import aware, utcnow
from voice_platform.services import mail, validation
from voice_platform.services.auth import SignedIn, replace_password, validate_password
from voice_platform.settings import get_settings

log = logging.getLogger(__name__)

UNAVAILABLE = "Password reset by e-mail is not available on this installation; ask an administrator"
INVALID_LINK = "This password-reset link is invalid, has expired or was already used; ask for a new one"
# Links sent per address, and overall (every address together), in one window.
MAX_PER_ADDRESS = 3
MAX_OVERALL = 200
WINDOW = timedelta(hours=1)
MAX_TOKEN = 200


class ResetLinkInvalid(DomainError):
    """Unknown, expired or used link: the same words for each."""

    status_code = SPENT_OR_FORGED_PROOF


@dataclass(frozen=True)
class LinkFor:
    """What the reset page may show before a new password is chosen."""

    email: str


def available() -> bool:
    return mail.is_configured()


def neutral_answer() -> str:
    minutes = get_settings().password_reset_ttl_minutes
    return (f"If an account uses that address, we have sent it a link to choose a new password. "
            f"The link works once, within {minutes} minutes.")


def link_for(token: str) -> str:
    return get_settings().public_base_url.rstrip("/") + "/reset-password/" + token


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def request(session: Session, email: str) -> str:
    """The neutral answer; a link is mailed only to an active account under the rate limits."""
    if not available():
        raise IntegrationNotConfigured(UNAVAILABLE + " (the installation sets no SMTP_HOST / SMTP_FROM)")
    address = validation.email(email)
    now = utcnow()
    since = now - WINDOW
    # The same three queries for every address, so the work does not depend on the answer.
    user = session.exec(select(User).where(func.lower(User.email) == address).with_for_update()).first()
    recent_for_address = session.exec(
        select(func.count(PasswordReset.id)).join(User, User.id == PasswordReset.user_id)
        .where(func.lower(User.email) == address, PasswordReset.created_at > since)
    ).one()
    recent_overall = session.exec(select(func.count(PasswordReset.id)).where(PasswordReset.created_at > since)).one()
    if user is None or not user.is_active:
        return neutral_answer()
    if recent_for_address >= MAX_PER_ADDRESS or recent_overall >= MAX_OVERALL:
        log.info("password reset for user %s not sent: rate limit reached", user.id)
        return neutral_answer()
    token = secrets.token_urlsafe(32)
    reset = PasswordReset(user_id=user.id, token_hash=_hash(token), expires_at=now + _ttl(),
                          mail_lease_until=now + mail_lease())
    session.add(reset)
    session.flush()
    reset_id = reset.id
    mail.deliver_after_commit(session, _message(user, token), on_sent=lambda: _mailed(reset_id),
                              on_failure=lambda exc: _withdraw(reset_id, exc))
    return neutral_answer()


def _ttl() -> timedelta:
    return timedelta(minutes=get_settings().password_reset_ttl_minutes)


def mail_lease() -> timedelta:
    """How long a send may take before another process sends the link instead.

    One send is a connection, EHLO, STARTTLS, a second EHLO, AUTH, MAIL, RCPT and DATA, each
    bounded by ``SMTP_TIMEOUT_SECONDS``; the lease outlasts all of them with room to spare, so a
    live but slow sender is never doubled.
    """
    return timedelta(seconds=60 + 10 * get_settings().smtp_timeout_seconds)


def _mailed(reset_id: uuid.UUID) -> None:
    from voice_platform.db import session_scope

    with session_scope() as session:
        session.execute(update(PasswordReset).where(PasswordReset.id == reset_id)
                        .values(mailed_at=utcnow(), mail_lease_until=None))


def resend_unsent() -> int:
    """Mail the links whose sender stopped before the mail server took them; how many left.

    Each is taken (new token, fresh lifetime, new lease) in its own committed statement before
    its mail is sent, so a process stopping here again loses nothing either.
    """
    if not available():
        return 0
    sent = 0
    while (taken := _take_unsent()) is not None:
        reset_id, message = taken
        try:
            mail.send(message)
        except MailNotSent as exc:
            _withdraw(reset_id, exc)
            continue
        _mailed(reset_id)
        log.info("password-reset e-mail (reset %s) sent again after its sender stopped", reset_id)
        sent += 1
    return sent


def _take_unsent() -> tuple[uuid.UUID, mail.Mail] | None:
    from voice_platform.db import session_scope

    with session_scope() as session:
        while True:
            now = utcnow()
            unsent = (PasswordReset.mailed_at.is_(None), PasswordReset.used_at.is_(None),
                      PasswordReset.expires_at > now, PasswordReset.mail_lease_until < now)
            candidate = session.exec(select(PasswordReset.id).where(*unsent)
                                     .order_by(PasswordReset.created_at).limit(1)).first()
            if candidate is None:
                return None
            token = secrets.token_urlsafe(32)
            user_id = session.execute(  # of several processes, exactly one takes it
                update(PasswordReset).where(PasswordReset.id == candidate, *unsent)
                .values(token_hash=_hash(token), expires_at=now + _ttl(), mail_lease_until=now + mail_lease())
                .returning(PasswordReset.user_id)
                .execution_options(synchronize_session=False)
            ).scalar()
            if user_id is None:  # another process took it in between: look again
                continue
            user = session.get(User, user_id)
            if user is None or not user.is_active:
                session.execute(delete(PasswordReset).where(PasswordReset.id == candidate))
                continue
            return candidate, _message(user, token)


def _message(user: User, token: str) -> mail.Mail:
    minutes = get_settings().password_reset_ttl_minutes
    return mail.Mail(
        to=user.email,
        subject="Choose a new password",
        paragraphs=(
            f"Hello{' ' + user.full_name if user.full_name else ''},",
            "Someone (hopefully you) asked to reset the password of your account. "
            f"Follow this link to choose a new one; it works once, within {minutes} minutes, "
            "and signs you out everywhere else.",
        ),
        link=link_for(token),
        button="Choose a new password",
        footer="Did not ask for this? Ignore this e-mail: your password stays as it is.",
    )


def _withdraw(reset_id: uuid.UUID, exc: MailNotSent) -> None:
    """The mail did not leave: its link must not stay valid (nor count against the limit)."""
    from voice_platform.db import session_scope

    with session_scope() as session:
        session.execute(delete(PasswordReset).where(PasswordReset.id == reset_id))
    log.error("password-reset e-mail (reset %s) not sent, link withdrawn: %s", reset_id, exc.message)


def _usable(session: Session, token: str) -> PasswordReset:
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN or "\x00" in token:
        raise ResetLinkInvalid(INVALID_LINK)
    reset = session.exec(select(PasswordReset).where(PasswordReset.token_hash == _hash(token))).first()
    if reset is None or reset.used_at is not None or aware(reset.expires_at) <= utcnow():
        raise ResetLinkInvalid(INVALID_LINK)
    user = session.get(User, reset.user_id)
    if user is None or not user.is_active:
        raise ResetLinkInvalid(INVALID_LINK)
    return reset


def check(session: Session, token: str) -> LinkFor:
    """Whether the link still works (the reset page asks before showing the form)."""
    reset = _usable(session, token)
    return LinkFor(email=session.get(User, reset.user_id).email)


def confirm(session: Session, token: str, password: str) -> SignedIn:
    """Set the new password once; every session issued before is signed out. A fresh token for this one."""
    reset = _usable(session, token)
    try:
        validate_password(password)
    except ValidationFailed as exc:  # the link stays usable: choose a better password and retry
        raise ValidationFailed(exc.message, field="password") from exc
    now = utcnow()
    taken = session.execute(  # one conditional statement: of two uses at once, exactly one gets the row
        update(PasswordReset)
        .where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None), PasswordReset.expires_at > now)
        .values(used_at=now)
        .returning(PasswordReset.user_id)
        # The loaded row is refreshed from the database, not matched in Python: SQLite gives its
        # times back without a zone, which Python cannot compare with an aware "now".
        .execution_options(synchronize_session="fetch")
    ).first()
    if taken is None:
        raise ResetLinkInvalid(INVALID_LINK)
    session.execute(  # the account's other links die with this one
        update(PasswordReset)
        .where(PasswordReset.user_id == reset.user_id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    user = session.get(User, reset.user_id)
    session.refresh(user, with_for_update=True)
    throttle = session.get(SigninThrottle, user.email.lower())
    if throttle is not None:  # a locked-out owner who proved the address signs in at once
        session.delete(throttle)
    return replace_password(session, user, password)
