"""A pending OAuth authorization, made single-use: signed state, PKCE verifier, expiry, cleanup.

Both Google flows — a tool's Calendar connection (``services/oauth.py``) and Sign in with
Google (``services/google_signin.py``) — hand Google a ``state`` that must come back
unforged, unexpired and unused, and both must remember a PKCE verifier between the two
legs. This module is the one implementation of that:

* ``issue`` writes the row and returns the signed state (a short-lived token carrying the
  row's nonce and the flow's own claims) with a fresh PKCE verifier and its S256 challenge;
  the verifier is kept encrypted in the row, never in the state;
* ``read`` checks the state's signature, purpose and expiry, without touching the database;
* ``is_pending`` and ``consume`` check the row (unused, unexpired, bound to what the flow
  binds it to); ``consume`` burns it with one conditional UPDATE, so a replay or a race
  between two callbacks loses;
* ``sweep`` deletes rows that expired more than a day ago; each ``issue`` does it, so the
  tables stay small without a scheduler.

Decision: the two tables stay (``oauth_states`` and ``signin_states``), and this module is
generic over them, so no migration. What they share is the single-use mechanics (nonce,
encrypted verifier, expiry, consumption); what binds a row differs — a Calendar state
belongs to a user, an agent and a tool, each NOT NULL, and is deleted with its agent; a
sign-in state has a purpose, an optional user and a page to return to, and the same table
holds the sign-in's one-time handoff codes. One merged table would make those bindings
nullable columns of every row and give up the constraints that hold them today, for no
change in behaviour.

Errors stay the caller's: ``read`` raises ``StateInvalid`` and ``consume`` returns None, and
each flow answers with its own message (the API answers and pages did not change).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, delete, update
from sqlmodel import Session, select

from voice_platform import security
from voice_platform.models import OAuthState, SigninState

Row = TypeVar("Row", OAuthState, SigninState)

CLEANUP_AFTER = timedelta(days=1)  # an expired row is kept this long, then swept
PKCE_VERIFIER_BYTES = 96  # 128 URL-safe characters: RFC 7636's longest verifier


class StateInvalid(Exception):
    """The state is forged, expired, of another purpose, or carries no nonce."""


@dataclass(frozen=True)
class Issued:
    """What the authorization URL needs: the signed ``state`` and the PKCE pair."""

    nonce: str
    state: str
    code_verifier: str
    code_challenge: str  # S256 of the verifier, base64url without padding


def now() -> datetime:
    return datetime.now(timezone.utc)


def pkce_pair() -> tuple[str, str]:
    """A fresh verifier and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(PKCE_VERIFIER_BYTES)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def sweep(session: Session, table: type[Row]) -> None:
    """Delete rows that expired more than ``CLEANUP_AFTER`` ago (used or not)."""
    session.execute(delete(table).where(table.expires_at < now() - CLEANUP_AFTER))


def remember(session: Session, table: type[Row], *, nonce: str, ttl: timedelta, code_verifier: str | None = None,
             **columns: Any) -> Row:
    """Write a pending row under ``nonce``, valid for ``ttl``; ``columns`` are what the flow binds it to."""
    row = table(
        nonce=nonce, code_verifier_encrypted=security.encrypt_text(code_verifier) if code_verifier else None,
        expires_at=now() + ttl, **columns,
    )
    session.add(row)
    session.flush()
    return row


def issue(session: Session, table: type[Row], *, state_purpose: str, ttl_seconds: float, claims: dict[str, Any],
          **columns: Any) -> Issued:
    """Start a flow: sweep old rows, write a new one, sign ``claims`` plus its nonce for ``state_purpose``.

    ``state_purpose`` keeps one flow's states out of the other's (``security.sign_payload``).
    """
    sweep(session, table)
    nonce = secrets.token_urlsafe(32)
    verifier, challenge = pkce_pair()
    state = security.sign_payload({**claims, "nonce": nonce}, minutes=ttl_seconds / 60, purpose=state_purpose)
    remember(session, table, nonce=nonce, ttl=timedelta(seconds=ttl_seconds), code_verifier=verifier, **columns)
    return Issued(nonce=nonce, state=state, code_verifier=verifier, code_challenge=challenge)


def read(state: str | None, *, state_purpose: str) -> dict[str, Any]:
    """The claims of a genuine, unexpired state issued for ``state_purpose`` (``nonce`` always a string)."""
    try:
        claims = security.verify_signed_payload(state or "", purpose=state_purpose)
    except security.TokenInvalid as exc:
        raise StateInvalid(str(exc)) from exc
    if not isinstance(claims.get("nonce"), str) or not claims["nonce"]:
        raise StateInvalid("no nonce")
    return claims


def _pending(table: type[Row], nonce: str, bound: tuple[ColumnElement[bool], ...]) -> tuple[ColumnElement[bool], ...]:
    return (table.nonce == nonce, table.consumed_at.is_(None), table.expires_at > now(), *bound)


def is_pending(session: Session, table: type[Row], nonce: str, *bound: ColumnElement[bool]) -> bool:
    """True when the row is unused, unexpired and matches ``bound``. Burns nothing."""
    return session.exec(select(table.nonce).where(*_pending(table, nonce, bound))).first() is not None


def consume(session: Session, table: type[Row], nonce: str, *bound: ColumnElement[bool]) -> Row | None:
    """Burn the row once: it, refreshed, when this call consumed it; None when used, expired or not ``bound``."""
    burned = session.execute(update(table).where(*_pending(table, nonce, bound)).values(consumed_at=now()))
    if burned.rowcount != 1:
        return None
    row = session.get(table, nonce)
    session.refresh(row)
    return row


def code_verifier(row: OAuthState | SigninState) -> str | None:
    """The row's PKCE verifier, decrypted (None for rows that keep none, such as handoff codes)."""
    return security.decrypt_text(row.code_verifier_encrypted) if row.code_verifier_encrypted else None
