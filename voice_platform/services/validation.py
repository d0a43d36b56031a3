"""Small field validators shared by services; each raises ValidationFailed naming the field."""

from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from voice_platform.errors import ValidationFailed

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def text(value: object, field: str, *, max_length: int, required: bool = False, min_length: int = 0) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be text", field=field)
    value = value.strip()
    if "\x00" in value:
        raise ValidationFailed(f"{field} must not contain NUL characters", field=field)
    if required and not value:
        raise ValidationFailed(f"{field.replace('_', ' ').capitalize()} is required", field=field)
    if len(value) < min_length:
        raise ValidationFailed(f"{field} must be at least {min_length} characters", field=field)
    if len(value) > max_length:
        raise ValidationFailed(f"{field} must be at most {max_length} characters", field=field)
    return value


def email(value: object, field: str = "email") -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed("E-mail is required", field=field)
    if "\x00" in value:
        raise ValidationFailed("Invalid e-mail address", field=field)
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationFailed(f"Invalid e-mail address: {exc}", field=field) from exc
    return result.normalized.lower()


def phone_e164(value: object, field: str = "phone_number") -> str | None:
    """E.164 or nothing: '+' then country code and number, as Twilio sends it in ``To``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ValidationFailed("Phone number must be text in E.164 format, e.g. +14155550100", field=field)
    compact = re.sub(r"[\s\-().]", "", value)
    if not _E164.match(compact):
        raise ValidationFailed("Phone number must be in E.164 format, e.g. +14155550100", field=field)
    try:
        parsed = phonenumbers.parse(compact, None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationFailed("Phone number must be in E.164 format, e.g. +14155550100", field=field) from exc
    if not phonenumbers.is_possible_number(parsed):
        raise ValidationFailed("That phone number is not possible for its country code", field=field)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def choice(value: object, field: str, options: tuple[str, ...] | list[str]) -> str:
    if value not in options:
        raise ValidationFailed(f"{field} must be one of: {', '.join(options)}", field=field)
    return value  # type: ignore[return-value]


def boolean(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationFailed(f"{field} must be true or false", field=field)
    return value


@lru_cache(maxsize=1)
def time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def time_zone(value: object, field: str = "timezone") -> str:
    """An IANA name such as Europe/Berlin: a wrong one would book at the wrong hour."""
    if not isinstance(value, str) or value.strip() not in time_zones():
        raise ValidationFailed("Time zone must be an IANA name such as America/New_York or Europe/Berlin", field=field)
    return value.strip()


def insert_for(session):
    """The dialect's INSERT (PostgreSQL's or SQLite's), for ON CONFLICT clauses; both run here."""
    from sqlalchemy.dialects import postgresql, sqlite

    bind = session.get_bind() if hasattr(session, "get_bind") else session
    return (postgresql if bind.dialect.name == "postgresql" else sqlite).insert
