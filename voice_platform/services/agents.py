"""Voice agents: validation, uniqueness of phone numbers, tenant scoping; every change audited."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from voice_platform.errors import Conflict, NotFound, ValidationFailed
from voice_platform.models import AgentTool, CallSession, PlatformTool, User, VoiceAgent
from voice_platform.models.base import aware
from voice_platform.services import audit, billing, number_inventory, validation
from voice_platform.services.analysis_plan import clean_plan
from voice_platform.services.rbac import require

# Gemini Live's prebuilt voices.
VOICES = ("Puck", "Charon", "Kore", "Fenrir", "Aoede", "Leda", "Orus", "Zephyr")
MODELS = (
    "gemini-2.5-flash-native-audio-preview-09-2025",
    "gemini-live-2.5-flash-preview",
    "gemini-2.0-flash-live-001",
)
LANGUAGE_PATTERN = r"^[a-z]{2,3}(-[A-Z]{2})?$"  # a BCP 47 language, optionally with its region
_LANGUAGE = re.compile(LANGUAGE_PATTERN)
MAX_NAME = 120
MAX_PROMPT = 20000
MAX_GREETING = 1000
NOT_FOUND = "Agent not found"
FIELDS = (
    "name", "phone_number", "system_prompt", "greeting", "voice", "model", "language", "is_active",
    "transfer_number", "record_calls", "recording_notice", "analysis_plan",
    "voicemail_action", "voicemail_message", "transfer_mode", "hold_music_url",
)
VOICEMAIL_ACTIONS = ("hangup", "leave_message", "continue")
TRANSFER_MODES = ("cold", "warm")
MAX_VOICEMAIL_MESSAGE = 1000
MAX_HOLD_MUSIC_URL = 500
# An audio file's address (Twilio fetches it): http(s), a host name or address, an optional port,
# then any printable characters but spaces; or empty (Twilio's music). The API schema declares
# the same pattern, and the service applies exactly it (no trimming).
HOLD_MUSIC_PATTERN = r"^(|https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[!-~]*)?)$"
_HOLD_MUSIC = re.compile(HOLD_MUSIC_PATTERN)
MAX_NOTICE = 500


@dataclass(frozen=True)
class Page:
    items: list[VoiceAgent]
    total: int
    offset: int
    limit: int


def _clean(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    unknown = set(data) - set(FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown field(s): {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    out: dict[str, Any] = {}
    if not partial or "name" in data:
        out["name"] = validation.text(data.get("name"), "name", max_length=MAX_NAME, required=True)
    if "phone_number" in data:
        out["phone_number"] = validation.phone_e164(data["phone_number"])
    if "system_prompt" in data:
        out["system_prompt"] = validation.text(data["system_prompt"], "system_prompt", max_length=MAX_PROMPT)
    if "greeting" in data:
        out["greeting"] = validation.text(data["greeting"], "greeting", max_length=MAX_GREETING)
    if "voice" in data and data["voice"] is not None:
        out["voice"] = validation.choice(data["voice"], "voice", VOICES)
    if "model" in data and data["model"] is not None:
        out["model"] = validation.choice(data["model"], "model", MODELS)
    if "language" in data and data["language"] is not None:
        lang = data["language"]
        if not isinstance(lang, str) or not _LANGUAGE.match(lang):
            raise ValidationFailed("Language must be a code such as en-US or fr", field="language")
        out["language"] = lang
    if "is_active" in data and data["is_active"] is not None:
        out["is_active"] = validation.boolean(data["is_active"], "is_active")
    if "transfer_number" in data:
        out["transfer_number"] = validation.phone_e164(data["transfer_number"], field="transfer_number")
    if "record_calls" in data and data["record_calls"] is not None:
        out["record_calls"] = validation.boolean(data["record_calls"], "record_calls")
    if "recording_notice" in data:
        out["recording_notice"] = validation.text(data["recording_notice"], "recording_notice", max_length=MAX_NOTICE) or None
    if "voicemail_action" in data and data["voicemail_action"] is not None:
        out["voicemail_action"] = validation.choice(data["voicemail_action"], "voicemail_action", VOICEMAIL_ACTIONS)
    if "voicemail_message" in data:
        out["voicemail_message"] = validation.text(data["voicemail_message"], "voicemail_message",
                                                   max_length=MAX_VOICEMAIL_MESSAGE) or None
    if "transfer_mode" in data and data["transfer_mode"] is not None:
        out["transfer_mode"] = validation.choice(data["transfer_mode"], "transfer_mode", TRANSFER_MODES)
    if "hold_music_url" in data:  # null or "": Twilio's own hold music
        url = data["hold_music_url"]
        if url is not None and not (isinstance(url, str) and len(url) <= MAX_HOLD_MUSIC_URL
                                    and _HOLD_MUSIC.fullmatch(url)):
            raise ValidationFailed(f"The hold music must be the address of an audio file: http:// or https://, "
                                   f"a host, no spaces, at most {MAX_HOLD_MUSIC_URL} characters", field="hold_music_url")
        out["hold_music_url"] = url or None
    if "analysis_plan" in data:  # null: the default plan
        out["analysis_plan"] = clean_plan(data["analysis_plan"])
    return out


def _ensure_phone_free(session: Session, phone: str | None, agent_id: uuid.UUID | None, org_id: uuid.UUID) -> None:
    if phone is None:
        return
    number_inventory.ensure_registered(session, org_id, phone)
    owner = number_inventory.holder(session, phone)
    if owner is not None and owner.id != agent_id:
        raise Conflict("Another agent already uses this phone number", field="phone_number")


def _flush(session: Session) -> None:
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent writer took the number between check and insert
        raise Conflict("Another agent already uses this phone number", field="phone_number") from exc


def create_agent(session: Session, actor: User, org_id: uuid.UUID, data: dict[str, Any]) -> VoiceAgent:
    require(session, actor, "agent:create", org_id)
    values = _clean(data, partial=False)
    billing.check_agent_limit(session, org_id)
    _ensure_phone_free(session, values.get("phone_number"), None, org_id)
    agent = VoiceAgent(organization_id=org_id, **values)
    session.add(agent)
    _flush(session)
    audit.record(session, actor, org_id, "agent.created", target_type="agent", target_id=agent.id,
                 summary=f"Created agent {agent.name!r}", after=snapshot(agent))
    return agent


def snapshot(agent: VoiceAgent) -> dict[str, Any]:
    """The agent's configuration as the audit log shows it."""
    return {name: getattr(agent, name) for name in FIELDS}


