"""An agent's analysis plan: what the post-call analysis asks the model, and how its answer is checked.

Three views of one rule set, kept side by side so they cannot drift: ``PLAN_JSON_SCHEMA`` (what the
API's OpenAPI document declares), ``clean_plan`` (what the service enforces, with messages a
person can act on) and ``response_schema`` / ``checked_answer`` (what the model must answer, and
what is kept of it: a model may still answer a field with the wrong type, which is dropped).
"""

from __future__ import annotations

import re
from typing import Any

from voice_platform.errors import Conflict, ValidationFailed
from voice_platform.services import validation

TYPES = ("string", "number", "integer", "boolean", "enum")
SENTIMENTS = ("positive", "neutral", "negative")
NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
_NAME = re.compile(NAME_PATTERN)
MAX_FIELDS = 30
MAX_CHOICES = 50
MAX_CHOICE = 100
MAX_PROMPT = 4000
MAX_DESCRIPTION = 500
MAX_STRING_VALUE = 2000  # an extracted text value longer than this is cut
DEFAULT_SUMMARY = ("Summarise the call in two or three sentences: who called, what they wanted, "
                   "and what the agent did about it.")

_FIELD_COMMON = {
    "name": {"type": "string", "pattern": NAME_PATTERN, "description": "lower_snake_case, unique in the plan"},
    "description": {"type": ["string", "null"], "maxLength": MAX_DESCRIPTION, "pattern": validation.NO_NUL_PATTERN},
    "required": {"type": "boolean", "description": "The call failed (success false) when it did not yield this"},
}
PLAN_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "What the post-call analysis extracts; null: the default plan (a summary and the caller's sentiment)",
    "properties": {
        "summary_prompt": {"type": ["string", "null"], "maxLength": MAX_PROMPT, "pattern": validation.NO_NUL_PATTERN,
                           "description": "How to summarise the call; empty or null: who called, what they wanted, what was done"},
        "success_rubric": {"type": ["string", "null"], "maxLength": MAX_PROMPT, "pattern": validation.NO_NUL_PATTERN,
                           "description": "When the call succeeded; empty or null: no verdict"},
        "fields": {"type": ["array", "null"], "maxItems": MAX_FIELDS, "items": {"oneOf": [
            {"type": "object", "additionalProperties": False, "required": ["name", "type", "choices"],
             "properties": {**_FIELD_COMMON, "type": {"const": "enum"},
                            "choices": {"type": "array", "minItems": 1, "maxItems": MAX_CHOICES, "items": {
                                "type": "string", "maxLength": MAX_CHOICE, "pattern": validation.NON_BLANK_PATTERN}}}},
            {"type": "object", "additionalProperties": False, "required": ["name", "type"],
             "properties": {**_FIELD_COMMON, "type": {"enum": [t for t in TYPES if t != "enum"]},
                            "choices": {"type": "null"}}},
        ]}},
    },
}
_PLAN_KEYS = set(PLAN_JSON_SCHEMA["properties"])
_FIELD_KEYS = {"name", "type", "description", "required", "choices"}


