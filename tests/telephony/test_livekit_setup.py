"""`livekit-setup` and the number sync, through the real livekit-api client against a fake LiveKit.

What matters on a live call: the trunk LiveKit matches lists every platform number, checks
the credentials Twilio presents, and turns our session header into the attribute the
worker reads; the rule puts each call in its own room and dispatches our worker by name.
Running it again must not duplicate either object (LiveKit refuses conflicting ones), and
a number change must reach the same trunk.
"""

from __future__ import annotations

import logging
import socket
import time
import uuid
from collections.abc import Iterator

import pytest
from livekit.protocol import sip

from tests.fakes.livekit_server import FakeLiveKit
from tests.support.api import signup, unique_phone
from voice_platform import cli
from voice_platform.services import number_inventory
from voice_platform.settings import reset_settings_cache
from voice_platform.telephony import livekit_sip
from voice_platform.telephony.livekit_sip import SESSION_ATTRIBUTE, SESSION_HEADER, SipTarget, plan_rule, plan_trunk

SIP_USER = "twilio-bridge"
SIP_PASSWORD = "digest-password-" + "p" * 16
AGENT = "front-desk-agent"
LIVEKIT_ENV = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "LIVEKIT_SIP_USERNAME", "LIVEKIT_SIP_PASSWORD")


@pytest.fixture()
def livekit(test_database) -> Iterator[FakeLiveKit]:
    """A running fake, and settings pointing at it; both undone (server stopped) afterwards."""
    fake = FakeLiveKit()
    try:
        with fake, pytest.MonkeyPatch.context() as mp:
            env = {**fake.settings_env(), "LIVEKIT_SIP_USERNAME": SIP_USER, "LIVEKIT_SIP_PASSWORD": SIP_PASSWORD,
                   "LIVEKIT_AGENT_NAME": AGENT, "LIVEKIT_ROOM_PREFIX": "call-"}
            for name, value in env.items():
                mp.setenv(name, value)
            reset_settings_cache()
            yield fake
    finally:
        reset_settings_cache()
    assert not fake.running


@pytest.fixture()
def no_livekit(test_database) -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        for name in LIVEKIT_ENV:
            mp.delenv(name, raising=False)
        reset_settings_cache()
        try:
            yield mp
        finally:
            reset_settings_cache()


def register(org_id: str, *numbers: str) -> None:
    """Rows written directly, committed: the number inventory syncs LiveKit by itself after a
    commit, and these tests must see what the command and the sync do, not that hook."""
    from voice_platform.db import session_scope
    from voice_platform.models import PhoneNumber
    from voice_platform.models.numbers import MANUAL

    with session_scope() as session:
        for number in numbers:
            session.add(PhoneNumber(organization_id=uuid.UUID(org_id), e164=number, source=MANUAL))


def only_trunk_and_rule(fake: FakeLiveKit) -> tuple[sip.SIPInboundTrunkInfo, sip.SIPDispatchRuleInfo]:
    trunks, rules = fake.state.inbound_trunks(), fake.state.dispatch_rules()
    assert len(trunks) == 1 and len(rules) == 1, (trunks, rules)
    return trunks[0], rules[0]


def setup(capsys) -> tuple[int, str, str]:
    code = cli.main(["livekit-setup"])
    out, err = capsys.readouterr()
    return code, out, err


# -- the command -----------------------------------------------------------------------------