def get_agent(session: Session, actor: User, agent_id: uuid.UUID, permission: str = "agent:read") -> VoiceAgent:
    agent = session.get(VoiceAgent, agent_id)
    if agent is None:
        raise NotFound(NOT_FOUND)
    require(session, actor, permission, agent.organization_id, not_found=NOT_FOUND)
    return agent


def list_agents(
    session: Session, actor: User, org_id: uuid.UUID, *, offset: int = 0, limit: int = 50, search: str | None = None
) -> Page:
    """Newest first; ``search`` matches the name or the phone number (case-insensitive, substring)."""
    require(session, actor, "agent:read", org_id)
    if offset < 0:
        raise ValidationFailed("offset must be 0 or more", field="offset")
    if not 1 <= limit <= 200:
        raise ValidationFailed("limit must be between 1 and 200", field="limit")
    where = [VoiceAgent.organization_id == org_id]
    term = validation.text(search, "search", max_length=100) if search else ""
    if term:
        pattern = "%" + term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        digits = "".join(ch for ch in term if ch.isdigit() or ch == "+")
        matches = func.lower(VoiceAgent.name).like(pattern, escape="\\")
        if digits:
            matches = or_(matches, VoiceAgent.phone_number.like("%" + digits + "%"))
        where.append(matches)
    total = session.exec(select(func.count()).select_from(VoiceAgent).where(*where)).one()
    items = session.exec(
        select(VoiceAgent).where(*where).order_by(VoiceAgent.created_at.desc(), VoiceAgent.id).offset(offset).limit(limit)
    ).all()
    return Page(items=list(items), total=total, offset=offset, limit=limit)


def update_agent(
    session: Session, actor: User, agent_id: uuid.UUID, changes: dict[str, Any], *, audited: bool = True
) -> VoiceAgent:
    """``audited=False``: the caller records the change as its own action (assigning a number)."""
    agent = get_agent(session, actor, agent_id, permission="agent:update")
    values = _clean(changes, partial=True)
    if "phone_number" in values:
        _ensure_phone_free(session, values["phone_number"], agent.id, agent.organization_id)
    before = snapshot(agent)
    for key, value in values.items():
        setattr(agent, key, value)
    session.add(agent)
    _flush(session)
    old, new = audit.diff(before, snapshot(agent))
    if audited and new:
        audit.record(session, actor, agent.organization_id, "agent.updated", target_type="agent", target_id=agent.id,
                     summary=f"Changed agent {agent.name!r}: {', '.join(new)}", before=old, after=new)
    return agent


def delete_agent(session: Session, actor: User, agent_id: uuid.UUID) -> None:
    agent = get_agent(session, actor, agent_id, permission="agent:delete")
    before = snapshot(agent)
    session.delete(agent)
    session.flush()
    audit.record(session, actor, agent.organization_id, "agent.deleted", target_type="agent", target_id=agent.id,
                 summary=f"Deleted agent {agent.name!r}", before=before)


@dataclass(frozen=True)
class AgentActivity:
    tools: list[str]
    last_call_at: datetime | None


def activity_of(session: Session, agent_ids: list[uuid.UUID]) -> dict[uuid.UUID, AgentActivity]:
    """For a page of agents already permission-checked: attached tools and the last call, in two queries."""
    if not agent_ids:
        return {}
    tools: dict[uuid.UUID, list[str]] = {}
    for agent_id, name in session.exec(
        select(AgentTool.agent_id, PlatformTool.name).join(PlatformTool, PlatformTool.id == AgentTool.tool_id)
        .where(AgentTool.agent_id.in_(agent_ids)).order_by(PlatformTool.name)
    ).all():
        tools.setdefault(agent_id, []).append(name)
    last = dict(session.exec(
        select(CallSession.agent_id, func.max(CallSession.started_at))
        .where(CallSession.agent_id.in_(agent_ids), CallSession.kind == "phone").group_by(CallSession.agent_id)
    ).all())
    return {a: AgentActivity(tools=tools.get(a, []), last_call_at=aware(last.get(a))) for a in agent_ids}
