"""API keys: an organization's programmatic access to the REST API.

A key belongs to one organization and carries one role (``org_admin``, or ``member`` =
read-only). Its secret (``vp_`` + 43 url-safe characters) is shown once, when it is made;
only its SHA-256 is stored, with a short prefix to recognise it in lists. Presented as
``Authorization: Bearer vp_...``, it becomes an ``ApiKeyActor`` that every service takes
where it takes a ``User``: ``rbac`` treats it as a member with the key's role in its own
organization and as a stranger (404) everywhere else; what only a person can do (an account,
accepting an invitation, connecting a Google account, creating organizations, making keys)
is refused with "API keys cannot ..." (403).

``last_used_at`` is written at most once a minute per key, by one conditional UPDATE on its
own short transaction, so a busy key does not turn every read into a write, and the mark
survives a request that fails.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlmodel import Session, select

from voice_platform.errors import NotAuthenticated, NotFound
from voice_platform.models import ApiKey, User
from voice_platform.models.base import aware, utcnow
from voice_platform.services import audit, validation
from voice_platform.services.rbac import ASSIGNABLE_ROLES, refuse_api_key, require

PREFIX = "vp_"
SECRET_BYTES = 32  # token_urlsafe(32) is 43 characters
SHOWN_PREFIX = len(PREFIX) + 8  # "vp_" + 8 characters identify a key in lists
LAST_USED_EVERY = timedelta(minutes=1)
MANAGE = "org:manage"
NOT_FOUND = "API key not found"
INVALID = "Invalid or revoked API key"
MAX_NAME = 100


@dataclass(frozen=True)
class ApiKeyActor:
    """Who a request is when it presents an API key: the organization's key, not a person."""

    api_key_id: uuid.UUID
    organization_id: uuid.UUID
    role: str
    name: str
    id: None = None  # no user: anything keyed by a user id refuses keys (rbac.refuse_api_key)
    is_platform_admin: bool = False
    is_active: bool = True
    full_name: None = None

    @property
    def email(self) -> str:
        """How the audit log and error messages name it."""
        return f"API key {self.name}"


@dataclass(frozen=True)
class KeyView:
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    prefix: str
    role: str
    created_by: str | None  # the creator's e-mail (None: the account is gone)
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class CreatedKey:
    key: KeyView
    secret: str  # shown once; never stored, never retrievable again


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def is_key(actor: object) -> bool:
    return isinstance(actor, ApiKeyActor)


def looks_like_key(token: str | None) -> bool:
    return bool(token) and token.startswith(PREFIX)  # type: ignore[union-attr]


def _view(key: ApiKey, creator: str | None) -> KeyView:
    return KeyView(id=key.id, organization_id=key.organization_id, name=key.name, prefix=key.prefix, role=key.role,
                   created_by=creator, created_at=aware(key.created_at), last_used_at=aware(key.last_used_at),
                   revoked_at=aware(key.revoked_at))


def create_key(session: Session, actor: User, org_id: uuid.UUID, *, name: str, role: str) -> CreatedKey:
    """A new key for the organization; the returned ``secret`` is the only time anyone sees it."""
    require(session, actor, MANAGE, org_id)
    refuse_api_key(actor, "create API keys; an org admin creates them in the dashboard or with a user token")
    label = validation.text(name, "name", max_length=MAX_NAME, required=True)
    validation.choice(role, "role", ASSIGNABLE_ROLES)
    secret = PREFIX + secrets.token_urlsafe(SECRET_BYTES)
    key = ApiKey(organization_id=org_id, name=label, prefix=secret[:SHOWN_PREFIX], key_hash=hash_secret(secret),
                 role=role, created_by_id=actor.id)
    session.add(key)
    session.flush()
    audit.record(session, actor, org_id, "api_key.created", target_type="api_key", target_id=key.id,
                 summary=f"Created API key {label!r} ({role.replace('_', ' ')}, {key.prefix}…)",
                 after={"name": label, "role": role, "prefix": key.prefix})
    return CreatedKey(_view(key, actor.email), secret)


def list_keys(session: Session, actor: User, org_id: uuid.UUID) -> list[KeyView]:
    """Every key of the organization, newest first, revoked ones included (marked)."""
    require(session, actor, MANAGE, org_id)
    rows = session.exec(
        select(ApiKey, User.email).join(User, User.id == ApiKey.created_by_id, isouter=True)
        .where(ApiKey.organization_id == org_id).order_by(ApiKey.created_at.desc(), ApiKey.id)
    ).all()
    return [_view(key, email) for key, email in rows]


def revoke_key(session: Session, actor: User, org_id: uuid.UUID, key_id: uuid.UUID) -> KeyView:
    """The key stops working at once (401). Revoking a revoked key changes nothing."""
    require(session, actor, MANAGE, org_id)
    key = session.get(ApiKey, key_id)
    if key is None or key.organization_id != org_id:
        raise NotFound(NOT_FOUND)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
        session.flush()
        audit.record(session, actor, org_id, "api_key.revoked", target_type="api_key", target_id=key.id,
                     summary=f"Revoked API key {key.name!r} ({key.prefix}…)",
                     before={"revoked": False}, after={"revoked": True})
    creator = session.get(User, key.created_by_id) if key.created_by_id else None
    return _view(key, creator.email if creator else None)


def authenticate(session: Session, secret: str | None) -> ApiKeyActor:
    """The actor for ``Authorization: Bearer vp_...``; NotAuthenticated for an unknown or revoked key.

    Called first in a request (``api.deps``), before its session writes anything: the last-use
    mark goes through a second connection, which on SQLite cannot write while this one holds the lock.
    """
    if not looks_like_key(secret) or len(secret or "") > 200 or "\x00" in (secret or ""):
        raise NotAuthenticated(INVALID)
    key = session.exec(select(ApiKey).where(ApiKey.key_hash == hash_secret(secret or ""))).first()
    if key is None or key.revoked_at is not None:
        raise NotAuthenticated(INVALID)
    _mark_used(session, key)
    return ApiKeyActor(api_key_id=key.id, organization_id=key.organization_id, role=key.role, name=key.name)


def actor_from_token(session: Session, token: str | None) -> User | ApiKeyActor:
    """Whoever a bearer token names: an API key (``vp_...``) or a signed-in user (a JWT)."""
    if looks_like_key(token):
        return authenticate(session, token)
    from voice_platform.services import auth  # auth's own imports reach further (billing, mail)

    return auth.user_from_token(session, token)


def _mark_used(session: Session, key: ApiKey) -> None:
    """At most one write a minute per key, whatever the number of requests or processes."""
    now = utcnow()
    last = aware(key.last_used_at)
    if last is not None and now - last < LAST_USED_EVERY:
        return
    table = ApiKey.__table__
    statement = (
        update(table)
        .where(table.c.id == key.id,
               or_(table.c.last_used_at.is_(None), table.c.last_used_at < now - LAST_USED_EVERY))
        .values(last_used_at=now)
    )
    # Its own short transaction: the mark stays even when the request's transaction rolls back.
    with session.get_bind().begin() as conn:
        conn.execute(statement)

