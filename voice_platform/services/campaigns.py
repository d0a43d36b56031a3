"""Campaigns: an agent calling a list of contacts, inside a weekly window, a few at a time.

Reading takes ``call:read`` (whoever sees the calls sees what dialed them); creating and
steering takes ``agent:update`` (whoever may make an agent call out). Another organization's
campaign is not found (404), like every tenant row.

Status: ``draft`` -> ``running`` <-> ``paused`` -> ``completed`` (the dialer, once every contact
is final) | ``cancelled`` (queued contacts are cancelled at once; calls in flight finish and keep
their outcome). Each change is one conditional UPDATE, so two clicks or two processes change a
campaign once; asking for the state it is already in changes nothing (idempotent), any other
change is a 409 that says why. The dialing itself is ``services.dialer``; a call's end settles
its contact in ``services.campaign_outcomes``. Input rules live in ``services.campaign_rules``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, update
from sqlmodel import Session, select

from voice_platform.errors import Conflict, NotFound, ValidationFailed
from voice_platform.models import CallSession, Campaign, CampaignContact, Organization, User, VoiceAgent
from voice_platform.models.base import utcnow
from voice_platform.models.outbound import CANCELLED, CONTACT_STATES, DRAFT, PAUSED, QUEUED, RUNNING
from voice_platform.services import audit, billing, campaign_rules as rules, wakeups
from voice_platform.services.rbac import require

NOT_FOUND = "Campaign not found"
NO_NUMBER = "The agent needs a phone number to call from"
AGENT_INACTIVE = "The agent is switched off; switch it on to call out"
parse_csv = rules.parse_csv  # the dashboard's upload: (contacts, rejected rows)
MAX_LISTED = 500  # campaigns one list shows, newest first
CONTACT_PAGE = 1_000  # contacts one detail page shows unless asked for more (a campaign has up to 10,000)

# action -> (the states it starts from, the state it leads to)
ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "start": ((DRAFT,), RUNNING),
    "pause": ((RUNNING,), PAUSED),
    "resume": ((PAUSED,), RUNNING),
    "cancel": ((DRAFT, RUNNING, PAUSED), CANCELLED),
}


@dataclass(frozen=True)
class CampaignView:
    campaign: Campaign
    counts: dict[str, int]
    in_window: bool
    timezone: str

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class ContactView:
    contact: CampaignContact
    calls: list[CallSession] = field(default_factory=list)


@dataclass(frozen=True)
class CampaignDetail:
    view: CampaignView
    contacts: list[ContactView]
    offset: int
    limit: int


def plan_concurrency(session: Session, org_id: uuid.UUID) -> tuple[int, str]:
    """The plan's concurrent calls and the plan's name (checked at create, capped again at dial time)."""
    plan = billing.plan_of(session, billing.subscription_of(session, org_id))
    return plan.max_concurrent_calls, plan.name


def _agent(session: Session, org_id: uuid.UUID, agent_id: object) -> VoiceAgent:
    try:
        agent = session.get(VoiceAgent, uuid.UUID(str(agent_id)))
    except ValueError:
        agent = None
    if agent is None or agent.organization_id != org_id:
        raise NotFound("Agent not found")
    return agent


def ready_to_call(agent: VoiceAgent) -> None:
    """What an agent needs before it calls anyone (at create and at start; the dialer checks again),
    refused as a single call is (``outbound_calls``): no number 422, switched off 409."""
    if not agent.phone_number:
        raise ValidationFailed(NO_NUMBER, field="agent_id")
    if not agent.is_active:
        raise Conflict(AGENT_INACTIVE, field="agent_id")


def create(session: Session, actor: User, org_id: uuid.UUID, data: dict[str, Any]) -> Campaign:
    """A draft campaign with its contacts, in upload order. Every bad contact is reported at once
    (``campaign_rules.ContactsRejected``); a contact on the do-not-call list is accepted and ends
    in ``do_not_call`` when its turn comes (the list may change before then)."""
    require(session, actor, "agent:update", org_id)
    agent = _agent(session, org_id, data.get("agent_id"))
    name = rules.name(data.get("name"))
    window = rules.window(data.get("window"))
    retry = rules.retry(data.get("retry"))
    concurrency, plan_name = plan_concurrency(session, org_id)
    most = rules.max_concurrent(data.get("max_concurrent", 1), concurrency, plan_name)
    contacts = rules.contacts(data.get("contacts"))
    ready_to_call(agent)
    campaign = Campaign(organization_id=org_id, agent_id=agent.id, name=name, window=window, max_concurrent=most,
                        retry_attempts=retry["attempts"], retry_delay_minutes=retry["delay_minutes"],
                        created_by=getattr(actor, "id", None) if getattr(actor, "api_key_id", None) is None else None)
    session.add(campaign)
    session.flush()
    now = utcnow()
    session.execute(insert(CampaignContact), [
        {"id": uuid.uuid4(), "campaign_id": campaign.id, "position": i, "to_number": c["to"],
         "variables": c["variables"], "state": QUEUED, "attempts": 0, "updated_at": now}
        for i, c in enumerate(contacts)
    ])
    audit.record(session, actor, org_id, "campaign.created", target_type="campaign", target_id=campaign.id,
                 summary=f"Created campaign {name!r} with {len(contacts)} contacts for agent {agent.name!r}")
    return campaign


def _campaign(session: Session, actor: User, org_id: uuid.UUID, campaign_id: uuid.UUID, permission: str) -> Campaign:
    """The organization's campaign: another organization's (or an id under the wrong one) is not found."""
    require(session, actor, permission, org_id, not_found=NOT_FOUND)
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.organization_id != org_id:
        raise NotFound(NOT_FOUND)
    return campaign


def counts_of(session: Session, campaign_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, int]]:
    """Contacts per state, every state present (0 when none), for each campaign: one query."""
    counts = {cid: dict.fromkeys(CONTACT_STATES, 0) for cid in campaign_ids}
    if campaign_ids:
        rows = session.exec(select(CampaignContact.campaign_id, CampaignContact.state, func.count())
                            .where(CampaignContact.campaign_id.in_(campaign_ids))
                            .group_by(CampaignContact.campaign_id, CampaignContact.state)).all()
        for cid, state, count in rows:
            counts[cid][state] = count
    return counts


def _timezone(session: Session, org_id: uuid.UUID) -> str:
    org = session.get(Organization, org_id)
    return org.timezone if org is not None else "UTC"


def _view(campaign: Campaign, counts: dict[str, int], tz: str, now: datetime) -> CampaignView:
    return CampaignView(campaign=campaign, counts=counts, timezone=tz,
                        in_window=rules.in_window(campaign.window, tz, now))


def list_campaigns(session: Session, actor: User, org_id: uuid.UUID) -> list[CampaignView]:
    """The organization's campaigns, newest first, each with its counts."""
    require(session, actor, "call:read", org_id)
    found = list(session.exec(select(Campaign).where(Campaign.organization_id == org_id)
                              .order_by(Campaign.created_at.desc(), Campaign.id).limit(MAX_LISTED)).all())
    counts = counts_of(session, [c.id for c in found])
    tz, now = _timezone(session, org_id), utcnow()
    return [_view(c, counts[c.id], tz, now) for c in found]


