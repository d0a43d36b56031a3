"""The audit log: every change an admin makes appears exactly once, secrets never do, a change that
fails or rolls back leaves no entry, and only the organization's admins read it."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from sqlmodel import select

from tests.fakes.twilio_rest import twilio  # noqa: F401 - fixture
from tests.tools.conftest import catalogue, fake_google  # noqa: F401 - fixtures
from voice_platform.db import session_scope
from voice_platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from voice_platform.models import AgentTool, AuditEvent, User
from voice_platform.models.base import utcnow
from voice_platform.security import decrypt_json
from voice_platform.services import (
    agents, api_keys, audit, auth, invitations, oauth, organizations, phone_numbers, tools,
)

PASSWORD = "long enough pw"
WEATHER_SECRETS = ("weather-secret-123", "weather-secret-456")


def _signup(name: str) -> tuple[uuid.UUID, uuid.UUID, str]:
    email = f"{name.replace(' ', '-').lower()}-{uuid.uuid4().hex[:6]}@example.com"
    with session_scope() as session:
        signed, org = auth.signup(session, email=email, password=PASSWORD, organization_name=name)
        return signed.user.id, org.id, email


def _as(user_id: uuid.UUID, change):
    """One request's transaction, acting as the user."""
    with session_scope() as session:
        return change(session, session.get(User, user_id))


def _events(org_id: uuid.UUID) -> list[AuditEvent]:
    with session_scope() as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.organization_id == org_id)
                                 .order_by(AuditEvent.created_at)).all())


def _connect_google(user_id: uuid.UUID, agent_id: uuid.UUID) -> None:
    url = _as(user_id, lambda s, u: oauth.start_authorization(s, u, agent_id, "Google_calendar"))
    consent = requests.get(url, allow_redirects=False, timeout=10)
    assert consent.status_code == 302, consent.text
    params = {k: v[0] for k, v in parse_qs(urlparse(consent.headers["Location"]).query).items()}
    _as(user_id, lambda s, u: oauth.complete_authorization(s, params["state"], params["code"], actor=u))


