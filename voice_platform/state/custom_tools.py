"""State of ``/custom-tools``: the organization's MCP servers and HTTP tools, and their Test panel.

Thin like every state: each event opens ``session_scope()`` and calls
``services.custom_tools`` (permissions, validation, discovery and the SSRF guard live
there); the state keeps plain dicts for the page. Header values are secrets: they travel
from the browser once, inside the submitted form, and are never put into a state var, so
nothing the server sends back can carry them; the list shows only which names are set.

The Test panel runs one function through the runtime (imported lazily: the dashboard
never loads livekit at start-up), with arguments the admin typed as JSON.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import reflex as rx

from voice_platform.db import session_scope
from voice_platform.errors import DomainError, NotAuthenticated
from voice_platform.services import custom_tools as custom_tool_service
from voice_platform.state.auth import AuthState

KINDS = ("mcp", "http")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
DEFAULT_TIMEOUT = "10"
# The fields each add form sends; a refusal naming one of them shows under that field.
FORM_FIELDS = {
    "mcp": ("name", "description", "url", "headers"),
    "http": ("name", "description", "method", "url", "parameters", "headers", "timeout_seconds"),
}
FORM_ERROR = "form"  # a refusal no single field owns
NO_ARGUMENTS = "{}"


# -- shaping (pure, no database) ------------------------------------------------------------
def tool_row(view) -> dict[str, Any]:
    """One custom tool as the page shows it; the Test panel's own values start empty."""
    functions = [{"name": f["name"], "description": f.get("description") or "",
                  "parameter_names": ", ".join(sorted((f.get("parameters") or {}).get("properties") or {}))}
                 for f in view.functions]
    return {
        "id": str(view.id),
        "kind": view.kind,
        "name": view.name,
        "description": view.description or "",
        "url": view.url,
        "method": (getattr(view, "method", None) or "").upper(),
        "timeout": f"{getattr(view, 'timeout_seconds', None) or 0:g}",
        "headers_set": ", ".join(view.headers_set),
        "functions": functions,
        "test_function": functions[0]["name"] if functions else "",
        **_no_test_result(),
    }


def _no_test_result() -> dict[str, Any]:
    return {"test_ran": False, "test_running": False, "test_output": "", "test_is_error": False,
            "test_duration": "", "test_error": ""}


def error_key(kind: str, field: str | None) -> str:
    """``ValidationFailed.field`` → the key of the add form's error slot (``mcp_url``, ``http_parameters``...).

    A nested name (``parameters.properties.x``, ``headers.X-Key``) shows under its top-level field."""
    top = (field or "").replace("[", ".").split(".", 1)[0]
    return f"{kind}_{top if top in FORM_FIELDS[kind] else FORM_ERROR}"


def header_rows(form: dict[str, Any], kind: str, rows: list[int]) -> dict[str, str]:
    """The name/value rows of a form; a row with no name is ignored (an empty row left in the form)."""
    headers: dict[str, str] = {}
    for row in rows:
        name = str(form.get(f"{kind}_header_name_{row}") or "").strip()
        if name:
            headers[name] = str(form.get(f"{kind}_header_value_{row}") or "")
    return headers


def form_data(kind: str, form: dict[str, Any], rows: list[int]) -> dict[str, Any]:
    """The service's create payload from the browser's strings.

    Unparseable input goes through as typed so the service's validation names the field,
    except the parameters JSON, which only the browser can get wrong (``ValueError``)."""
    data: dict[str, Any] = {
        "kind": kind,
        "name": str(form.get(f"{kind}_name") or "").strip(),
        "description": str(form.get(f"{kind}_description") or "").strip(),
        "url": str(form.get(f"{kind}_url") or "").strip(),
        "headers": header_rows(form, kind, rows),
    }
    if kind == "http":
        data["method"] = str(form.get("http_method") or "GET").upper()
        timeout = str(form.get("http_timeout_seconds") or "").strip() or DEFAULT_TIMEOUT
        try:
            data["timeout_seconds"] = int(timeout)
        except ValueError:
            data["timeout_seconds"] = timeout
        text = str(form.get("http_parameters") or "").strip() or '{"type": "object", "properties": {}}'
        data["parameters"] = json.loads(text)  # ValueError: the caller names the field
    return data


