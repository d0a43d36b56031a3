"""The agent form's "After the call" section: its analysis plan as editable rows, and back.

Pure shaping, no database: ``services.agents.update_agent`` (through ``analysis_plan.clean_plan``)
judges the plan; this module only turns the stored plan into rows the page can draw, the
submitted form into the plan the service takes, and the service's refusal (``field`` such as
``analysis_plan.fields[2].name``) into a message on the row and input it names.

Each field row has a stable ``key``: its inputs are named after it and the page keys the row
with it, so removing one row never shifts what was typed into the others. A row's type and
"required" switch are controlled by the state (the type decides whether choices are asked);
its text inputs travel with the form's submit.
"""

from __future__ import annotations

import re
from typing import Any

from voice_platform.services.analysis_plan import MAX_FIELDS, TYPES

PLAN_ERROR = "analysis_plan"  # errors-dict key of a refusal about the plan as a whole
PROMPTS = ("summary_prompt", "success_rubric")
ROW_PARTS = ("name", "type", "description", "required", "choices")
_ROW_FIELD = re.compile(r"^analysis_plan\.fields\[(\d+)\](?:\.(\w+))?")


def input_name(key: str, part: str) -> str:
    """The form name of one input of a field row (``plan_r3_name``)."""
    return f"plan_{key}_{part}"


def new_row(key: str, **values: Any) -> dict[str, Any]:
    return {"key": key, "name": "", "type": "string", "description": "", "required": False, "choices": "",
            "error": "", "error_part": "", **values}


def rows_of(plan: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The stored plan's fields as rows keyed r0, r1, ..."""
    fields = (plan or {}).get("fields") or []
    return [new_row(f"r{i}", name=str(f.get("name") or ""), type=str(f.get("type") or "string"),
                    description=str(f.get("description") or ""), required=bool(f.get("required")),
                    choices=", ".join(str(c) for c in f.get("choices") or []))
            for i, f in enumerate(fields)]


def prompts_of(plan: dict[str, Any] | None) -> dict[str, str]:
    return {key: str((plan or {}).get(key) or "") for key in PROMPTS}


def choices_of(text: str) -> list[str]:
    """"Booked, Called back,  No" -> ["Booked", "Called back", "No"] (commas or new lines)."""
    return [c.strip() for c in re.split(r"[,\n]", text) if c.strip()]


def plan_of(form: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The plan the service takes; None (the default plan) when nothing is set at all."""
    fields = []
    for row in rows:
        key = row["key"]
        field: dict[str, Any] = {
            "name": str(form.get(input_name(key, "name")) or "").strip(),
            "type": row["type"],
            "description": str(form.get(input_name(key, "description")) or "").strip(),
            "required": bool(row["required"]),
        }
        if row["type"] == "enum":
            field["choices"] = choices_of(str(form.get(input_name(key, "choices")) or ""))
        fields.append(field)
    prompts = {key: str(form.get(key) or "").strip() or None for key in PROMPTS}
    if not fields and not any(prompts.values()):
        return None
    return {**prompts, "fields": fields}


def typed_values(form: dict[str, Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with what was typed into them, so a redraw (an error shown) keeps it."""
    out = []
    for row in rows:
        typed = {part: str(form.get(input_name(row["key"], part)) or "")
                 for part in ("name", "description", "choices") if input_name(row["key"], part) in form}
        out.append({**row, **typed, "error": "", "error_part": ""})
    return out


def place_error(rows: list[dict[str, Any]], field: str | None, message: str) -> tuple[list[dict[str, Any]], str | None]:
    """Put a refusal where it belongs: on a field row (the rows come back marked), or the
    errors-dict key to show it under (a prompt, the plan as a whole); None: not the plan's."""
    if not field or not field.startswith(PLAN_ERROR):
        return rows, None
    match = _ROW_FIELD.match(field)
    if match and int(match.group(1)) < len(rows):
        index, part = int(match.group(1)), match.group(2) or ""
        marked = [dict(r) for r in rows]
        marked[index].update(error=message, error_part=part if part in ROW_PARTS else "")
        return marked, ""
    for key in PROMPTS:
        if field == f"{PLAN_ERROR}.{key}":
            return rows, key
    return rows, PLAN_ERROR


def can_add(rows: list[dict[str, Any]]) -> bool:
    return len(rows) < MAX_FIELDS


FIELD_TYPES = TYPES