def clean_plan(value: object) -> dict[str, Any] | None:
    """The plan as stored, or None for the default; ``ValidationFailed`` naming the bad part
    (``Conflict`` for two fields with one name)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationFailed("analysis_plan must be an object or null", field="analysis_plan")
    unknown = set(value) - _PLAN_KEYS
    if unknown:
        raise ValidationFailed(f"analysis_plan has unknown key(s): {', '.join(sorted(map(str, unknown)))}",
                               field="analysis_plan")
    plan: dict[str, Any] = {}
    for key in ("summary_prompt", "success_rubric"):
        where = f"analysis_plan.{key}"
        plan[key] = validation.text(value.get(key), where, max_length=MAX_PROMPT) or None
    fields = value.get("fields")
    if fields is None:
        fields = []
    if not isinstance(fields, list):
        raise ValidationFailed("analysis_plan.fields must be a list", field="analysis_plan.fields")
    if len(fields) > MAX_FIELDS:
        raise ValidationFailed(f"An analysis plan has at most {MAX_FIELDS} fields", field="analysis_plan.fields")
    plan["fields"] = [_clean_field(f, i) for i, f in enumerate(fields)]
    seen: set[str] = set()
    for i, field in enumerate(plan["fields"]):
        if field["name"] in seen:  # a uniqueness rule, like a taken phone number (and no schema can say it)
            raise Conflict(f"Two fields are named {field['name']!r}; each needs its own name",
                                   field=f"analysis_plan.fields[{i}].name")
        seen.add(field["name"])
    return plan


def _clean_field(value: object, index: int) -> dict[str, Any]:
    where = f"analysis_plan.fields[{index}]"
    if not isinstance(value, dict):
        raise ValidationFailed(f"{where} must be an object", field=where)
    unknown = set(value) - _FIELD_KEYS
    if unknown:
        raise ValidationFailed(f"{where} has unknown key(s): {', '.join(sorted(map(str, unknown)))}", field=where)
    name = value.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValidationFailed("A field's name is 1-40 lower-case letters, digits and _, starting with a letter "
                               "(e.g. preferred_date)", field=f"{where}.name")
    kind = value.get("type")
    if kind not in TYPES:
        raise ValidationFailed(f"A field's type is one of: {', '.join(TYPES)}", field=f"{where}.type")
    required = value.get("required", False)
    if not isinstance(required, bool):
        raise ValidationFailed(f"{where}.required must be true or false", field=f"{where}.required")
    field = {"name": name, "type": kind,
             "description": validation.text(value.get("description"), f"{where}.description",
                                            max_length=MAX_DESCRIPTION),
             "required": required}
    choices = value.get("choices")
    if kind != "enum":
        if choices is not None:
            raise ValidationFailed("Only a field of type enum has choices", field=f"{where}.choices")
        return field
    if not isinstance(choices, list) or not 1 <= len(choices) <= MAX_CHOICES:
        raise ValidationFailed(f"A field of type enum needs 1 to {MAX_CHOICES} choices", field=f"{where}.choices")
    cleaned = [validation.text(c, f"{where}.choices", max_length=MAX_CHOICE, required=True) for c in choices]
    field["choices"] = list(dict.fromkeys(cleaned))  # the same choice twice is one choice
    return field


# --- what the model is asked, and what is kept of its answer -----------------------------------

def _value_schema(field: dict[str, Any]) -> dict[str, Any]:
    typed = ({"type": "string", "enum": field["choices"]} if field["type"] == "enum" else {"type": field["type"]})
    described = {"description": field["description"]} if field["description"] else {}
    return {"anyOf": [typed, {"type": "null"}], **described}


def response_schema(plan: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema the model's answer follows: every field present, null when the call did not yield it."""
    properties: dict[str, Any] = {
        "summary": {"type": "string"},
        "sentiment": {"type": "string", "enum": list(SENTIMENTS), "description": "The caller's sentiment"},
    }
    if plan["fields"]:
        properties["data"] = {"type": "object", "properties": {f["name"]: _value_schema(f) for f in plan["fields"]},
                              "required": [f["name"] for f in plan["fields"]]}
    if plan["success_rubric"]:
        properties["success"] = {"type": "boolean"}
        properties["success_reason"] = {"type": "string", "description": "One line: why it did or did not succeed"}
    return {"type": "object", "properties": properties, "required": list(properties)}


def effective(plan: dict[str, Any] | None) -> dict[str, Any]:
    """A stored plan, or the default one."""
    return plan or {"summary_prompt": None, "success_rubric": None, "fields": []}


class AnswerInvalid(Exception):
    """The model's JSON lacks what the schema demanded: worth another attempt."""


def _typed(field: dict[str, Any], value: Any) -> Any:
    kind = field["type"]
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind == "integer":
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if kind == "number":
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    if not isinstance(value, str) or not value.strip():
        return None
    if kind == "enum":
        return value if value in field["choices"] else None
    return value.strip()[:MAX_STRING_VALUE]


def checked_answer(plan: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    """``{"summary", "data", "success", "success_reason", "sentiment"}`` from the model's answer.

    A value of the wrong type (a float for an integer, a choice not offered) counts as not
    yielded; a required field not yielded makes ``success`` false, with the reason naming it.
    """
    summary, sentiment = answer.get("summary"), answer.get("sentiment")
    if not isinstance(summary, str) or not summary.strip():
        raise AnswerInvalid("Gemini's answer had no summary")
    if sentiment not in SENTIMENTS:
        raise AnswerInvalid("Gemini's answer had no sentiment")
    raw = answer.get("data") if isinstance(answer.get("data"), dict) else {}
    data = {f["name"]: _typed(f, raw.get(f["name"])) for f in plan["fields"]}
    success, reason = None, None
    if plan["success_rubric"]:
        success = answer.get("success")
        if not isinstance(success, bool):
            raise AnswerInvalid("Gemini's answer had no success verdict")
        reason = answer.get("success_reason") if isinstance(answer.get("success_reason"), str) else None
        reason = (reason or "").strip().splitlines()[0][:300] if (reason or "").strip() else None
    missing = [f["name"] for f in plan["fields"] if f["required"] and data[f["name"]] is None]
    if missing:
        success, reason = False, f"The call did not yield {', '.join(missing)}"
    return {"summary": summary.strip(), "data": data, "success": success, "success_reason": reason,
            "sentiment": sentiment}
