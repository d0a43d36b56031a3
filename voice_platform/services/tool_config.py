"""Pure helpers for tool configuration: JSON-Schema validation and function views.

Kept apart from ``services/tools.py`` so the rules about *data* (what a valid
config is, which functions a tool has) can be read and tested without a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import best_match

from voice_platform.errors import ValidationFailed
from voice_platform.services import validation


@dataclass(frozen=True)
class ParamView:
    name: str
    type: str
    required: bool
    default: Any = None
    has_default: bool = False
    description: str = ""
    enum: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class FunctionView:
    name: str
    description: str
    parameters: list[ParamView]
    enabled: bool = True


def function_names(tool_functions_schema: dict[str, Any] | None) -> list[str]:
    return [f["name"] for f in (tool_functions_schema or {}).get("functions", [])]


def _type_of(prop: dict[str, Any]) -> tuple[str, list[Any]]:
    """A readable type for LiveKit/pydantic schemas: Optional[int] is anyOf[int, null], Literal is enum."""
    if "enum" in prop:
        return prop.get("type", "string"), list(prop["enum"])
    if "const" in prop:
        return prop.get("type", "string"), [prop["const"]]
    if "anyOf" in prop:
        parts = [_type_of(p) for p in prop["anyOf"] if p.get("type") != "null"]
        optional = len(parts) != len(prop["anyOf"])
        names = " | ".join(p[0] for p in parts) or "null"
        enum = [v for p in parts for v in p[1]]
        return (names + (" | null" if optional else "")), enum
    if prop.get("type") == "array":
        inner = _type_of(prop.get("items", {}))[0] if prop.get("items") else "any"
        return f"array of {inner}", []
    return str(prop.get("type", "any")), []


def function_views(tool_functions_schema: dict[str, Any] | None, unselected: list[str]) -> list[FunctionView]:
    views = []
    for fn in (tool_functions_schema or {}).get("functions", []):
        params = fn.get("parameters") or {}
        required = set(params.get("required", []))
        plist = []
        for name, prop in (params.get("properties") or {}).items():
            typ, enum = _type_of(prop)
            plist.append(ParamView(
                name=name, type=typ, required=name in required, default=prop.get("default"),
                has_default="default" in prop, description=(prop.get("description") or "").strip(), enum=enum,
            ))
        views.append(FunctionView(fn["name"], (fn.get("description") or "").strip(), plist, fn["name"] not in unselected))
    return views


def _unstorable(text: str) -> str | None:
    """Why ``text`` cannot be stored: PostgreSQL text and JSONB hold no NUL character, and a
    lone UTF-16 surrogate ("\\ud800", valid JSON escape syntax) is no UTF-8 at all."""
    if "\x00" in text:
        return "text may not contain NUL characters"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "text may not contain lone surrogate characters"
    return None


def _bad_path(value: Any, path: str) -> tuple[str, str] | None:
    """The first string in ``value`` the database cannot store, before the database finds it: (where, why)."""
    if isinstance(value, str):
        reason = _unstorable(value)
        return (path, reason) if reason else None
    if isinstance(value, dict):
        for k, v in value.items():
            found = _bad_path(k, path) or _bad_path(v, str(k) if path == "config" else path)
            if found:
                return found
    if isinstance(value, list):
        for v in value:
            found = _bad_path(v, path)
            if found:
                return found
    return None


def reject_unstorable(value: Any, field_name: str) -> None:
    found = _bad_path(value, field_name)
    if found:
        where, why = found
        # The field is named, not echoed: a surrogate in it could not be encoded in the answer either.
        raise ValidationFailed(f"{where}: {why}" if _unstorable(where) is None else why,
                               field=where if _unstorable(where) is None else field_name)


def _failing_field(error) -> str | None:
    if error.path:
        return str(error.path[0])
    if error.validator == "required":
        missing = [r for r in error.validator_value if r not in (error.instance or {})]
        return missing[0] if missing else None
    if error.validator == "additionalProperties":
        allowed = set(error.schema.get("properties", {}))
        extra = [k for k in (error.instance or {}) if k not in allowed]
        return extra[0] if extra else None
    return None


# Formats a tool's config_schema may use beyond JSON Schema's own: "time-zone" is an IANA name
# (a wrong one would silently book at the wrong hour).
FORMATS = FormatChecker()


@FORMATS.checks("time-zone")
def _is_time_zone(value: object) -> bool:
    return not isinstance(value, str) or value in validation.time_zones()


def _check_order(schema: dict[str, Any], values: dict[str, Any]) -> None:
    """``"x-ordered": [["start", "end"], ...]``: cross-field rules JSON Schema cannot say (start < end)."""
    props = schema.get("properties", {})
    for first, second in schema.get("x-ordered", []):
        a = values.get(first, props.get(first, {}).get("default"))
        b = values.get(second, props.get(second, {}).get("default"))
        if a is not None and b is not None and type(a) is type(b) and not a < b:
            label = props.get(first, {}).get("title", first).lower()
            raise ValidationFailed(f"{second}: must be after {label} ({a})", field=second)


def clean_config(
    schema: dict[str, Any], secret_fields: list[str], incoming: dict[str, Any], stored_secrets: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split ``incoming`` into plain config and secrets, validate the whole, return both.

    Plain config is replaced by what is sent. A secret key sent with a value
    replaces the stored one, sent as None/"" clears it, left out keeps it — so a
    form that never shows secrets can still save. Error messages never echo a
    secret's value.
    """
    if not isinstance(incoming, dict):
        raise ValidationFailed("config must be an object", field="config")
    reject_unstorable(incoming, "config")
    config = {k: v for k, v in incoming.items() if k not in secret_fields and v is not None}
    secrets = dict(stored_secrets)
    for key in secret_fields:
        if key in incoming:
            if incoming[key] in (None, ""):
                secrets.pop(key, None)
            else:
                secrets[key] = incoming[key]
    candidate = {**config, **{k: secrets[k] for k in secret_fields if k in secrets}}
    error = best_match(Draft202012Validator(schema or {}, format_checker=FORMATS).iter_errors(candidate))
    if error is not None:
        name = _failing_field(error)
        if name in secret_fields:
            message = f"{name}: this value is not valid"
        else:
            message = f"{name}: {error.message}" if name else error.message
        if len(message) > 300:  # jsonschema quotes the whole value; a 2 MB value must not come back
            message = message[:297] + "..."
        raise ValidationFailed(message, field=name or "config")
    _check_order(schema or {}, candidate)
    return config, secrets
