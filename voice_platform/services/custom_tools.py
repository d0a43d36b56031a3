"""Custom tools: an organization's HTTP endpoints and MCP servers, the one place their rules live.

A custom tool belongs to one organization (another tenant's ids are NotFound, and its
catalogue row is invisible there). Reads need ``tool:read`` (members have it), writes
``tool:configure``; API keys act with their role. Each custom tool has one ``platform_tools``
row (``custom_<hex>``; the admin's name is its ``title``) holding the function schemas, so
attaching, per-function switches, the agent tools page and analytics are the code tools' own.

Header values are secrets: encrypted at rest, handed decrypted only to the runtime
(``runnable_for_agent`` / ``runnable_for_test``); views and the audit log carry only their names.

Every URL is checked by the SSRF guard (``services.outbound``) when it is saved and when an MCP
server is listed; the runtime's calls go through the same guard. MCP discovery is async; these
functions are sync and run it on their own (``services.mcp_discovery.discover``).

Refresh keeps admins in control: a function the server newly offers arrives switched OFF on
every agent that already has the tool; a function it no longer offers is dropped from every
agent's list. Services never commit; the caller's scope does.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import Session, select

from voice_platform.errors import NotFound, ValidationFailed
from voice_platform.models import AgentTool, CustomTool, PlatformTool, User, VoiceAgent
from voice_platform.security import decrypt_json, encrypt_json
from voice_platform.services import audit, mcp_discovery, outbound, validation
from voice_platform.services.rbac import require

KINDS = ("http", "mcp")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MIN_TIMEOUT, MAX_TIMEOUT, DEFAULT_TIMEOUT = 1, 30, 10
MAX_NAME, MAX_DESCRIPTION, MAX_URL = 100, 2000, 2000
MAX_HEADERS, MAX_HEADER_VALUE = 20, 4096
MAX_FUNCTIONS = 200
NOT_FOUND = "Custom tool not found"
NAME_PREFIX = "custom_"
# RFC 7230 token: what a header name may be.
HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
HEADER_NAME_PATTERN = HEADER_NAME.pattern
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
PARAMETER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# The JSON-Schema subset Gemini's function declarations accept.
SCHEMA_TYPES = ("object", "string", "number", "integer", "boolean", "array")
SCHEMA_KEYS = ("type", "properties", "required", "description", "enum", "items")
AUDIT_FIELDS = ("name", "description", "url", "method", "timeout_seconds", "header_names", "functions")


# -- views ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CustomToolView:
    id: uuid.UUID
    tool_id: uuid.UUID  # the catalogue row: what POST /tools/agent attaches
    kind: str
    name: str
    description: str
    url: str
    method: str | None
    timeout_seconds: float
    headers_set: list[str]  # names only, never a value
    functions: list[dict[str, Any]]  # [{"name", "description", "parameters"}]


@dataclass(frozen=True)
class RunnableFunction:
    name: str
    description: str
    parameters: dict


@dataclass(frozen=True)
class RunnableCustomTool:
    """What the runtime needs to call one custom tool: everything, headers decrypted."""

    custom_tool_id: uuid.UUID
    tool_id: uuid.UUID
    agent_tool_id: uuid.UUID | None  # None in the admin's Test run
    kind: str
    name: str
    url: str
    method: str | None
    timeout_seconds: float
    headers: dict[str, str]  # decrypted
    functions: tuple[RunnableFunction, ...]


def _functions(tool: PlatformTool) -> list[dict[str, Any]]:
    return list((tool.tool_functions_schema or {}).get("functions", []))


def view_of(custom: CustomTool, tool: PlatformTool) -> CustomToolView:
    return CustomToolView(
        id=custom.id, tool_id=tool.id, kind=custom.kind, name=custom.name, description=custom.description,
        url=custom.url, method=custom.method, timeout_seconds=custom.timeout_seconds,
        headers_set=list(custom.header_names or []), functions=_functions(tool),
    )


def _runnable(custom: CustomTool, tool: PlatformTool, agent_tool: AgentTool | None, off: set[str]) -> RunnableCustomTool:
    functions = tuple(RunnableFunction(f["name"], f.get("description") or "", f.get("parameters") or {})
                      for f in _functions(tool) if f["name"] not in off)
    return RunnableCustomTool(
        custom_tool_id=custom.id, tool_id=tool.id, agent_tool_id=agent_tool.id if agent_tool else None,
        kind=custom.kind, name=custom.name, url=custom.url, method=custom.method,
        timeout_seconds=float(custom.timeout_seconds), headers={k: str(v) for k, v in decrypt_json(custom.headers_encrypted).items()},
        functions=functions,
    )


# -- lookups ----------------------------------------------------------------------------------
def _find(session: Session, actor: User, org_id: uuid.UUID, custom_tool_id: uuid.UUID, permission: str,
          *, lock: bool = False) -> tuple[CustomTool, PlatformTool]:
    require(session, actor, permission, org_id, not_found=NOT_FOUND)
    query = select(CustomTool).where(CustomTool.id == custom_tool_id, CustomTool.organization_id == org_id)
    if lock:
        query = query.with_for_update()
    custom = session.exec(query).first()
    tool = session.get(PlatformTool, custom.platform_tool_id) if custom else None
    if custom is None or tool is None:
        raise NotFound(NOT_FOUND)
    return custom, tool


def list_custom_tools(session: Session, actor: User, org_id: uuid.UUID) -> list[CustomToolView]:
    require(session, actor, "tool:read", org_id)
    rows = session.exec(
        select(CustomTool, PlatformTool).join(PlatformTool, PlatformTool.id == CustomTool.platform_tool_id)
        .where(CustomTool.organization_id == org_id).order_by(CustomTool.name, CustomTool.id)
    ).all()
    return [view_of(c, t) for c, t in rows]


def get_custom_tool(session: Session, actor: User, org_id: uuid.UUID, custom_tool_id: uuid.UUID) -> CustomToolView:
    return view_of(*_find(session, actor, org_id, custom_tool_id, "tool:read"))


# -- validation -------------------------------------------------------------------------------
def _kind(value: object) -> str:
    return validation.choice(value, "kind", KINDS)


def _name(value: object) -> str:
    return validation.text(value, "name", max_length=MAX_NAME, required=True)


def _description(value: object) -> str:
    return validation.text(value, "description", max_length=MAX_DESCRIPTION)


def _method(value: object) -> str:
    if isinstance(value, str):
        value = value.strip().upper()
    return validation.choice(value, "method", METHODS)


def _timeout(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not MIN_TIMEOUT <= value <= MAX_TIMEOUT:
        raise ValidationFailed(f"timeout_seconds must be a number from {MIN_TIMEOUT} to {MAX_TIMEOUT}", field="timeout_seconds")
    return float(value)


def _headers(value: object, *, clearing: bool = False) -> dict[str, str | None]:
    """Header names are RFC 7230 tokens; values are text without line breaks. With ``clearing``
    (an update), an empty or null value removes the header."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationFailed("headers must be an object of header names to values", field="headers")
    if len(value) > MAX_HEADERS:
        raise ValidationFailed(f"At most {MAX_HEADERS} headers", field="headers")
    out: dict[str, str | None] = {}
    seen: set[str] = set()
    for name, header_value in value.items():
        if not isinstance(name, str) or not HEADER_NAME.match(name):
            raise ValidationFailed(f"{name!r} is not a valid header name", field="headers")
        if name.lower() in seen:
            raise ValidationFailed(f"The header {name} is given twice", field="headers")
        seen.add(name.lower())
        if header_value is None or header_value == "":
            if not clearing:
                raise ValidationFailed(f"The header {name} needs a value", field="headers")
            out[name] = None
            continue
        if not isinstance(header_value, str):
            raise ValidationFailed(f"The value of {name} must be text", field="headers")
        if len(header_value) > MAX_HEADER_VALUE or any(c in header_value for c in "\r\n\x00"):
            raise ValidationFailed(f"The value of {name} must be one line of at most {MAX_HEADER_VALUE} characters",
                                   field="headers")
        out[name] = header_value
    return out


