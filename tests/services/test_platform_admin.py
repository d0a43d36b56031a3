"""The platform admin's views: refused to everyone else, counts right across organizations."""

from __future__ import annotations

import pytest

from voice_platform.errors import PermissionDenied
from voice_platform.services import agents, auth, organizations, platform_admin, tools
from voice_platform.tools.registry import default_registry, sync_with_db


def _account(session, name, *, platform: bool = False):
    email = name.lower().replace(" ", "-") + "@example.com"
    signed, org = auth.signup(session, email=email, password="long enough pw", organization_name=name)
    signed.user.is_platform_admin = platform
    session.add(signed.user)
    session.flush()
    return signed.user, org


def test_everyone_but_platform_admins_is_refused(session):
    org_admin, _ = _account(session, "plain-admin")
    with pytest.raises(PermissionDenied):
        platform_admin.tool_catalogue(session, org_admin)
    with pytest.raises(PermissionDenied):
        platform_admin.organizations(session, org_admin)


def test_member_and_agent_counts_per_organization(session):
    root, root_org = _account(session, "root", platform=True)
    alpha_admin, alpha = _account(session, "Alpha Dental")
    _account(session, "alpha-helper")
    organizations.add_member(session, alpha_admin, alpha.id, email="alpha-helper@example.com", role="member")
    for name in ("Front", "Back", "Night"):
        agents.create_agent(session, alpha_admin, alpha.id, {"name": name})
    beta_admin, beta = _account(session, "Beta Bakery")
    agents.create_agent(session, beta_admin, beta.id, {"name": "Orders"})

    page = platform_admin.organizations(session, root)
    counts = {o.name: (o.members, o.agents) for o in page.items}
    assert counts["Alpha Dental"] == (2, 3)
    assert counts["Beta Bakery"] == (1, 1)
    assert counts["root"] == (1, 0)
    assert page.total == len(page.items) == 4  # every signup made its own organization

    found = platform_admin.organizations(session, root, search="  DENTAL ")
    assert [o.name for o in found.items] == ["Alpha Dental"] and found.total == 1
    assert platform_admin.organizations(session, root, search="%").total == 0  # literal, not a wildcard
    second = platform_admin.organizations(session, root, offset=1, limit=2)
    assert [o.name for o in second.items] == [o.name for o in page.items[1:3]] and second.total == 4


def test_catalogue_counts_attached_and_switched_on_agents(session):
    sync_with_db(session)
    root, _ = _account(session, "root", platform=True)
    owner, org = _account(session, "owner")
    first = agents.create_agent(session, owner, org.id, {"name": "One"})
    second = agents.create_agent(session, owner, org.id, {"name": "Two"})
    tools.attach_tool(session, owner, first.id, tool_name="Call_control")
    tools.attach_tool(session, owner, second.id, tool_name="Call_control", is_enabled=False)

    catalogue = {t.name: t for t in platform_admin.tool_catalogue(session, root)}
    assert set(catalogue) == set(default_registry.tool_classes())
    call_control = catalogue["Call_control"]
    assert (call_control.agents, call_control.agents_enabled) == (2, 1)
    assert call_control.functions == default_registry.function_names("Call_control")
    assert call_control.is_active and call_control.last_changed is not None
    assert (catalogue["Google_calendar"].agents, catalogue["Google_calendar"].agents_enabled) == (0, 0)


def test_catalogue_shows_inactive_tools_and_sync_would_reactivate_a_hand_switch(session):
    """Why there is no switch: a tool still in the code is active again after the next sync."""
    sync_with_db(session)
    root, _ = _account(session, "root", platform=True)
    from sqlmodel import select

    from voice_platform.models import PlatformTool

    row = session.exec(select(PlatformTool).where(PlatformTool.name == "Call_control")).one()
    row.is_active = False
    session.add(row)
    session.flush()
    assert not {t.name: t for t in platform_admin.tool_catalogue(session, root)}["Call_control"].is_active
    assert "Call_control" in sync_with_db(session).updated
    assert {t.name: t for t in platform_admin.tool_catalogue(session, root)}["Call_control"].is_active