def test_setup_installs_the_trunk_and_the_rule(client, livekit, capsys):
    admin = signup(client, "lk")
    numbers = sorted([unique_phone(), unique_phone()])
    register(admin.org_id, *numbers)

    code, out, err = setup(capsys)

    assert code == 0, err
    trunk, rule = only_trunk_and_rule(livekit)
    assert trunk.sip_trunk_id.startswith("ST_") and trunk.name == livekit_sip.TRUNK_NAME
    assert sorted(trunk.numbers) == numbers
    assert (trunk.auth_username, trunk.auth_password) == (SIP_USER, SIP_PASSWORD)
    assert dict(trunk.headers_to_attributes) == {"X-Vp-Session": "vp.session", "X-Vp-Resume": "vp.resume"}
    assert trunk.include_headers == sip.SIPHeaderOptions.SIP_X_HEADERS
    assert rule.sip_dispatch_rule_id.startswith("SDR_") and rule.name == livekit_sip.RULE_NAME
    assert rule.rule.WhichOneof("rule") == "dispatch_rule_individual"
    assert rule.rule.dispatch_rule_individual.room_prefix == "call-"
    assert not rule.rule.dispatch_rule_individual.pin
    assert list(rule.trunk_ids) == [trunk.sip_trunk_id]
    assert [a.agent_name for a in rule.room_config.agents] == [AGENT]
    assert trunk.sip_trunk_id in out and rule.sip_dispatch_rule_id in out
    assert "created (2 number(s))" in out
    assert SIP_PASSWORD not in out + err


def test_the_names_match_the_webhook_and_the_worker():
    """The header Twilio sends, the attribute LiveKit sets and the ones the worker reads agree."""
    from voice_platform.telephony import twiml
    from worker import identify

    assert SESSION_HEADER == twiml.SESSION_HEADER == "X-Vp-Session"
    assert SESSION_ATTRIBUTE == identify.SESSION_ATTRIBUTE == "vp.session"
    assert identify.HEADER_ATTRIBUTE == "sip.h." + SESSION_HEADER.lower()


def test_running_twice_creates_nothing_new(client, livekit, capsys):
    admin = signup(client, "lk")
    register(admin.org_id, unique_phone())
    assert setup(capsys)[0] == 0
    first = only_trunk_and_rule(livekit)
    writes = livekit.state.writes()

    code, out, _ = setup(capsys)

    assert code == 0
    assert only_trunk_and_rule(livekit) == first
    assert livekit.state.writes() == writes == ["CreateSIPInboundTrunk", "CreateSIPDispatchRule"]
    assert "unchanged (1 number(s))" in out and out.count("unchanged") == 2


def test_a_new_number_updates_the_same_trunk(client, livekit, capsys):
    admin = signup(client, "lk")
    first_number, new_number = unique_phone(), unique_phone()
    register(admin.org_id, first_number)
    assert setup(capsys)[0] == 0
    trunk, rule = only_trunk_and_rule(livekit)

    register(admin.org_id, new_number)
    code, out, _ = setup(capsys)

    assert code == 0
    updated, same_rule = only_trunk_and_rule(livekit)
    assert updated.sip_trunk_id == trunk.sip_trunk_id
    assert sorted(updated.numbers) == sorted([first_number, new_number])
    assert (updated.auth_username, dict(updated.headers_to_attributes)) == (SIP_USER, {SESSION_HEADER: SESSION_ATTRIBUTE,
                                                                           "X-Vp-Resume": "vp.resume"})
    assert same_rule == rule
    assert f"inbound trunk {trunk.sip_trunk_id}: updated (2 number(s))" in out
    assert livekit.state.writes()[-1] == "UpdateSIPInboundTrunk"


def test_an_operators_changes_are_kept_and_ours_restored(client, livekit, capsys):
    """Fields we do not manage survive; a rule someone edited gets our prefix, trunk and agent back."""
    from livekit.protocol.agent_dispatch import RoomAgentDispatch

    admin = signup(client, "lk")
    register(admin.org_id, unique_phone())
    assert setup(capsys)[0] == 0
    trunk, rule = only_trunk_and_rule(livekit)
    with livekit.state.lock:
        stored = livekit.state.trunks[trunk.sip_trunk_id]
        stored.allowed_addresses.append("54.172.60.0/30")
        stored.krisp_enabled = True
        stored.auth_password = "someone-changed-it"
        edited = livekit.state.rules[rule.sip_dispatch_rule_id]
        edited.rule.dispatch_rule_individual.room_prefix = "other-"
        edited.room_config.empty_timeout = 30
        del edited.room_config.agents[:]
        edited.room_config.agents.append(RoomAgentDispatch(agent_name="somebody-else"))

    code, out, _ = setup(capsys)

    assert code == 0
    trunk2, rule2 = only_trunk_and_rule(livekit)
    assert trunk2.sip_trunk_id == trunk.sip_trunk_id and rule2.sip_dispatch_rule_id == rule.sip_dispatch_rule_id
    assert list(trunk2.allowed_addresses) == ["54.172.60.0/30"] and trunk2.krisp_enabled
    assert trunk2.auth_password == SIP_PASSWORD
    assert rule2.rule.dispatch_rule_individual.room_prefix == "call-"
    assert rule2.room_config.empty_timeout == 30
    assert [a.agent_name for a in rule2.room_config.agents] == [AGENT]
    assert out.count("updated") == 2


