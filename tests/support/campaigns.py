"""An organization with an agent that can call out, and campaigns made through the service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.api import unique_phone
from voice_platform.db import session_scope
from voice_platform.models import CallSession, Campaign, CampaignContact, Subscription, User
from voice_platform.services import agents, auth, campaigns, dialer

ALWAYS = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "24:00"}


@pytest.fixture(autouse=True)
def quiet_dialer(monkeypatch):
    """Only the test dials: the process's background dialer (which any app start-up may start) is
    stopped and kept from starting; the real ``start_background`` is the fixture's value."""
    real = dialer.start_background
    dialer.stop_background()
    monkeypatch.setattr(dialer, "start_background", lambda: False)
    yield real
    dialer.stop_background()


@dataclass
class Org:
    id: uuid.UUID
    user_id: uuid.UUID
    agent_id: uuid.UUID
    agent_number: str

    def user(self, session) -> User:
        return session.get(User, self.user_id)


def make_org(prefix: str = "campaigns", *, timezone: str = "UTC", phone: bool = True) -> Org:
    with session_scope() as session:
        signed_in, org = auth.signup(session, email=f"{prefix}-{uuid.uuid4().hex[:8]}@example.com",
                                     password="correct horse battery", organization_name=prefix)
        org.timezone = timezone
        number = unique_phone() if phone else None
        agent = agents.create_agent(session, signed_in.user, org.id, {"name": "Caller", "phone_number": number})
        return Org(id=org.id, user_id=signed_in.user.id, agent_id=agent.id, agent_number=number or "")


def make_campaign(org: Org, numbers: list[str], *, start: bool = True, **fields: Any) -> uuid.UUID:
    data = {"name": "Reminders", "agent_id": str(org.agent_id), "window": ALWAYS, "max_concurrent": 1,
            "contacts": [{"to": n, "variables": {"name": f"Person {i}"}} for i, n in enumerate(numbers)], **fields}
    with session_scope() as session:
        campaign_id = campaigns.create(session, org.user(session), org.id, data).id
    if start:
        with session_scope() as session:
            campaigns.change(session, org.user(session), org.id, campaign_id, "start")
    return campaign_id


def contacts(campaign_id: uuid.UUID) -> list[CampaignContact]:
    with session_scope() as session:
        return list(session.query(CampaignContact).filter(CampaignContact.campaign_id == campaign_id)
                    .order_by(CampaignContact.position).all())


def states(campaign_id: uuid.UUID) -> list[str]:
    return [c.state for c in contacts(campaign_id)]


def campaign(campaign_id: uuid.UUID) -> Campaign:
    with session_scope() as session:
        return session.get(Campaign, campaign_id)


def calls_of(campaign_id: uuid.UUID) -> list[CallSession]:
    with session_scope() as session:
        return list(session.query(CallSession).join(CampaignContact, CampaignContact.id == CallSession.campaign_contact_id)
                    .filter(CampaignContact.campaign_id == campaign_id).order_by(CallSession.started_at).all())


def active_calls(org: Org) -> int:
    with session_scope() as session:
        return session.query(Subscription.active_calls).filter(Subscription.organization_id == org.id).scalar()
