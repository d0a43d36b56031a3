"""Sign-up, sign-in (throttled, constant-work), token checks, sign-out and the account's own password."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import case, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from voice_platform import security
from voice_platform.errors import Conflict, NotAuthenticated, TooManyAttempts
from voice_platform.models import Membership, Organization, SigninThrottle, User
from voice_platform.models.base import aware, utcnow
from voice_platform.services import billing, mail, validation
from voice_platform.services.rbac import ORG_ADMIN, role_id
from voice_platform.settings import get_settings

INVALID_CREDENTIALS = "Invalid e-mail or password"
MIN_PASSWORD = 8
MAX_PASSWORD = 128
MAX_NAME = 200  # a person's full name
MAX_ORG_NAME = 200
MAX_BUSINESS_DETAILS = 5000


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
    name = validation.text(full_name, "full_name", max_length=MAX_NAME) or None
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
        name=validation.text(name, "name", max_length=MAX_ORG_NAME, required=True),
        business_details=validation.text(business_details, "business_details", max_length=MAX_BUSINESS_DETAILS) or None,
    )
    session.add(org)
    session.flush()
    session.add(Membership(user_id=user.id, organization_id=org.id, role_id=role_id(session, ORG_ADMIN)))
    billing.start_subscription(session, org.id, get_settings().default_plan)
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
    # Counted before the password is checked, atomically: N concurrent guesses cannot all slip
    # through between a check and a write. Done before this session touches the database, so a
    # sign-in holds one pooled connection at a time.
    _count_attempt(session.get_bind(), key, settings.signin_max_failures, settings.signin_lockout_seconds)
    user = find_user_by_email(session, key) if key else None
    ok = security.verify_password(password or "", user.password_hash if user else None)
    if not ok or user is None or not user.is_active:
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


def update_profile(session: Session, user: User, *, full_name: str | None) -> User:
    """The user's own name (shown in the dashboard and to the organization's other members)."""
    name = (full_name or "").strip()
    if len(name) > MAX_NAME:
        raise validation.ValidationFailed(f"Name must be at most {MAX_NAME} characters", field="full_name")
    if "\x00" in name:
        raise validation.ValidationFailed("Name contains a character that cannot be stored", field="full_name")
    user.full_name = name or None
    session.add(user)
    session.flush()
    return user


ALREADY_HAS_PASSWORD = "This account already has a password: enter the current one to change it"


def has_password(user: User) -> bool:
    """False for an account made by "Sign in with Google" until its owner sets a password."""
    return security.has_usable_password(user.password_hash)


def change_password(session: Session, user: User, *, current_password: str, new_password: str) -> SignedIn:
    """A new password; every other session is signed out, this one gets a fresh token."""
    if not security.verify_password(current_password or "", user.password_hash):
        raise validation.ValidationFailed("The current password is not right", field="current_password")
    _check_new_password(new_password)
    if security.verify_password(new_password, user.password_hash):
        raise validation.ValidationFailed("The new password must differ from the current one", field="new_password")
    return replace_password(session, user, new_password)


def set_password(session: Session, user: User, *, new_password: str) -> SignedIn:
    """The first password of an account made by "Sign in with Google" (so it can sign in by e-mail too).

    Only while the account has none: once it has one, changing it takes the current one
    (``change_password``), so a stolen session cannot quietly replace it. The row is locked
    first, so of two tabs setting one at once the second is refused rather than overwriting.
    Like a change, every other session is signed out and this one gets a fresh token.
    """
    session.refresh(user, with_for_update=True)
    if has_password(user):
        raise validation.ValidationFailed(ALREADY_HAS_PASSWORD, field="current_password")
    _check_new_password(new_password)
    if mail.is_configured():  # the owner hears of it, in case it was not them (a stolen session)
        mail.deliver_after_commit(session, _password_set_notice(user))
    return replace_password(session, user, new_password)


def _password_set_notice(user: User) -> mail.Mail:
    base = get_settings().public_base_url.rstrip("/")
    return mail.Mail(
        to=user.email,
        subject="A password was set on your account",
        paragraphs=(
            f"Hello{' ' + user.full_name if user.full_name else ''},",
            "A password was just set on your account, which until now signed in only with Google. "
            "It can now also sign in with this e-mail address and that password, and every other "
            "session was signed out.",
            "Was this not you? Choose a new password with \"Forgot password?\" on the sign-in page "
            "right away: that signs out everyone else.",
        ),
        link=base + "/forgot-password",
        button="Choose a new password",
    )


def _check_new_password(new_password: object) -> None:
    """The sign-up rules, reported on the ``new_password`` field of the account forms."""
    try:
        validate_password(new_password)
    except validation.ValidationFailed as exc:
        raise validation.ValidationFailed(exc.message, field="new_password") from exc


def replace_password(session: Session, user: User, new_password: str) -> SignedIn:
    """Store ``new_password`` (already checked); every token issued so far stops working, as
    sign-out does, and this session gets a fresh one."""
    user.password_hash = security.hash_password(new_password)
    user.token_version += 1  # every token issued so far stops working
    session.add(user)
    session.flush()
    return SignedIn(user=user, access_token=security.create_access_token(user.id, user.token_version))


def _count_attempt(bind, key: str, max_attempts: int, window_seconds: int) -> None:
    """One more attempt for ``key`` in the current window (committed at once); refuse past the limit.

    An upsert with RETURNING (PostgreSQL and SQLite >= 3.35 alike) so concurrent attempts each
    see their own count. The window starts at the first attempt and lasts ``window_seconds``;
    a successful sign-in clears it.
    """
    now = utcnow()
    table = SigninThrottle.__table__
    insert = validation.insert_for(bind)
    stale = table.c.window_started_at < now - timedelta(seconds=window_seconds)
    statement = (
        insert(table)
        .values(email=key, attempts=1, window_started_at=now)
        .on_conflict_do_update(
            index_elements=[table.c.email],
            set_={
                "attempts": case((stale, 1), else_=table.c.attempts + 1),
                "window_started_at": case((stale, now), else_=table.c.window_started_at),
            },
        )
        .returning(table.c.attempts, table.c.window_started_at)
    )
    with bind.begin() as conn:
        attempts, started = conn.execute(statement).one()
    if attempts > max_attempts:
        remaining = (aware(started) + timedelta(seconds=window_seconds) - now).total_seconds()
        raise TooManyAttempts("Too many failed sign-ins; try again later", retry_after=max(1, int(remaining + 0.999)))


def _clear_failures(session: Session, key: str) -> None:
    row = session.get(SigninThrottle, key)
    if row is not None:
        session.delete(row)
        session.flush()


def get_user(session: Session, user_id: uuid.UUID) -> User | None:
    return session.get(User, user_id)