def _url(value: object, *, kind: str) -> str:
    """An http(s) URL; for HTTP tools ``{name}`` placeholders may stand in the path and query only.
    Only its form: ``_guard`` checks where it leads (last, after every cheaper check)."""
    url = validation.text(value, "url", max_length=MAX_URL, required=True)
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ValidationFailed(f"The URL is not valid: {exc}", field="url") from exc
    if parts.scheme.lower() not in outbound.SCHEMES or not parts.netloc:
        raise ValidationFailed("The URL must start with http:// or https:// and name a host", field="url")
    if "{" in parts.netloc or "}" in parts.netloc or "@" in parts.netloc:
        raise ValidationFailed("The URL's host may not contain placeholders or credentials (use headers)", field="url")
    if kind == "mcp" and "{" in url:
        raise ValidationFailed("An MCP server's URL has no placeholders", field="url")
    return url


def _guard(url: str) -> None:
    """The SSRF guard on the URL's host (placeholders filled with a harmless value)."""
    outbound.check_url(PLACEHOLDER.sub("x", url))


def placeholders(url: str) -> list[str]:
    return PLACEHOLDER.findall(url)


def _schema(value: object, field: str, *, top: bool = False) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationFailed(f"{field} must be a JSON Schema object", field=field)
    for key in value:
        if key not in SCHEMA_KEYS:
            raise ValidationFailed(f"{field}: {key!r} is not supported (allowed: {', '.join(SCHEMA_KEYS)})",
                                   field=f"{field}.{key}")
    kind = value.get("type")
    if kind not in SCHEMA_TYPES:
        raise ValidationFailed(f"{field}.type must be one of: {', '.join(SCHEMA_TYPES)}", field=f"{field}.type")
    if top and kind != "object":
        raise ValidationFailed("parameters must be a JSON Schema of type object", field=f"{field}.type")
    out: dict[str, Any] = {"type": kind}
    if "description" in value:
        if not isinstance(value["description"], str) or len(value["description"]) > MAX_DESCRIPTION:
            raise ValidationFailed(f"{field}.description must be text of at most {MAX_DESCRIPTION} characters",
                                   field=f"{field}.description")
        out["description"] = value["description"]
    if "enum" in value:
        enum = value["enum"]
        if kind != "string" or not isinstance(enum, list) or not enum or not all(isinstance(v, str) for v in enum):
            raise ValidationFailed(f"{field}.enum must be a non-empty list of strings on a string", field=f"{field}.enum")
        out["enum"] = list(enum)
    if ("properties" in value or "required" in value) and kind != "object":
        raise ValidationFailed(f"{field}: properties and required belong to an object", field=f"{field}.properties")
    if "items" in value and kind != "array":
        raise ValidationFailed(f"{field}: items belongs to an array", field=f"{field}.items")
    if kind == "object":
        properties = value.get("properties", {})
        if not isinstance(properties, dict):
            raise ValidationFailed(f"{field}.properties must be an object", field=f"{field}.properties")
        out["properties"] = {}
        for name, prop in properties.items():
            if not PARAMETER_NAME.match(name):
                raise ValidationFailed(f"{name!r} is not a valid parameter name (letters, digits, _)",
                                       field=f"{field}.properties")
            out["properties"][name] = _schema(prop, f"{field}.properties.{name}")
        required = value.get("required", [])
        if not isinstance(required, list) or not all(isinstance(r, str) and r in out["properties"] for r in required):
            raise ValidationFailed(f"{field}.required must list names of its properties", field=f"{field}.required")
        if required:
            out["required"] = list(dict.fromkeys(required))
    if kind == "array":
        if "items" not in value:
            raise ValidationFailed(f"{field}: an array needs items", field=f"{field}.items")
        out["items"] = _schema(value["items"], f"{field}.items")
    return out


