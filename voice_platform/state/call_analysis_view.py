"""A call's post-call analysis (``call_history.analysis_of``) as plain strings for the call page.

Pure shaping: the page shows words, never raw JSON values (``True`` → "yes", a missing value →
"—"), and one shape whatever the status (pending, done, failed, skipped, or none yet).
"""

from __future__ import annotations

import json
from typing import Any

MISSING = "—"
STATUS_WORDS = {"pending": "Analysing…", "done": "Analysed", "failed": "Analysis failed",
                "skipped": "Not analysed (too short)"}


def _text(value: Any) -> str:
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def analysis_view(analysis: dict[str, Any] | None) -> dict[str, str]:
    """``status`` is "" when the call has not ended yet (no analysis is owed)."""
    a = analysis or {}
    success = a.get("success")
    status = str(a.get("status") or "")
    return {
        "status": status,
        "status_label": STATUS_WORDS.get(status, status),
        "summary": str(a.get("summary") or ""),
        "success": "" if success is None else ("yes" if success else "no"),
        "success_reason": str(a.get("success_reason") or ""),
        "sentiment": str(a.get("sentiment") or ""),
        "model": str(a.get("model") or ""),
        "error": str(a.get("error") or "") if status == "failed" else "",
    }


def data_rows(analysis: dict[str, Any] | None) -> list[dict[str, str]]:
    """The extracted values, one row each: ``{"name", "value"}``."""
    data = (analysis or {}).get("data") or {}
    return [{"name": str(name), "value": _text(value)} for name, value in data.items()]
