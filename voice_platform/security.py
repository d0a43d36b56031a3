"""Cryptographic primitives, each behind one small function.

Passwords: passlib's argon2 scheme (its bcrypt backend breaks on bcrypt 5).
Tokens: python-jose HS256, always decoded with ``algorithms=`` pinned.
Secrets at rest: Fernet through MultiFernet, newest key first, so keys rotate.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import uuid
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from jose import JWTError, jwt
from passlib.context import CryptContext

from voice_platform.settings import get_settings

JWT_ALGORITHM = "HS256"

_pwd_context = CryptContext(schemes=["argon2"], deprecated="auto")
# Verified against when the e-mail is unknown, so both paths cost one argon2 check.
_DUMMY_HASH = _pwd_context.hash(secrets.token_urlsafe(16))


class TokenInvalid(Exception):
    pass


def hash_password(password: str) -> str:
    return _pwd_context.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    if not password_hash:
        _pwd_context.verify(password, _DUMMY_HASH)
        return False
    try:
        return _pwd_context.verify(password, password_hash)
    except (ValueError, TypeError):
        return False


# A hash no password verifies against (passlib cannot identify it): accounts made by "Sign in with
# Google" have one until their owner sets a password.
UNUSABLE_PASSWORD_PREFIX = "!"


def unusable_password_hash() -> str:
    return UNUSABLE_PASSWORD_PREFIX + secrets.token_hex(16)


def has_usable_password(password_hash: str | None) -> bool:
    return bool(password_hash) and not password_hash.startswith(UNUSABLE_PASSWORD_PREFIX)


def create_access_token(user_id: uuid.UUID, token_version: int, *, minutes: int | None = None) -> str:
    settings = get_settings()
    now = datetime.now(timezone.utc)
    lifetime = timedelta(minutes=minutes if minutes is not None else settings.access_token_expire_minutes)
    claims = {"sub": str(user_id), "ver": token_version, "iat": now, "exp": now + lifetime, "typ": "access"}
    return jwt.encode(claims, settings.secret_key, algorithm=JWT_ALGORITHM)


def decode_access_token(token: str) -> tuple[uuid.UUID, int]:
    try:
        claims = jwt.decode(token, get_settings().secret_key, algorithms=[JWT_ALGORITHM])
        if claims.get("typ") != "access":
            raise TokenInvalid("wrong token type")
        return uuid.UUID(claims["sub"]), int(claims.get("ver", 0))
    except (JWTError, KeyError, ValueError, TypeError) as exc:
        raise TokenInvalid(str(exc)) from exc


def sign_payload(payload: dict[str, Any], *, minutes: float, purpose: str) -> str:
    """A short-lived signed token (OAuth state). ``purpose`` keeps tokens of one kind out of another."""
    settings = get_settings()
    now = datetime.now(timezone.utc)
    claims = dict(payload, typ=purpose, iat=now, exp=now + timedelta(minutes=minutes))
    return jwt.encode(claims, settings.secret_key, algorithm=JWT_ALGORITHM)


def verify_signed_payload(token: str, *, purpose: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(token, get_settings().secret_key, algorithms=[JWT_ALGORITHM])
    except JWTError as exc:
        raise TokenInvalid(str(exc)) from exc
    if claims.get("typ") != purpose:
        raise TokenInvalid("wrong token purpose")
    return claims


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(k) for k in get_settings().fernet_keys])


def encrypt_json(data: dict[str, Any]) -> str:
    return _fernet().encrypt(json.dumps(data, separators=(",", ":")).encode()).decode()


def decrypt_json(token: str | None) -> dict[str, Any]:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise TokenInvalid("secret cannot be decrypted with the configured ENCRYPTION_KEYS") from exc


def encrypt_text(text: str) -> str:
    return _fernet().encrypt(text.encode()).decode()


def decrypt_text(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise TokenInvalid("secret cannot be decrypted with the configured ENCRYPTION_KEYS") from exc


def rotate_ciphertext(token: str) -> str:
    """Re-encrypt under the newest key (MultiFernet.rotate keeps the original timestamp)."""
    return _fernet().rotate(token.encode()).decode()


def validate_twilio_signature(url: str, params: dict[str, str], signature: str | None) -> bool:
    """True only when Twilio's auth token is configured and the signature matches.

    The common case costs one HMAC: the URL exactly as given to Twilio, signed as Twilio
    documents it (``_twilio_sha1``; the tests sign with twilio's own ``compute_signature``).
    Only when that does not match does twilio's validator run its full check (the URL with
    and without the port, as Twilio's signing is not consistent about it).
    """
    token = get_settings().twilio_auth_token
    if not token or not signature:
        return False
    if hmac.compare_digest(_twilio_sha1(token, url, params), signature.encode()):
        return True
    return _twilio_validator(token).validate(url, params, signature)


def _twilio_sha1(token: str, url: str, params: dict[str, str]) -> bytes:
    """Twilio's X-Twilio-Signature of a form POST: base64 of HMAC-SHA1, keyed with the auth token,
    of the URL followed by every parameter's name and value, in the names' order (a dict holds one
    value per name, so twilio's sort of a name's values changes nothing). Every webhook pays it,
    so it is the one join and one HMAC, not twilio's loop of string concatenations."""
    message = url + "".join([name + value for name, value in sorted(params.items())])
    return base64.b64encode(hmac.digest(token.encode(), message.encode(), "sha1"))


@lru_cache(maxsize=4)
def _twilio_validator(token: str):
    from twilio.request_validator import RequestValidator

    return RequestValidator(token)