def parameters_schema(value: object, url: str) -> dict[str, Any]:
    """An HTTP tool's parameters: the Gemini subset, every URL placeholder one of its properties."""
    schema = _schema({"type": "object", "properties": {}} if value is None else value, "parameters", top=True)
    return _placeholders_declared(schema, url)


def _placeholders_declared(schema: dict[str, Any], url: str) -> dict[str, Any]:
    for name in placeholders(url):
        if name not in schema["properties"]:
            raise ValidationFailed(f"The URL's placeholder {{{name}}} is not one of the parameters", field="url")
        if schema["properties"][name]["type"] in ("object", "array"):
            raise ValidationFailed(f"The path parameter {name} must be a string, number, integer or boolean",
                                   field=f"parameters.properties.{name}.type")
    return schema


def function_name(name: str) -> str:
    """An HTTP tool's one function: the tool's name as an identifier the model can call."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    if not slug or slug[0].isdigit():
        slug = "call_" + slug if slug else "call"
    return slug[:64].rstrip("_")


def _http_function(name: str, description: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": function_name(name), "description": description or name, "parameters": parameters}]


def _discover(url: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    functions = mcp_discovery.discover(url, headers)
    if len(functions) > MAX_FUNCTIONS:
        raise ValidationFailed(f"The MCP server lists {len(functions)} tools; at most {MAX_FUNCTIONS} are supported",
                               field="url")
    return functions


# -- writes -----------------------------------------------------------------------------------
def _audit_state(custom: CustomTool, tool: PlatformTool) -> dict[str, Any]:
    """What the audit log compares: never a header value, only which names are set."""
    return {
        "name": custom.name, "description": custom.description, "url": custom.url, "method": custom.method,
        "timeout_seconds": custom.timeout_seconds, "header_names": list(custom.header_names or []),
        "functions": [f["name"] for f in _functions(tool)],
    }


def _record(session: Session, actor: User, custom: CustomTool, action: str, summary: str,
            *, before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> None:
    audit.record(session, actor, custom.organization_id, action, target_type="custom_tool", target_id=custom.id,
                 summary=f"{summary} ({custom.kind.upper()} tool {custom.name!r})", before=before, after=after)


def _store_headers(custom: CustomTool, headers: dict[str, str]) -> None:
    custom.headers_encrypted = encrypt_json(headers) if headers else None
    custom.header_names = sorted(headers, key=str.lower)


def create_custom_tool(session: Session, actor: User, org_id: uuid.UUID, data: dict[str, Any]) -> CustomToolView:
    """``data``: kind, name, description, url, headers; for ``http`` also method, parameters,
    timeout_seconds. An MCP server is listed before anything is stored: if it cannot be, 422."""
    require(session, actor, "tool:configure", org_id)
    kind = _kind(data.get("kind"))
    allowed = {"kind", "name", "description", "url", "headers"} | (
        {"method", "parameters", "timeout_seconds"} if kind == "http" else set())
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationFailed(f"Unknown field for a {kind} tool: {unknown[0]}", field=unknown[0])
    name, description = _name(data.get("name")), _description(data.get("description"))
    headers = {k: v for k, v in _headers(data.get("headers")).items() if v is not None}
    custom_id = uuid.uuid4()
    custom = CustomTool(id=custom_id, organization_id=org_id, kind=kind, name=name, description=description, url="",
                        platform_tool_id=uuid.uuid4(), header_names=[], timeout_seconds=float(DEFAULT_TIMEOUT))
    if kind == "http":
        custom.method = _method(data.get("method") or "GET")
        timeout = data.get("timeout_seconds")
        custom.timeout_seconds = _timeout(DEFAULT_TIMEOUT if timeout is None else timeout)
        raw = data.get("parameters")
        schema = _schema({"type": "object", "properties": {}} if raw is None else raw, "parameters", top=True)
        custom.url = url = _url(data.get("url"), kind=kind)
        functions = _http_function(name, description, _placeholders_declared(schema, url))
        _guard(url)
    else:
        custom.url = url = _url(data.get("url"), kind=kind)
        _guard(url)
        functions = _discover(url, headers)
    tool = PlatformTool(id=custom.platform_tool_id, name=NAME_PREFIX + custom_id.hex[:12], title=name,
                        description=description, organization_id=org_id, kind=kind,
                        tool_functions_schema={"functions": functions}, config_schema={}, auth_config={}, secret_fields=[])
    _store_headers(custom, headers)
    session.add(tool)
    session.flush()
    session.add(custom)
    session.flush()
    _record(session, actor, custom, "tool.custom_created", "Added", after=_audit_state(custom, tool))
    return view_of(custom, tool)


def _attachments(session: Session, tool: PlatformTool, *, lock: bool = True) -> list[AgentTool]:
    query = select(AgentTool).where(AgentTool.tool_id == tool.id).order_by(AgentTool.id)
    return list(session.exec(query.with_for_update() if lock else query).all())


def _replace_functions(session: Session, tool: PlatformTool, functions: list[dict[str, Any]],
                       *, renamed: dict[str, str] | None = None) -> None:
    """Store the new function list and bring every attachment's switches along: a new function
    starts OFF where the tool is already attached, a gone one leaves every list, a renamed one
    (an HTTP tool's new name) keeps its switch."""
    renamed = renamed or {}
    old = {f["name"] for f in _functions(tool)}
    new = {f["name"] for f in functions}
    added = [f["name"] for f in functions if f["name"] not in old and f["name"] not in renamed.values()]
    for agent_tool in _attachments(session, tool):
        off = [renamed.get(n, n) for n in agent_tool.unselected_functions or []]
        off = [n for n in dict.fromkeys(off + added) if n in new]
        if off != list(agent_tool.unselected_functions or []):
            agent_tool.unselected_functions = off
            session.add(agent_tool)
    tool.tool_functions_schema = {"functions": functions}
    session.add(tool)


def update_custom_tool(session: Session, actor: User, org_id: uuid.UUID, custom_tool_id: uuid.UUID,
                       changes: dict[str, Any]) -> CustomToolView:
    """Partial update: keys present (and not None) change; ``kind`` cannot. Headers merge: a value
    sets that header, an empty value or null removes it, a name left out keeps its value. An MCP
    server whose URL or headers change is listed again (as a refresh)."""
    custom, tool = _find(session, actor, org_id, custom_tool_id, "tool:configure", lock=True)
    changes = {k: v for k, v in changes.items() if v is not None or k == "headers"}
    allowed = {"kind", "name", "description", "url", "headers"} | (
        {"method", "parameters", "timeout_seconds"} if custom.kind == "http" else set())
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise ValidationFailed(f"Unknown field for a {custom.kind} tool: {unknown[0]}", field=unknown[0])
    if "kind" in changes and changes["kind"] != custom.kind:
        raise ValidationFailed("A custom tool's kind cannot change; add a new tool instead", field="kind")
    before = _audit_state(custom, tool)
    name = _name(changes["name"]) if "name" in changes else custom.name
    description = _description(changes["description"]) if "description" in changes else custom.description
    url = _url(changes["url"], kind=custom.kind) if "url" in changes else custom.url
    if url != custom.url:
        _guard(url)
    headers = {k: str(v) for k, v in decrypt_json(custom.headers_encrypted).items()}
    if changes.get("headers") is not None:
        for key, value in _headers(changes["headers"], clearing=True).items():
            for existing in [k for k in headers if k.lower() == key.lower()]:
                del headers[existing]
            if value is not None:
                headers[key] = value
    if len(headers) > MAX_HEADERS:
        raise ValidationFailed(f"At most {MAX_HEADERS} headers", field="headers")
    if custom.kind == "http":
        custom.method = _method(changes["method"]) if "method" in changes else custom.method
        custom.timeout_seconds = _timeout(changes["timeout_seconds"]) if "timeout_seconds" in changes else custom.timeout_seconds
        current = _functions(tool)[0] if _functions(tool) else {"name": function_name(custom.name), "parameters": None}
        parameters = parameters_schema(changes["parameters"] if "parameters" in changes else current["parameters"], url)
        functions = _http_function(name, description, parameters)
        _replace_functions(session, tool, functions, renamed={current["name"]: functions[0]["name"]})
    elif url != custom.url or changes.get("headers") is not None:
        _replace_functions(session, tool, _discover(url, headers))
    custom.name, custom.description, custom.url = name, description, url
    tool.title, tool.description = name, description
    _store_headers(custom, headers)
    session.add(custom)
    session.add(tool)
    session.flush()
    old, new = audit.diff(before, _audit_state(custom, tool))
    headers_changed = changes.get("headers") not in (None, {})
    if headers_changed:  # a value changed although the names did not: say so, never what
        old.setdefault("header_names", before["header_names"])
        new.setdefault("header_names", list(custom.header_names))
        new["header_values"] = audit.CHANGED
    if new:
        _record(session, actor, custom, "tool.custom_updated", "Changed", before=old, after=new)
    return view_of(custom, tool)


def refresh_custom_tool(session: Session, actor: User, org_id: uuid.UUID, custom_tool_id: uuid.UUID) -> CustomToolView:
    """List an MCP server's tools again (an HTTP tool has nothing to list: its view comes back)."""
    custom, tool = _find(session, actor, org_id, custom_tool_id, "tool:configure", lock=True)
    if custom.kind != "mcp":
        return view_of(custom, tool)
    outbound.check_url(custom.url)
    before = _audit_state(custom, tool)
    _replace_functions(session, tool, _discover(custom.url, {k: str(v) for k, v in decrypt_json(custom.headers_encrypted).items()}))
    session.flush()
    old, new = audit.diff(before, _audit_state(custom, tool))
    _record(session, actor, custom, "tool.custom_refreshed", "Listed the server's tools again",
            before=old or None, after=new or None)
    return view_of(custom, tool)


def delete_custom_tool(session: Session, actor: User, org_id: uuid.UUID, custom_tool_id: uuid.UUID) -> None:
    """Detach it from every agent, then delete it with its catalogue row and encrypted headers."""
    custom, tool = _find(session, actor, org_id, custom_tool_id, "tool:configure", lock=True)
    detached = _attachments(session, tool)
    before = _audit_state(custom, tool)
    before["attached_to_agents"] = len(detached)
    _record(session, actor, custom, "tool.custom_deleted", "Deleted", before=before)
    for agent_tool in detached:
        session.delete(agent_tool)
    session.flush()
    session.delete(custom)
    session.flush()
    session.delete(tool)
    session.flush()


# -- for the runtime --------------------------------------------------------------------------
def runnable_for_agent(session: Session, agent_id: uuid.UUID) -> list[RunnableCustomTool]:
    """The agent's enabled custom tools with their enabled functions only (no actor: the caller,
    a call or the test chat, has already decided). A tool of another organization never counts."""
    agent = session.get(VoiceAgent, agent_id)
    if agent is None:
        return []
    rows = session.exec(
        select(AgentTool, PlatformTool, CustomTool)
        .join(PlatformTool, PlatformTool.id == AgentTool.tool_id)
        .join(CustomTool, CustomTool.platform_tool_id == PlatformTool.id)
        .where(AgentTool.agent_id == agent.id, AgentTool.is_enabled == True,  # noqa: E712
               PlatformTool.is_active == True, CustomTool.organization_id == agent.organization_id)  # noqa: E712
        .order_by(CustomTool.name, CustomTool.id)
    ).all()
    out = []
    for agent_tool, tool, custom in rows:
        runnable = _runnable(custom, tool, agent_tool, set(agent_tool.unselected_functions or []))
        if runnable.functions:
            out.append(runnable)
    return out


def runnable_for_test(session: Session, actor: User, org_id: uuid.UUID, custom_tool_id: uuid.UUID) -> RunnableCustomTool:
    """The admin's Test run: every function, whatever any agent has switched off."""
    custom, tool = _find(session, actor, org_id, custom_tool_id, "tool:configure")
    return _runnable(custom, tool, None, set())


def require_function(tool: RunnableCustomTool, function: str) -> RunnableFunction:
    """The function a Test run names, or 422 on ``function`` listing the ones there are."""
    for candidate in tool.functions:
        if candidate.name == function:
            return candidate
    names = ", ".join(f.name for f in tool.functions) or "none"
    raise ValidationFailed(f"{tool.name} has no function named {function!r} (it has: {names})", field="function")
