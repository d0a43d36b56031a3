"""The statements the campaign dialer makes on contact rows, each in the caller's transaction.

Every change of a contact's state here is one conditional UPDATE whose WHERE names the state it
changes from, so a row another process changed meanwhile is left alone: a claim takes only
contacts still ``queued`` and due; a claim is undone only while no call was opened for it
(``last_call_id`` NULL); a call's end settles its contact only if it is that contact's latest
call (``campaign_outcomes``). See ``services.dialer`` for the round that uses them.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import and_, case, exists, or_, update
from sqlmodel import Session, select

from voice_platform.models import (
    CallSession, Campaign, CampaignContact, DoNotCallNumber, Organization, Plan, Subscription,
)
from voice_platform.models.base import utcnow
from voice_platform.models.calls import OPEN_STATUSES
from voice_platform.models.outbound import CALLING, CANCELLED, COMPLETED, PAUSED, QUEUED, RUNNING
from voice_platform.services import audit, campaign_outcomes

DO_NOT_CALL = "do_not_call"
STRANDED_AFTER = timedelta(minutes=2)
# Campaigns that may still have a contact ``calling`` (a cancelled or paused one's calls finish).
UNFINISHED = (RUNNING, PAUSED, CANCELLED)


def running(session: Session) -> list[tuple]:
    """Running campaigns with what a round needs: organization's time zone, caps (oldest first)."""
    return list(session.exec(
        select(Campaign.id, Campaign.organization_id, Campaign.agent_id, Organization.timezone, Campaign.window,
               Campaign.max_concurrent, Plan.max_concurrent_calls)
        .join(Organization, Organization.id == Campaign.organization_id)
        .join(Subscription, Subscription.organization_id == Campaign.organization_id)
        .join(Plan, Plan.id == Subscription.plan)
        .where(Campaign.status == RUNNING).order_by(Campaign.started_at, Campaign.id)
    ).all())


def skip_listed(session: Session, campaign_id: uuid.UUID, org_id: uuid.UUID) -> int:
    listed = select(DoNotCallNumber.number).where(DoNotCallNumber.organization_id == org_id)
    return session.execute(
        update(CampaignContact)
        .where(CampaignContact.campaign_id == campaign_id, CampaignContact.state == QUEUED,
               CampaignContact.to_number.in_(listed.scalar_subquery()))
        .values(state=DO_NOT_CALL, next_attempt_at=None, updated_at=utcnow(),
                last_error="On the organization's do-not-call list")
        .execution_options(synchronize_session=False)
    ).rowcount


def claim(session: Session, campaign_id: uuid.UUID, free: int, now: datetime) -> list[tuple]:
    """Up to ``free`` due contacts, queued -> calling in ONE conditional statement (its WHERE is
    checked again on each row, so a contact changed meanwhile is not taken)."""
    due = and_(CampaignContact.campaign_id == campaign_id, CampaignContact.state == QUEUED,
               or_(CampaignContact.next_attempt_at.is_(None), CampaignContact.next_attempt_at <= now))
    picked = select(CampaignContact.id).where(due).order_by(CampaignContact.position).limit(free)
    rows = session.execute(
        update(CampaignContact).where(CampaignContact.id.in_(picked.scalar_subquery()), due)
        .values(state=CALLING, attempts=CampaignContact.attempts + 1, last_call_id=None, last_error=None,
                next_attempt_at=None, updated_at=utcnow())
        .returning(CampaignContact.position, CampaignContact.id, CampaignContact.to_number, CampaignContact.variables)
        .execution_options(synchronize_session=False)
    ).all()
    return [(r[1], r[2], r[3]) for r in sorted(rows, key=lambda r: r[0])]


def undialed(contact_id: uuid.UUID):
    """The contact is still ours and no call was opened for it: safe to put back or settle."""
    return and_(CampaignContact.id == contact_id, CampaignContact.state == CALLING,
                CampaignContact.last_call_id.is_(None))


def put_back(session: Session, contact_id: uuid.UUID, *, state: str = QUEUED, delay: timedelta | None = None,
              error: str | None = None) -> int:
    """Undo a claim whose call was never opened: the attempt is given back. A contact going back to
    the queue of a campaign cancelled meanwhile (between the claim and now) is cancelled instead."""
    now = utcnow()
    queued = state == QUEUED
    if queued:
        status = select(Campaign.status).where(Campaign.id == CampaignContact.campaign_id).scalar_subquery()
        state = case((status == CANCELLED, CANCELLED), else_=QUEUED)
    return session.execute(
        update(CampaignContact).where(undialed(contact_id))
        .values(state=state, attempts=CampaignContact.attempts - 1, updated_at=now, last_error=error,
                next_attempt_at=(now + delay) if delay and queued else None)
        .execution_options(synchronize_session=False)
    ).rowcount


def recover(session: Session) -> int:
    """After a crash: settle contacts whose call ended without them (a session closed in bulk as
    ``lost`` by billing), requeue stranded claims. Only unfinished campaigns' contacts are read
    (the ``(campaign_id, state, ...)`` index), however many finished campaigns there are."""
    now = utcnow()
    unfinished = select(Campaign.id).where(Campaign.status.in_(UNFINISHED)).scalar_subquery()
    calling = and_(CampaignContact.campaign_id.in_(unfinished), CampaignContact.state == CALLING)
    ended = session.exec(
        select(CampaignContact.id, CallSession.id, CallSession.end_reason, CallSession.status, CallSession.ended_at)
        .join(CallSession, CallSession.id == CampaignContact.last_call_id)
        .where(calling, CallSession.status.not_in(OPEN_STATUSES)).limit(500)
    ).all()
    for contact_id, call_id, reason, status, ended_at in ended:
        campaign_outcomes.call_ended(session, contact_id, call_id, reason=reason or "lost", status=status,
                                     now=ended_at or now)
    return session.execute(
        update(CampaignContact)
        .where(calling, CampaignContact.last_call_id.is_(None), CampaignContact.updated_at < now - STRANDED_AFTER)
        .values(state=QUEUED, attempts=CampaignContact.attempts - 1, updated_at=now,
                last_error="The dialer stopped before this call was placed; queued again")
        .execution_options(synchronize_session=False)
    ).rowcount


def complete(session: Session) -> int:
    """Running campaigns with nothing queued or calling are done."""
    open_contacts = exists().where(CampaignContact.campaign_id == Campaign.id,
                                   CampaignContact.state.in_((QUEUED, CALLING)))
    now = utcnow()
    done = session.execute(update(Campaign).where(Campaign.status == RUNNING, ~open_contacts)
                           .values(status=COMPLETED, finished_at=now, updated_at=now)
                           .returning(Campaign.id, Campaign.organization_id, Campaign.name)).all()
    for campaign_id, org_id, name in done:
        audit.record(session, None, org_id, "campaign.completed", target_type="campaign", target_id=campaign_id,
                     summary=f"Campaign {name!r} completed: every contact was called or settled")
    return len(done)
