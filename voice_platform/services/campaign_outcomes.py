"""What a campaign contact's call came to, written by the statement's transaction that ends the call.

``services.calls.finish_session`` calls ``call_ended`` for a call placed for a campaign contact,
so the contact's state changes together with the call's end (a crash cannot leave a contact
``calling`` with its call over). No answer and busy go back to the queue after the campaign's
delay while attempts remain; a voicemail is never retried. Imports models only: the call
lifecycle depends on it, never the reverse.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session

from voice_platform.models import Campaign, CampaignContact
from voice_platform.models.outbound import CALLING, CANCELLED, QUEUED
from voice_platform.services import wakeups

RETRIED = ("no_answer", "busy")
FAILED = frozenset({"dial_failed", "failed", "error", "canceled", "model_unavailable", "never_dialed"})


def outcome(reason: str, status: str) -> str:
    """The contact state a call's end reason stands for (before retries are considered)."""
    if reason == "voicemail":
        return "voicemail"
    if reason in RETRIED:
        return reason
    if reason in FAILED or status == "failed":
        return "failed"
    return "completed"


def call_ended(session: Session, contact_id: uuid.UUID, call_id: uuid.UUID, *, reason: str, status: str,
               now: datetime) -> None:
    contact = session.get(CampaignContact, contact_id)
    if contact is None or contact.state != CALLING or contact.last_call_id != call_id:
        return  # an older attempt's late end changes nothing
    campaign = session.get(Campaign, contact.campaign_id)
    state, next_at = outcome(reason, status), None
    if state in RETRIED and campaign is not None and contact.attempts <= campaign.retry_attempts:
        state = CANCELLED if campaign.status == CANCELLED else QUEUED
        next_at = now + timedelta(minutes=campaign.retry_delay_minutes)
    session.execute(
        update(CampaignContact)
        .where(CampaignContact.id == contact_id, CampaignContact.state == CALLING,
               CampaignContact.last_call_id == call_id)
        .values(state=state, next_attempt_at=next_at, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    wakeups.after_commit(session, wakeups.DIALER)