def test_every_change_is_recorded_once_without_secrets(twilio, fake_google, catalogue):  # noqa: F811
    admin, org, admin_email = _signup("Audit Co")
    colleague, _own, colleague_email = _signup("Colleague")
    invited, _own2, invited_email = _signup("Invited")

    agent = _as(admin, lambda s, u: agents.create_agent(s, u, org, {"name": "Front desk"}))
    _as(admin, lambda s, u: agents.update_agent(s, u, agent.id, {"name": "Reception", "greeting": "Hello!"}))
    _as(admin, lambda s, u: agents.update_agent(s, u, agent.id, {"name": "Reception"}))  # no change: no entry
    doomed = _as(admin, lambda s, u: agents.create_agent(s, u, org, {"name": "Temporary"}))
    _as(admin, lambda s, u: agents.delete_agent(s, u, doomed.id))

    weather = _as(admin, lambda s, u: tools.attach_tool(s, u, agent.id, tool_name="Test_weather",
                                                         config={"units": "metric", "api_key": WEATHER_SECRETS[0]}))
    _as(admin, lambda s, u: tools.update_agent_tool(s, u, weather.id, {"config": {"units": "imperial",
                                                                                   "api_key": WEATHER_SECRETS[1]}}))
    _as(admin, lambda s, u: tools.set_function_enabled(s, u, weather.id, "forecast", False))
    _as(admin, lambda s, u: tools.set_function_enabled(s, u, weather.id, "forecast", False))  # already off
    _as(admin, lambda s, u: tools.detach_tool(s, u, weather.id))

    calendar = _as(admin, lambda s, u: tools.attach_tool(s, u, agent.id, tool_name="Google_calendar"))
    _connect_google(admin, agent.id)
    with session_scope() as session:
        oauth_tokens = decrypt_json(session.get(AgentTool, calendar.id).sensitive_config)[tools.OAUTH_KEY]
    _as(admin, lambda s, u: tools.disconnect(s, u, calendar.id))

    _as(admin, lambda s, u: organizations.add_member(s, u, org, email=colleague_email, role="member"))
    _as(admin, lambda s, u: organizations.change_member_role(s, u, org, colleague, role="org_admin"))
    _as(admin, lambda s, u: organizations.remove_member(s, u, org, colleague))
    withdrawn = _as(admin, lambda s, u: invitations.create_invitation(s, u, org, email="later@example.com", role="member"))
    _as(admin, lambda s, u: invitations.revoke_invitation(s, u, org, withdrawn.invitation.id))
    accepted = _as(admin, lambda s, u: invitations.create_invitation(s, u, org, email=invited_email, role="member"))
    token = accepted.link.rsplit("/invite/", 1)[1]
    _as(invited, lambda s, u: invitations.accept(s, u, token))

    twilio.offer("+14155550100")
    bought = _as(admin, lambda s, u: phone_numbers.buy(s, u, org, "+14155550100"))
    twilio.own("+14155550111")
    imported = _as(admin, lambda s, u: phone_numbers.import_number(s, u, org, phone_number="+14155550111"))
    _as(admin, lambda s, u: phone_numbers.assign(s, u, bought.id, agent.id))
    _as(admin, lambda s, u: phone_numbers.unassign(s, u, bought.id))
    _as(admin, lambda s, u: phone_numbers.release(s, u, bought.id))

    key = _as(admin, lambda s, u: api_keys.create_key(s, u, org, name="CRM", role="member"))
    _as(admin, lambda s, u: api_keys.revoke_key(s, u, org, key.key.id))
    _as(admin, lambda s, u: organizations.update_organization(s, u, org, {"name": "Audit Co", "timezone": "Europe/Berlin"}))

    events = _events(org)
    assert Counter(e.action for e in events) == Counter({
        "agent.created": 2, "agent.updated": 1, "agent.deleted": 1,
        "tool.attached": 2, "tool.configured": 1, "tool.function_switched": 1, "tool.detached": 1,
        "tool.account_connected": 1, "tool.account_disconnected": 1,
        "member.added": 2, "member.role_changed": 1, "member.removed": 1,
        "invitation.created": 2, "invitation.revoked": 1,
        "number.bought": 1, "number.imported": 1, "number.assigned": 1, "number.unassigned": 1, "number.released": 1,
        "api_key.created": 1, "api_key.revoked": 1,
        "organization.updated": 1,
    })
    assert set(e.action for e in events) <= set(audit.ACTIONS)
    by_action = {e.action: e for e in events}
    assert {e.actor_label for e in events} == {admin_email, invited_email}
    assert by_action["member.added"].actor_label in (admin_email, invited_email)
    joined = [e for e in events if e.action == "member.added" and e.actor_label == invited_email]
    assert len(joined) == 1 and "invitation" in joined[0].summary

    updated = by_action["agent.updated"]
    assert updated.changes == {"before": {"name": "Front desk", "greeting": ""},
                               "after": {"name": "Reception", "greeting": "Hello!"}}
    assert updated.target_id == str(agent.id) and updated.actor_user_id == admin
    configured = by_action["tool.configured"]
    assert configured.changes == {"before": {"config.units": "metric", "config.api_key": audit.CHANGED},
                                  "after": {"config.units": "imperial", "config.api_key": audit.CHANGED}}
    assert by_action["tool.function_switched"].changes["after"] == {"function": "forecast", "enabled": False}
    assert by_action["tool.account_connected"].changes["after"] == {"connected_account": fake_google.state.account_email}
    assert by_action["organization.updated"].changes == {"before": {"timezone": "UTC"}, "after": {"timezone": "Europe/Berlin"}}
    assert by_action["member.role_changed"].changes == {"before": {"role": "member"}, "after": {"role": "org_admin"}}
    assert by_action["number.imported"].target_id == str(imported.id)
    assert by_action["number.assigned"].changes["after"]["agent"] == "Reception"

    dumped = json.dumps([{"summary": e.summary, "changes": e.changes, "target": e.target_id} for e in events])
    leaked = [s for s in (*WEATHER_SECRETS, key.secret, token, withdrawn.link.rsplit("/", 1)[1],
                          oauth_tokens.get("refresh_token"), oauth_tokens.get("token")) if s and s in dumped]
    assert leaked == []


