"""Small field validators shared by services; each raises ValidationFailed naming the field."""

from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache

import phonenumbers
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from voice_platform.errors import ValidationFailed

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# What ``text(..., required=True)`` accepts, as a JSON-Schema (ECMA-262) pattern: no NUL, and one
# character that ``str.strip`` keeps (Python's whitespace, spelled out: ECMA's \s differs).
_SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NON_BLANK_PATTERN = rf"^[^\x00]*[^\x00{_SPACE}][^\x00]*$"
NO_NUL_PATTERN = r"^[^\x00]*$"


def text(value: object, field: str, *, max_length: int, required: bool = False, min_length: int = 0) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be text", field=field)
    if len(value) > max_length:  # as sent, spaces included: what the API's schema declares as maxLength
        raise ValidationFailed(f"{field} must be at most {max_length} characters", field=field)
    value = value.strip()
    if "\x00" in value:
        raise ValidationFailed(f"{field} must not contain NUL characters", field=field)
    if required and not value:
        raise ValidationFailed(f"{field.replace('_', ' ').capitalize()} is required", field=field)
    if len(value) < min_length:
        raise ValidationFailed(f"{field} must be at least {min_length} characters", field=field)
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


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


# Addresses ``email`` refuses although they are well formed: domains under a special-use name
# (RFC 6761: .test, .localhost, .invalid ...), as a JSON-Schema pattern (ECMA has no (?i)).
SPECIAL_USE_EMAIL_PATTERN = "[@.](?:" + "|".join(_any_case(n) for n in SPECIAL_USE_DOMAIN_NAMES) + r")\.?$"


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


@lru_cache(maxsize=1)
def e164_pattern() -> str:
    """The numbers ``phone_e164`` accepts written as E.164, as one JSON-Schema pattern: each
    country calling code with the national lengths libphonenumber calls possible for it (what
    ``is_possible_number`` checks), within E.164's 15 digits. Built from the library's own
    metadata, so the API's schema and this check agree; built on first use (it loads every
    region's metadata). ``phone_e164`` also takes spaces, dashes and brackets, and a national
    prefix after the country code, which this canonical form leaves out."""
    by_lengths: dict[str, list[str]] = {}
    for code, regions in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items()):
        metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(code, regions[0])
        if metadata is None:
            continue
        general = metadata.general_desc
        lengths = sorted({n for n in (general.possible_length or ()) if n > 0}
                         | set(general.possible_length_local_only or ()))
        lengths = [n for n in lengths if 7 <= len(str(code)) + n <= 15]
        if lengths:
            by_lengths.setdefault(_digit_runs(lengths), []).append(str(code))
    alternatives = [(codes[0] if len(codes) == 1 else f"(?:{'|'.join(codes)})") + f"(?:{runs})"
                    for runs, codes in sorted(by_lengths.items())]
    return rf"^\+(?:{'|'.join(alternatives)})$"


def _digit_runs(lengths: list[int]) -> str:
    """[7, 8, 9, 12] -> '[0-9]{7,9}|[0-9]{12}'."""
    runs, start = [], 0
    for i in range(1, len(lengths) + 1):
        if i == len(lengths) or lengths[i] != lengths[i - 1] + 1:
            low, high = lengths[start], lengths[i - 1]
            runs.append(f"[0-9]{{{low}}}" if low == high else f"[0-9]{{{low},{high}}}")
            start = i
    return "|".join(runs)


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
