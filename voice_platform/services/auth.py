"""Sign-up, sign-in (throttled, constant-work), token checks and sign-out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from voice_platform import security
from voice_platform.errors import Conflict, NotAuthenticated, TooManyAttempts
from voice_platform.models import Membership, Organization, SigninThrottle, User
from voice_platform.models.base import aware, utcnow
from voice_platform.services import validation
from voice_platform.services.rbac import ORG_ADMIN, role_id
from voice_platform.settings import get_settings

INVALID_CREDENTIALS = "Invalid e-mail or password"
MIN_PASSWORD = 8
MAX_PASSWORD = 128


@dataclass(frozen=True)
class SignedIn:
    user: User
    access_token: str


def normalize_email(raw: str) -> str:
    return validation.email(raw)


def validate_password(password: object) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise validation.ValidationFailed(f"Password must be at least {MIN_PASSWORD} characters", field="password")
    if len(password) > MAX_PASSWORD:
        raise validation.ValidationFailed(f"Password must be at most {MAX_PASSWORD} characters", field="password")
    return password


def find_user_by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(func.lower(User.email) == email.strip().lower())).first()


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    full_name: str | None = None,
    is_platform_admin: bool = False,
) -> User:
    address = normalize_email(email)
    validate_password(password)
    name = validation.text(full_name, "full_name", max_length=200) or None
    if find_user_by_email(session, address) is not None:
        raise Conflict("An account with this e-mail already exists", field="email")
    user = User(
        email=address,
        full_name=name,
        password_hash=security.hash_password(password),
        is_platform_admin=is_platform_admin,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent sign-up took the e-mail between check and insert
        raise Conflict("An account with this e-mail already exists", field="email") from exc
    return user


def create_organization_for(session: Session, user: User, name: str, business_details: str | None = None) -> Organization:
    org = Organization(
        name=validation.text(name, "name", max_length=200, required=True),
        business_details=validation.text(business_details, "business_details", max_length=5000) or None,
    )
    session.add(org)
    session.flush()
    session.add(Membership(user_id=user.id, organization_id=org.id, role_id=role_id(session, ORG_ADMIN)))
    session.flush()
    return org


def signup(
    session: Session,
    *,
    email: str,
    password: str,
    full_name: str | None = None,
    organization_name: str | None = None,
) -> tuple[SignedIn, Organization]:
    """A new account always gets its own organization, where it is org admin."""
    user = create_user(session, email=email, password=password, full_name=full_name)
    org_name = (organization_name or "").strip() or f"{user.full_name or user.email.split('@')[0]}'s organization"
    org = create_organization_for(session, user, org_name[:200])
    return SignedIn(user=user, access_token=security.create_access_token(user.id, user.token_version)), org


def signin(session: Session, *, email: str, password: str) -> SignedIn:
    """Same error, same work (one argon2 verify) for an unknown e-mail and a wrong password."""
    settings = get_settings()
    key = (email or "").strip().lower()[:320]
    if "\x00" in key or "\x00" in (password or ""):
        # PostgreSQL text cannot hold NUL; no account can match such input.
        raise NotAuthenticated(INVALID_CREDENTIALS)
    _refuse_if_blocked(session, key)
    user = find_user_by_email(session, key) if key else None
    ok = security.verify_password(password or "", user.password_hash if user else None)
    if not ok or user is None or not user.is_active:
        _record_failure(session, key, settings.signin_max_failures, settings.signin_lockout_seconds)
        raise NotAuthenticated(INVALID_CREDENTIALS)
    _clear_failures(session, key)
    return SignedIn(user=user, access_token=security.create_access_token(user.id, user.token_version))


def user_from_token(session: Session, token: str | None) -> User:
    if not token:
        raise NotAuthenticated("Not signed in")
    try:
        user_id, version = security.decode_access_token(token)
    except security.TokenInvalid as exc:
        raise NotAuthenticated("Session expired or invalid; sign in again") from exc
    user = session.get(User, user_id)
    if user is None or not user.is_active or user.token_version != version:
        raise NotAuthenticated("Session expired or invalid; sign in again")
    return user


def signout(session: Session, user: User) -> None:
    """Revoke every token issued to this user so far."""
    user.token_version += 1
    session.add(user)
    session.flush()


def _refuse_if_blocked(session: Session, key: str) -> None:
    row = session.get(SigninThrottle, key)
    if row is not None and row.blocked_until is not None:
        remaining = (aware(row.blocked_until) - utcnow()).total_seconds()
        if remaining > 0:
            raise TooManyAttempts(
                "Too many failed sign-ins; try again later", retry_after=max(1, int(remaining + 0.999))
            )


def _record_failure(session: Session, key: str, max_failures: int, lockout_seconds: int) -> None:
    """Written in its own transaction: the caller's rolls back when sign-in fails.

    Two concurrent first failures for one e-mail race on the insert; the loser retries as an update.
    """
    for attempt in range(2):
        with Session(session.get_bind()) as own:
            now = utcnow()
            row = own.get(SigninThrottle, key)
            if row is None or aware(row.window_started_at) < now - timedelta(seconds=lockout_seconds):
                row = row or SigninThrottle(email=key, window_started_at=now)
                row.failures, row.window_started_at, row.blocked_until = 0, now, None
            row.failures += 1
            if row.failures >= max_failures:
                row.blocked_until = now + timedelta(seconds=lockout_seconds)
            own.add(row)
            try:
                own.commit()
                return
            except IntegrityError:
                own.rollback()
                if attempt:
                    raise


def _clear_failures(session: Session, key: str) -> None:
    row = session.get(SigninThrottle, key)
    if row is not None:
        session.delete(row)
        session.flush()


def get_user(session: Session, user_id: uuid.UUID) -> User | None:
    return session.get(User, user_id)