def view(session: Session, actor: User, org_id: uuid.UUID, campaign_id: uuid.UUID) -> CampaignView:
    campaign = _campaign(session, actor, org_id, campaign_id, "call:read")
    return _view(campaign, counts_of(session, [campaign.id])[campaign.id],
                 _timezone(session, campaign.organization_id), utcnow())


def detail(session: Session, actor: User, org_id: uuid.UUID, campaign_id: uuid.UUID, *, offset: int = 0, limit: int = CONTACT_PAGE,
           state: str | None = None) -> CampaignDetail:
    """The campaign, its counts, and a page of its contacts (upload order) each with its calls
    (oldest first): two more queries, whatever the page's size."""
    shown = view(session, actor, org_id, campaign_id)
    if offset < 0:
        raise ValidationFailed("offset must be 0 or more", field="offset")
    if not 1 <= limit <= rules.MAX_CONTACTS:
        raise ValidationFailed(f"limit must be from 1 to {rules.MAX_CONTACTS}", field="limit")
    if state is not None and state not in CONTACT_STATES:
        raise ValidationFailed(f"state must be one of: {', '.join(CONTACT_STATES)}", field="state")
    query = select(CampaignContact).where(CampaignContact.campaign_id == campaign_id)
    if state is not None:
        query = query.where(CampaignContact.state == state)
    contacts = list(session.exec(query.order_by(CampaignContact.position).offset(offset).limit(limit)).all())
    calls: dict[uuid.UUID, list[CallSession]] = {c.id: [] for c in contacts}
    if contacts:
        for call in session.exec(select(CallSession).where(CallSession.campaign_contact_id.in_(list(calls)))
                                 .order_by(CallSession.started_at, CallSession.id)).all():
            calls[call.campaign_contact_id].append(call)
    return CampaignDetail(view=shown, contacts=[ContactView(c, calls[c.id]) for c in contacts],
                          offset=offset, limit=limit)


EDITABLE = ("name", "agent_id", "window", "max_concurrent", "retry")
NOT_A_DRAFT = "The campaign is {status}; only a draft can be edited (cancel it and create another)"