def test_a_wrong_secret_is_refused_and_exits_1(client, livekit, monkeypatch, capsys):
    monkeypatch.setenv("LIVEKIT_API_SECRET", "not-the-secret-" + "w" * 32)
    reset_settings_cache()

    code, out, err = setup(capsys)

    assert code == 1
    assert "refused the credentials" in err and "401" in err and "LIVEKIT_API_SECRET" in err
    assert len(err.strip().splitlines()) == 1
    assert livekit.state.refused == ["ListSIPInboundTrunk"] and livekit.state.calls == []
    assert livekit.state.inbound_trunks() == []


def test_an_unreachable_livekit_exits_1(livekit, monkeypatch, capsys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("LIVEKIT_URL", closed)
    reset_settings_cache()

    code, _, err = setup(capsys)

    assert code == 1
    assert f"could not reach LiveKit at {closed}" in err


def test_a_livekit_that_never_answers_is_cut_off(livekit, monkeypatch):
    """A server that accepts the connection and then says nothing costs at most the deadline."""
    from voice_platform.settings import get_settings

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes the handshake; nobody ever reads or answers
        monkeypatch.setenv("LIVEKIT_URL", f"http://127.0.0.1:{silent.getsockname()[1]}")
        reset_settings_cache()
        started = time.monotonic()
        with pytest.raises(livekit_sip.LiveKitSetupError, match="did not answer in time"):
            livekit_sip.run_setup(get_settings(), ["+15550001111"], deadline=0.5)
        assert time.monotonic() - started < 3


def test_missing_settings_exit_2_and_are_named(no_livekit, capsys):
    code, _, err = setup(capsys)
    assert code == 2
    assert err.strip() == "livekit-setup: missing settings: " + ", ".join(LIVEKIT_ENV) + " (set them in .env or the environment)"

    no_livekit.setenv("LIVEKIT_URL", "http://127.0.0.1:9")
    no_livekit.setenv("LIVEKIT_API_KEY", "key")
    no_livekit.setenv("LIVEKIT_API_SECRET", "secret")
    no_livekit.setenv("LIVEKIT_SIP_USERNAME", "user")
    reset_settings_cache()
    code, _, err = setup(capsys)
    assert code == 2 and "missing settings: LIVEKIT_SIP_PASSWORD (" in err


# -- the sync the number inventory runs after a change --------------------------------------

def test_sync_is_off_without_livekit(no_livekit):
    assert livekit_sip.sync_numbers_if_configured(["+15550001111"]) is False
    assert number_inventory.sync_now() is False


def test_sync_reads_the_inventory_then_updates_the_same_trunk(client, livekit):
    """The service reads the committed numbers and hands them to the adapter."""
    admin = signup(client, "lk")
    first_number, new_number = unique_phone(), unique_phone()
    register(admin.org_id, first_number)

    assert number_inventory.sync_now() is True
    trunk, rule = only_trunk_and_rule(livekit)
    assert list(trunk.numbers) == [first_number]

    register(admin.org_id, new_number)
    assert number_inventory.sync_now() is True
    updated, same_rule = only_trunk_and_rule(livekit)
    assert updated.sip_trunk_id == trunk.sip_trunk_id and same_rule == rule
    assert sorted(updated.numbers) == sorted([first_number, new_number])


def test_a_number_registered_through_the_service_reaches_the_trunk(client, livekit, capsys):
    """The number inventory syncs after its commit: no `make livekit-setup` needed in between."""
    from voice_platform.db import session_scope
    from voice_platform.services.number_inventory import ensure_registered, wait_for_trunk_sync

    admin = signup(client, "lk")
    register(admin.org_id, unique_phone())
    assert setup(capsys)[0] == 0
    trunk, _ = only_trunk_and_rule(livekit)
    new_number = unique_phone()

    with session_scope() as session:
        ensure_registered(session, uuid.UUID(admin.org_id), new_number)

    assert wait_for_trunk_sync(15) is True  # in the background: the commit did not wait for LiveKit
    updated, _ = only_trunk_and_rule(livekit)
    assert updated.sip_trunk_id == trunk.sip_trunk_id and new_number in updated.numbers


def test_sync_takes_the_callers_numbers(livekit):
    """The adapter sends the numbers it is given, sorted; it reads no database."""
    assert livekit_sip.sync_numbers_if_configured(["+15550002222", "+15550001111"]) is True
    trunk, _ = only_trunk_and_rule(livekit)
    assert list(trunk.numbers) == ["+15550001111", "+15550002222"]


def test_sync_never_raises_and_warns(livekit, monkeypatch, caplog):
    monkeypatch.setenv("LIVEKIT_API_SECRET", "not-the-secret-" + "w" * 32)
    reset_settings_cache()
    with caplog.at_level(logging.WARNING, logger=livekit_sip.__name__):
        assert livekit_sip.sync_numbers_if_configured(["+15550001111"]) is False
    assert "refused the credentials" in caplog.text
    assert livekit.state.inbound_trunks() == []


def test_sync_warns_when_the_sip_credentials_are_unset(livekit, monkeypatch, caplog):
    """Without them the trunk would take INVITEs from anyone, so nothing is sent."""
    monkeypatch.delenv("LIVEKIT_SIP_PASSWORD")
    reset_settings_cache()
    with caplog.at_level(logging.WARNING, logger=livekit_sip.__name__):
        assert livekit_sip.sync_numbers_if_configured(["+15550001111"]) is False
    assert "LIVEKIT_SIP_PASSWORD" in caplog.text
    assert livekit.state.calls == []


# -- the plan, without LiveKit ---------------------------------------------------------------

TARGET = SipTarget(numbers=("+15550001111",), auth_username="u", auth_password="p", room_prefix="call-", agent_name=AGENT)


def test_plan_creates_then_finds_by_name():
    step = plan_trunk(TARGET, [])
    assert (step.action, step.object_id) == ("created", None)
    installed = sip.SIPInboundTrunkInfo()
    installed.CopyFrom(step.info)
    installed.sip_trunk_id = "ST_1"
    other = sip.SIPInboundTrunkInfo(sip_trunk_id="ST_0", name="someone else's", numbers=["+15559990000"])

    again = plan_trunk(TARGET, [other, installed])
    assert (again.action, again.object_id) == ("unchanged", "ST_1")

    more = plan_trunk(SipTarget(**{**TARGET.__dict__, "numbers": ("+15550001111", "+15550003333")}), [other, installed])
    assert (more.action, more.object_id) == ("updated", "ST_1")
    assert list(more.info.numbers) == ["+15550001111", "+15550003333"]


def test_plan_rule_points_at_the_trunk():
    step = plan_rule(TARGET, "ST_1", [])
    assert step.action == "created"
    assert list(step.info.trunk_ids) == ["ST_1"]
    installed = sip.SIPDispatchRuleInfo()
    installed.CopyFrom(step.info)
    installed.sip_dispatch_rule_id = "SDR_1"

    assert plan_rule(TARGET, "ST_1", [installed]).action == "unchanged"
    moved = plan_rule(TARGET, "ST_2", [installed])
    assert (moved.action, moved.object_id, list(moved.info.trunk_ids)) == ("updated", "SDR_1", ["ST_2"])