def test_a_failed_or_rolled_back_change_leaves_no_entry(twilio):  # noqa: F811
    admin, org, _email = _signup("Rollback Co")
    agent = _as(admin, lambda s, u: agents.create_agent(s, u, org, {"name": "Keeper", "phone_number": "+14155550160"}))
    before = len(_events(org))

    class Abort(Exception):
        pass

    def change_then_fail(session, user):
        agents.update_agent(session, user, agent.id, {"name": "Never saved"})
        organizations.update_organization(session, user, org, {"name": "Never renamed"})
        api_keys.create_key(session, user, org, name="never", role="member")
        raise Abort  # e.g. a later step of the same request fails

    with pytest.raises(Abort):
        _as(admin, change_then_fail)
    with pytest.raises(ValidationFailed):
        _as(admin, lambda s, u: agents.update_agent(s, u, agent.id, {"name": ""}))
    with pytest.raises(Conflict):
        _as(admin, lambda s, u: agents.create_agent(s, u, org, {"name": "Twin", "phone_number": "+14155550160"}))
    with pytest.raises(NotFound):
        _as(admin, lambda s, u: organizations.add_member(s, u, org, email="nobody@example.com", role="member"))
    with pytest.raises(Exception):  # Twilio refuses a number it does not offer: nothing bought, nothing logged
        _as(admin, lambda s, u: phone_numbers.buy(s, u, org, "+14155550999"))
    assert len(_events(org)) == before == 1
    with session_scope() as session:
        assert session.get(type(agent), agent.id).name == "Keeper"


def test_only_the_organizations_admins_read_it_with_filters_and_paging():
    admin, org, admin_email = _signup("Reader Co")
    member, _m, member_email = _signup("Member")
    _stranger_org_admin, other_org, _e = _signup("Elsewhere")
    _as(admin, lambda s, u: organizations.add_member(s, u, org, email=member_email, role="member"))
    for name in ("One", "Two"):  # the Free plan allows 3 agents
        _as(admin, lambda s, u, n=name: agents.create_agent(s, u, org, {"name": n}))
    made = _as(admin, lambda s, u: api_keys.create_key(s, u, org, name="Robot", role="org_admin"))
    with session_scope() as session:
        robot = api_keys.authenticate(session, made.secret)
    _as(admin, lambda s, _u: agents.create_agent(s, robot, org, {"name": "By robot"}))

    with pytest.raises(PermissionDenied):
        _as(member, lambda s, u: audit.list_events(s, u, org))
    with pytest.raises(NotFound):
        _as(member, lambda s, u: audit.list_events(s, u, other_org))
    with pytest.raises(NotFound):
        _as(admin, lambda s, _u: audit.list_events(s, robot, other_org))

    everything = _as(admin, lambda s, u: audit.list_events(s, u, org))
    assert everything.total == 5
    assert [e.action for e in everything.items][:2] == ["agent.created", "api_key.created"]  # newest first
    assert [e.summary for e in _as(admin, lambda s, _u: audit.list_events(s, robot, org, actor_query="robot")).items] == [
        "Created agent 'By robot'"]
    family = _as(admin, lambda s, u: audit.list_events(s, u, org, action="agent"))
    assert family.total == 3 and {e.action for e in family.items} == {"agent.created"}
    assert _as(admin, lambda s, u: audit.list_events(s, u, org, action="member.added")).total == 1
    assert _as(admin, lambda s, u: audit.list_events(s, u, org, action="age")).total == 0  # a family, not a prefix
    mine = _as(admin, lambda s, u: audit.list_events(s, u, org, actor_query=admin_email.upper()[:12]))
    assert mine.total == 4
    assert _as(admin, lambda s, u: audit.list_events(s, u, org, actor_query="%")).total == 0  # literal, not a wildcard
    page = _as(admin, lambda s, u: audit.list_events(s, u, org, offset=3, limit=3))
    assert (len(page.items), page.total, page.offset, page.limit) == (2, 5, 3, 3)
    assert _as(admin, lambda s, u: audit.list_events(s, u, org, since=utcnow() + timedelta(minutes=1))).total == 0
    assert _as(admin, lambda s, u: audit.list_events(s, u, org, until=utcnow() - timedelta(minutes=5))).total == 0
    assert _as(admin, lambda s, u: audit.list_events(s, u, org, since=utcnow() - timedelta(minutes=5))).total == 5
    for bad in ({"limit": 0}, {"limit": 201}, {"offset": -1}):
        with pytest.raises(ValidationFailed):
            _as(admin, lambda s, u, b=bad: audit.list_events(s, u, org, **b))