def edit(session: Session, actor: User, org_id: uuid.UUID, campaign_id: uuid.UUID, data: dict[str, Any]) -> CampaignView:
    """Change a draft's settings: the keys of ``data`` among ``EDITABLE``, each by the rules of
    ``create`` (a null window or retry is the default); its contacts stay. A campaign that has
    started is not a draft any more (409); one conditional UPDATE, so an edit racing a start
    changes nothing once the start has won."""
    campaign = _campaign(session, actor, org_id, campaign_id, "agent:update")
    if campaign.status != DRAFT:
        raise Conflict(NOT_A_DRAFT.format(status=campaign.status))
    unknown = sorted(set(data) - set(EDITABLE))
    if unknown:
        raise ValidationFailed(f"{unknown[0]} cannot be edited; editable: {', '.join(EDITABLE)}", field=unknown[0])
    values: dict[str, Any] = {}
    agent = None
    if "name" in data:
        values["name"] = rules.name(data["name"])
    if "agent_id" in data:
        agent = _agent(session, org_id, data["agent_id"])
        ready_to_call(agent)
        values["agent_id"] = agent.id
    if "window" in data:
        values["window"] = rules.window(data["window"])
    if "max_concurrent" in data:
        concurrency, plan_name = plan_concurrency(session, org_id)
        values["max_concurrent"] = rules.max_concurrent(data["max_concurrent"], concurrency, plan_name)
    if "retry" in data:
        retry = rules.retry(data["retry"])
        values["retry_attempts"], values["retry_delay_minutes"] = retry["attempts"], retry["delay_minutes"]
    was, changed = audit.diff({key: getattr(campaign, key) for key in values}, values)
    if changed:
        done = session.execute(update(Campaign).where(Campaign.id == campaign_id, Campaign.status == DRAFT)
                               .values(**changed, updated_at=utcnow()).returning(Campaign.id)
                               .execution_options(synchronize_session=False)).first()
        if done is None:  # started or cancelled in between
            session.refresh(campaign)
            raise Conflict(NOT_A_DRAFT.format(status=campaign.status))
        audit.record(session, actor, org_id, "campaign.updated", target_type="campaign", target_id=campaign_id,
                     summary=f"Edited campaign {campaign.name!r}: "
                             + ", ".join(sorted({key.removesuffix("_attempts").removesuffix("_delay_minutes")
                                                 for key in changed}))
                             + (f" (agent {agent.name!r})" if agent is not None and "agent_id" in changed else ""),
                     before={k: _plain(v) for k, v in was.items()}, after={k: _plain(v) for k, v in changed.items()})
        session.refresh(campaign)
    return view(session, actor, org_id, campaign_id)


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, uuid.UUID) else value


def change(session: Session, actor: User, org_id: uuid.UUID, campaign_id: uuid.UUID, action: str) -> CampaignView:
    """start | pause | resume | cancel. Starting checks the agent can still call out."""
    sources, target = ACTIONS[action]
    campaign = _campaign(session, actor, org_id, campaign_id, "agent:update")
    if campaign.status == target:
        return view(session, actor, org_id, campaign_id)
    if campaign.status not in sources:
        raise Conflict(f"The campaign is {campaign.status}; it cannot be {_done(action)}"
                       + (" (resume a paused campaign)" if action == "start" and campaign.status == PAUSED else ""))
    if target == RUNNING:
        agent = session.get(VoiceAgent, campaign.agent_id)
        if agent is None:
            raise NotFound("Agent not found")
        ready_to_call(agent)
    now = utcnow()
    values: dict[str, Any] = {"status": target, "updated_at": now}
    if action == "start":
        values["started_at"] = now
    if target == CANCELLED:
        values["finished_at"] = now
    changed = session.execute(update(Campaign).where(Campaign.id == campaign_id, Campaign.status.in_(sources))
                              .values(**values).returning(Campaign.id)
                              .execution_options(synchronize_session=False)).first()
    if changed is None:  # another request changed it in between: say what it is now
        session.refresh(campaign)
        raise Conflict(f"The campaign is {campaign.status}; it cannot be {_done(action)}")
    if target == CANCELLED:
        session.execute(update(CampaignContact)
                        .where(CampaignContact.campaign_id == campaign_id, CampaignContact.state == QUEUED)
                        .values(state=CANCELLED, next_attempt_at=None, updated_at=now)
                        .execution_options(synchronize_session=False))
    if target == RUNNING:
        wakeups.after_commit(session, wakeups.DIALER)
    audit.record(session, actor, campaign.organization_id, f"campaign.{_done(action)}", target_type="campaign",
                 target_id=campaign_id, summary=f"{_done(action).capitalize()} campaign {campaign.name!r}")
    session.refresh(campaign)
    return view(session, actor, org_id, campaign_id)


def _done(action: str) -> str:
    return {"start": "started", "pause": "paused", "resume": "resumed", "cancel": "cancelled"}[action]

