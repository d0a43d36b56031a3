""""Forgot password?": a link by e-mail that works once, expires, and signs out every other session.

``request`` gives one answer whatever the address: an account or not, rate-limited or not.
It does the same queries either way, and the e-mail leaves on a background thread after the
transaction commits (``mail.deliver_after_commit``), so neither the words, the status nor the
time taken tell whether an address has an account. A mail that could not be sent withdraws its
link and is logged for the operator; the requester cannot be told without telling everyone.

Only the SHA-256 of the link's random token is stored (``PasswordReset``), like invitations.
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

from voice_platform import security
from voice_platform.errors import DomainError, IntegrationNotConfigured, MailNotSent, ValidationFailed
from voice_platform.models import PasswordReset, SigninThrottle, User
from voice_platform.models.base import aware, utcnow
from voice_platform.services import mail, validation
from voice_platform.services.auth import SignedIn, validate_password
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
    """Unknown, expired or used link: the same words for each (400)."""

    status_code = 400


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
    reset = PasswordReset(user_id=user.id, token_hash=_hash(token),
                          expires_at=now + timedelta(minutes=get_settings().password_reset_ttl_minutes))
    session.add(reset)
    session.flush()
    mail.deliver_after_commit(session, _message(user, token), on_failure=lambda exc: _withdraw(reset.id, exc))
    return neutral_answer()


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
    user.password_hash = security.hash_password(password)
    user.token_version += 1  # as sign-out does: every token issued so far stops working
    session.add(user)
    throttle = session.get(SigninThrottle, user.email.lower())
    if throttle is not None:  # a locked-out owner who proved the address signs in at once
        session.delete(throttle)
    session.flush()
    return SignedIn(user=user, access_token=security.create_access_token(user.id, user.token_version))
