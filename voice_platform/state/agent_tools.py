"""State of ``/agents/[agent_id]/tools``: thin glue between the page and ``services.tools``.

Every handler resolves the user through ``services.auth`` (``_current_user``) and
calls the same tool services as the REST API, so a permission or validation rule
can only be decided there. The page's data is plain JSON: one dict per tool with
its config fields and function cards already shaped for rendering.

A function switch is optimistic: the new value is shown first (one ``yield``), then
the service writes; a refusal puts the old value back and says why in a toast.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import reflex as rx

from voice_platform.db import session_scope
from voice_platform.errors import DomainError, NotAuthenticated, NotFound
from voice_platform.services import agents as agent_service
from voice_platform.services import oauth as oauth_service
from voice_platform.services import tools as tool_service
from voice_platform.services import tool_analytics
from voice_platform.state.auth import AuthState

TIME_PATTERN = re.compile(r"^\^?\(?\[01\]")  # the usual HH:MM pattern starts like ^([01][0-9]|2[0-3])
GOOGLE_SETTINGS = "GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET"
TOOL_KEY = "__tool"  # hidden form field naming the tool a settings form belongs to


# -- shaping service views into plain dicts (pure, no database) -----------------------
def tool_title(name: str) -> str:
    """``Google_calendar`` → ``Google Calendar``."""
    return " ".join(w[:1].upper() + w[1:] for w in name.replace("_", " ").split())


def _field_kind(prop: dict[str, Any], secret: bool) -> str:
    if secret:
        return "secret"
    if "enum" in prop:
        return "select"
    kind = prop.get("type")
    if kind == "integer" or kind == "number":
        return "integer"
    if kind == "boolean":
        return "boolean"
    fmt = str(prop.get("format", ""))  # "time-zone" is a name, not a time of day
    if fmt in ("time", "time-of-day") or TIME_PATTERN.match(str(prop.get("pattern", ""))):
        return "time"
    return "string"


KIND_RANK = {"string": 0, "select": 1, "time": 2, "integer": 3, "boolean": 4, "secret": 5}


def _ordered(properties: dict[str, Any], secret_fields: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """A stable, readable order. PostgreSQL's JSONB does not keep the schema's key order,
    so an explicit ``x-order`` wins, then kind, then name with *_start before *_end."""
    def key(item: tuple[str, dict[str, Any]]):
        name, prop = item
        readable = name.replace("_start", "_0").replace("_end", "_1")
        return (prop.get("x-order", 1_000), KIND_RANK[_field_kind(prop, name in secret_fields)], readable)

    return sorted(properties.items(), key=key)


def config_fields(schema: dict[str, Any], secret_fields: list[str], config: dict[str, Any], secrets_set: list[str]) -> list[dict[str, Any]]:
    """One dict per schema property, with the stored value (or the default) as a string."""
    required = set(schema.get("required", []))
    fields = []
    for name, prop in _ordered(schema.get("properties") or {}, secret_fields):
        secret = name in secret_fields
        kind = _field_kind(prop, secret)
        value = config.get(name, prop.get("default", ""))
        if kind == "boolean":
            value = "true" if value is True else "false"
        fields.append({
            "name": name,
            "label": prop.get("title") or name.replace("_", " ").capitalize(),
            "kind": kind,
            "required": name in required,
            "value": "" if secret or value is None else str(value),
            "options": [str(o) for o in prop.get("enum", [])],
            "description": prop.get("description", ""),
            "is_set": name in secrets_set,
            "minimum": str(prop.get("minimum", "")),
            "maximum": str(prop.get("maximum", "")),
            "error": "",
        })
    return fields


def _function_card(fn, stats: dict[int, Any] | None = None) -> dict[str, Any]:
    stats = stats or {}
    return {
        "usage_7": tool_analytics.describe(stats.get(7)),
        "usage_30": tool_analytics.describe(stats.get(30)),
        "name": fn.name,
        "description": fn.description,
        "enabled": fn.enabled,
        "parameters": [
            {
                "name": p.name,
                "type": p.type + (" (" + " | ".join(str(v) for v in p.enum) + ")" if p.enum else ""),
                "required": p.required,
                "default": json.dumps(p.default) if p.has_default else "—",
                "description": p.description or "—",
            }
            for p in fn.parameters
        ],
    }


def tool_entry(entry: tool_service.AgentToolEntry, usage: dict | None = None) -> dict[str, Any]:
    tool, at = entry.tool, entry.attachment
    usage = usage or {}
    functions = [_function_card(f, usage.get((tool.name, f.name))) for f in entry.functions]
    return {
        "name": tool.name,
        "title": tool.display_name if tool.kind != "code" else tool_title(tool.name),
        "description": tool.description,
        "is_active": tool.is_active,
        "requires_oauth": tool.requires_auth and tool.auth_type == "oauth2",
        "attached": at is not None,
        "agent_tool_id": str(at.id) if at else "",
        "is_enabled": bool(at.is_enabled) if at else False,
        "connected": bool(at and at.has_credentials),
        "connected_account": (at.connected_account or "") if at else "",
        "fields": config_fields(tool.config_schema or {}, tool.secret_fields, at.config if at else {}, at.secrets_set if at else []),
        "functions": functions,
        "enabled_count": sum(1 for f in functions if f["enabled"]),
        "has_required": bool((tool.config_schema or {}).get("required")),
    }


def form_to_config(fields: list[dict[str, Any]], form: dict[str, Any]) -> dict[str, Any]:
    """Browser strings → JSON values; anything unparseable goes through as typed so the service names the field."""
    config: dict[str, Any] = {}
    for f in fields:
        name, kind = f["name"], f["kind"]
        raw = form.get(name)
        if kind == "boolean":
            config[name] = raw in (True, "on", "true", "1")
            continue
        if kind == "secret":
            if raw not in (None, ""):  # empty keeps the stored secret
                config[name] = raw
            continue
        text = "" if raw is None else str(raw).strip()
        if text == "":
            continue  # left out: the schema's "required" speaks if it must
        if kind == "integer":
            try:
                config[name] = int(text)
            except ValueError:
                config[name] = text
        else:
            config[name] = text
    return config


class AgentToolsState(AuthState):
    """The agent's tools page. ``tools`` is the whole page's data as plain dicts."""

    page_agent_id: str = ""
    agent_name: str = ""
    tools: list[dict[str, Any]] = []
    can_configure: bool = False
    oauth_configured: bool = False
    loading: bool = True
    not_found: bool = False
    load_error: str = ""
    # "tool/function" while its write is in flight (tests and the benchmark wait on it)
    saving: str = ""
    form_key: int = 0

    @rx.var
    def google_settings_hint(self) -> str:
        return f"Set {GOOGLE_SETTINGS} on the server to connect Google accounts."

    # -- helpers ------------------------------------------------------------------
    def _route_agent_id(self) -> str:
        return getattr(self, "agent_id", "") or self.router.page.params.get("agent_id", "") or ""

    def _title(self, tool_name: str) -> str:
        """What the page calls the tool: a custom tool's own name, a code tool's name made readable."""
        for tool in self.tools:
            if tool["name"] == tool_name:
                return tool["title"]
        return tool_title(tool_name)

    def _index(self, tool_name: str) -> int:
        for i, tool in enumerate(self.tools):
            if tool["name"] == tool_name:
                return i
        raise NotFound(tool_service.TOOL_NOT_FOUND)

    def _attachment_id(self, tool_name: str) -> uuid.UUID:
        """The attachment behind a tool card; a forced event on a detached tool is NotFound, not a crash."""
        try:
            return uuid.UUID(self.tools[self._index(tool_name)]["agent_tool_id"])
        except (ValueError, TypeError, KeyError):
            raise NotFound(tool_service.AGENT_TOOL_NOT_FOUND) from None

    def _refresh(self, session, user) -> None:
        agent_id = uuid.UUID(self.page_agent_id)
        page = tool_service.agent_tools_page(session, user, agent_id)
        usage = tool_analytics.function_stats(session, user, agent_id)
        self.tools = [tool_entry(e, usage) for e in page.entries]
        self.can_configure = page.can_configure
        self.oauth_configured = page.oauth_configured
        self.form_key += 1

    def _run(self, action, success: str | None = None):
        """Run ``action(session, user)`` then reload the page data; errors become a toast."""
        try:
            with session_scope() as session:
                user = self._current_user(session)
                result = action(session, user)
            with session_scope() as session:
                self._refresh(session, self._current_user(session))
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            return rx.toast.error(exc.message)
        if isinstance(result, list):
            return result
        return rx.toast.success(success) if success else None

    # -- events ---------------------------------------------------------------------
    @rx.event
    def load(self):
        """on_load: the session, the agent (another org's id is not found) and its tools."""
        self.loading, self.not_found, self.load_error, self.saving = True, False, "", ""
        self.page_agent_id = self._route_agent_id()
        params = self.router.url.query_parameters
        events: list = []
        try:
            with session_scope() as session:
                user = self._current_user(session)
                try:
                    agent = agent_service.get_agent(session, user, uuid.UUID(self.page_agent_id))
                except ValueError:
                    raise NotFound(agent_service.NOT_FOUND) from None
                self._load_session(session, user, prefer_org=str(agent.organization_id))
                self.agent_name = agent.name
                if params.get("oauth") == "connect":
                    events.append(_finish_connection(session, user, params.get("state"), params.get("code")))
                self._refresh(session, user)
        except NotAuthenticated:
            return self._signed_out()
        except NotFound:
            self.not_found = True
            self._ensure_session()
        except DomainError as exc:
            self.load_error = exc.message
        finally:
            self.loading = False
        if params.get("oauth") == "error":
            events.append(rx.toast.error(OAUTH_ERRORS.get(params.get("reason", ""), OAUTH_ERRORS["provider"])))
        if params.get("oauth"):
            # A reload must neither repeat the toast nor resend the spent code: drop the query.
            # The agent id comes from the address bar: JSON-quote it, never splice it into script.
            path = json.dumps(f"/agents/{self.page_agent_id}/tools")
            events.append(rx.call_script(f"window.history.replaceState(null, '', {path})"))
        return events

    def _ensure_session(self) -> None:
        """The not-found state is drawn inside the signed-in shell, which needs the session."""
        if self.session_ready:
            return
        with session_scope() as session:
            self._load_session(session, self._current_user(session))

    @rx.event
    def set_function(self, tool_name: str, function_name: str, enabled: bool):
        """The per-function switch: shown at once, written by the service, reverted on refusal."""
        try:
            index = self._index(tool_name)
        except NotFound as exc:
            yield rx.toast.error(exc.message)
            return
        before = self.tools[index]
        self.tools[index] = _with_function(before, function_name, enabled)
        self.saving = f"{tool_name}/{function_name}"
        yield
        try:
            with session_scope() as session:
                user = self._current_user(session)
                view = tool_service.set_function_enabled(
                    session, user, uuid.UUID(before["agent_tool_id"] or str(uuid.UUID(int=0))), function_name, enabled
                )
                stored_enabled = function_name in view.enabled_functions
        except NotAuthenticated:
            self.saving = ""
            yield self._signed_out()
            return
        except DomainError as exc:
            self.tools[self._index(tool_name)] = before
            self.saving = ""
            yield rx.toast.error(f"Could not switch {function_name}: {exc.message}")
            return
        if stored_enabled != enabled:  # the service had the last word
            self.tools[index] = _with_function(self.tools[index], function_name, stored_enabled)
        self.saving = ""

    @rx.event
    def attach(self, tool_name: str):
        title = self._title(tool_name)
        return self._run(
            lambda s, u: tool_service.attach_tool(s, u, uuid.UUID(self.page_agent_id), tool_name=tool_name),
            f"{title} attached",
        )

    @rx.event
    def detach(self, tool_name: str):
        def action(session, user):
            oauth_service.revoke_tokens(tool_service.detach_tool(session, user, self._attachment_id(tool_name)))

        return self._run(action, f"{self._title(tool_name)} detached")

    @rx.event
    def set_tool_enabled(self, tool_name: str, enabled: bool):
        state = "on" if enabled else "off"
        return self._run(
            lambda s, u: tool_service.update_agent_tool(s, u, self._attachment_id(tool_name), {"is_enabled": enabled}),
            f"{self._title(tool_name)} switched {state}",
        )

    @rx.event
    def save_config(self, form: dict):
        """Same validation as the API; a refused value's message goes under its field."""
        tool_name = str(form.get(TOOL_KEY) or "")
        try:
            index = self._index(tool_name)
        except NotFound as exc:
            return rx.toast.error(exc.message)
        tool = self.tools[index]
        config = form_to_config(tool["fields"], form)
        try:
            with session_scope() as session:
                user = self._current_user(session)
                tool_service.update_agent_tool(session, user, self._attachment_id(tool_name), {"config": config})
                self._refresh(session, user)
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            fields = [dict(f, value=_submitted(f, form), error=exc.message if f["name"] == exc.field else "") for f in tool["fields"]]
            self.tools[index] = {**tool, "fields": fields}
            return rx.toast.error("Please fix the highlighted field" if any(f["error"] for f in fields) else exc.message)
        return rx.toast.success(f"{self._title(tool_name)} settings saved")

    @rx.event
    def connect(self, tool_name: str):
        """Start the OAuth round trip; Google (or the fake) sends the browser back to this page."""
        try:
            with session_scope() as session:
                url = oauth_service.start_authorization(session, self._current_user(session), uuid.UUID(self.page_agent_id), tool_name)
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            return rx.toast.error(exc.message)
        return rx.redirect(url)

    @rx.event
    def disconnect(self, tool_name: str):
        def action(session, user):
            _view, removed = tool_service.disconnect(session, user, self._attachment_id(tool_name))
            oauth_service.revoke_tokens(removed)

        return self._run(action, f"{self._title(tool_name)} disconnected")


OAUTH_ERRORS = {
    "declined": "Google Calendar was not connected: access was declined.",
    "provider": "Google did not complete the connection; please try again.",
}


def _finish_connection(session, user, state: str | None, code: str | None):
    """Exchange the code Google sent back, as the signed-in user (who must have started the flow)."""
    try:
        result = oauth_service.complete_authorization(session, state, code, actor=user)
    except DomainError as exc:  # the state is burnt on a provider error; the page's scope commits that
        return rx.toast.error(exc.message)
    who = f" as {result.account}" if result.account else ""
    return rx.toast.success(f"{tool_title(result.tool_name)} connected{who}.")


def _with_function(tool: dict[str, Any], function_name: str, enabled: bool) -> dict[str, Any]:
    functions = [dict(f, enabled=enabled) if f["name"] == function_name else f for f in tool["functions"]]
    return {**tool, "functions": functions, "enabled_count": sum(1 for f in functions if f["enabled"])}


def _submitted(field: dict[str, Any], form: dict[str, Any]) -> str:
    """Keep what the user typed after a refusal (never echo a secret)."""
    if field["kind"] == "secret":
        return ""
    if field["kind"] == "boolean":
        return "true" if form.get(field["name"]) in (True, "on", "true", "1") else "false"
    return str(form.get(field["name"]) or "")