def pretty_output(output: Any) -> str:
    """JSON (given or as text) indented for reading; any other text as it came."""
    if isinstance(output, str):
        try:
            output = json.loads(output)
        except ValueError:
            return output
    try:
        return json.dumps(output, indent=2, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(output)


class CustomToolsState(AuthState):
    tools: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    # Header rows of the two add forms: stable ids, so removing one row keeps the others' input.
    mcp_header_rows: list[int] = [0]
    http_header_rows: list[int] = [0]
    http_method: str = "GET"
    # Bumped after a save: the add forms are drawn anew, empty (typed header values included).
    form_key: int = 0
    loading: bool = True
    # The form whose request is in flight ("mcp" / "http"), or a tool id being refreshed/deleted.
    busy: str = ""

    @rx.var
    def can_configure(self) -> bool:
        return "tool:configure" in self.permissions

    # -- helpers --------------------------------------------------------------------------
    def _refresh(self, session, user) -> None:
        self.tools = [tool_row(v) for v in custom_tool_service.list_custom_tools(session, user, self._require_org())]

    def _index(self, tool_id: str) -> int:
        for i, tool in enumerate(self.tools):
            if tool["id"] == tool_id:
                return i
        return -1

    def _set_test(self, tool_id: str, **values: Any) -> None:
        index = self._index(tool_id)
        if index >= 0:
            self.tools[index] = {**self.tools[index], **values}

    # -- events -----------------------------------------------------------------------------
    @rx.event
    def load(self):
        self.loading, self.errors, self.tools, self.busy = True, {}, [], ""
        self.mcp_header_rows, self.http_header_rows, self.http_method = [0], [0], "GET"
        self.form_key += 1

        def tools(session, user) -> None:
            self._refresh(session, user)

        return self._load_page(tools, on_error=self._load_error)

    def _load_error(self, message: str) -> None:
        self.errors = {FORM_ERROR: message}

    @rx.event
    def add_header_row(self, kind: str):
        if kind in KINDS:
            rows = getattr(self, f"{kind}_header_rows")
            setattr(self, f"{kind}_header_rows", rows + [max(rows, default=-1) + 1])

    @rx.event
    def remove_header_row(self, kind: str, row: int):
        if kind in KINDS:
            setattr(self, f"{kind}_header_rows", [r for r in getattr(self, f"{kind}_header_rows") if r != row])

    @rx.event
    def set_http_method(self, method: str):
        if method in METHODS:
            self.http_method = method

    @rx.event
    async def create_mcp(self, form: dict):
        async for event in self._create("mcp", form):
            yield event

    @rx.event
    async def create_http(self, form: dict):
        async for event in self._create("http", {**form, "http_method": self.http_method}):
            yield event

    async def _write(self, change):
        """``change(session, user, org)`` and the fresh list, in one transaction on a worker thread:
        listing an MCP server can take seconds, and the server's event loop serves every browser."""
        org = self._require_org()

        def work():
            with session_scope() as session:
                user = self._current_user(session)
                result = change(session, user, org)
                return result, [tool_row(v) for v in custom_tool_service.list_custom_tools(session, user, org)]

        return await asyncio.to_thread(work)

    async def _create(self, kind: str, form: dict):
        """One add form's submit; the button shows the request in flight (``busy``)."""
        self.errors = {}
        try:
            data = form_data(kind, form, getattr(self, f"{kind}_header_rows"))
        except ValueError:
            self.errors = {f"{kind}_parameters": "Parameters must be a JSON object (a JSON Schema)"}
            yield rx.toast.error("Please fix the highlighted field")
            return
        self.busy = kind
        yield
        try:
            made, self.tools = await self._write(lambda s, u, org: custom_tool_service.create_custom_tool(s, u, org, data))
        except NotAuthenticated:
            yield self._signed_out()
            return
        except DomainError as exc:
            self.errors = {error_key(kind, exc.field): exc.message}
            yield rx.toast.error(exc.message)
            return
        finally:
            self.busy = ""
        setattr(self, f"{kind}_header_rows", [0])
        self.form_key += 1  # the form is drawn anew: the typed header values leave the page
        count = len(made.functions)
        yield rx.toast.success(f"{made.name} added with {count} function{'' if count == 1 else 's'}")

    @rx.event
    async def refresh_tool(self, tool_id: str):
        self.busy = tool_id
        yield
        try:
            view, self.tools = await self._write(
                lambda s, u, org: custom_tool_service.refresh_custom_tool(s, u, org, uuid.UUID(tool_id)))
        except NotAuthenticated:
            yield self._signed_out()
            return
        except (DomainError, ValueError) as exc:
            yield rx.toast.error(getattr(exc, "message", "Unknown custom tool"))
            return
        finally:
            self.busy = ""
        yield rx.toast.success(f"{view.name} refreshed: {len(view.functions)} functions")

    @rx.event
    def delete_tool(self, tool_id: str):
        try:
            with session_scope() as session:
                user = self._current_user(session)
                org = self._require_org()
                name = custom_tool_service.get_custom_tool(session, user, org, uuid.UUID(tool_id)).name
                custom_tool_service.delete_custom_tool(session, user, org, uuid.UUID(tool_id))
                self._refresh(session, user)
        except NotAuthenticated:
            return self._signed_out()
        except (DomainError, ValueError) as exc:
            return rx.toast.error(getattr(exc, "message", "Unknown custom tool"))
        return rx.toast.success(f"{name} deleted and detached from every agent")

    @rx.event
    def pick_test_function(self, tool_id: str, function: str):
        self._set_test(tool_id, **_no_test_result(), test_function=function)

    @rx.event
    async def run_test(self, form: dict):
        """The Test panel's Run: the service checks and loads the tool, the runtime calls it once."""
        tool_id = str(form.get("tool_id") or "")
        index = self._index(tool_id)
        if index < 0:
            yield rx.toast.error("Unknown custom tool")
            return
        function = self.tools[index]["test_function"]
        try:
            arguments = json.loads(str(form.get("arguments") or "").strip() or NO_ARGUMENTS)
        except ValueError:
            arguments = None
        if not isinstance(arguments, dict):
            self._set_test(tool_id, **{**_no_test_result(), "test_error": 'Arguments must be a JSON object, e.g. {"order_id": "A-1"}'})
            return
        self._set_test(tool_id, **{**_no_test_result(), "test_running": True})
        yield
        try:
            with session_scope() as session:
                user = self._current_user(session)
                runnable = custom_tool_service.runnable_for_test(session, user, self._require_org(), uuid.UUID(tool_id))
            from voice_platform.runtime.custom_tools import run_once  # lazily: livekit stays out of start-up

            result = await run_once(runnable, function, arguments)
        except NotAuthenticated:
            self._set_test(tool_id, test_running=False)
            yield self._signed_out()
            return
        except (DomainError, ValueError) as exc:
            self._set_test(tool_id, test_running=False, test_error=getattr(exc, "message", None) or str(exc))
            return
        self._set_test(tool_id, test_running=False, test_ran=True, test_output=pretty_output(result.output),
                       test_is_error=bool(result.is_error), test_duration=f"{result.duration_ms:.0f}")
