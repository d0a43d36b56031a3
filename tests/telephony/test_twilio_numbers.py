"""Phone numbers through the services and the Twilio adapter, the real twilio Client against a fake.

Every Twilio request here crosses HTTP to tests/fakes/twilio_rest.py on 127.0.0.1, so what is
asserted is what Twilio would have received (voice URL, status callback, DELETE) and what our
database holds after each transaction committed.
"""

from __future__ import annotations

import socket
import time
import uuid

import pytest
from sqlmodel import select

from tests.fakes.twilio_rest import FakeTwilio, no_twilio, platform_on_fake, twilio  # noqa: F401 - fixtures
from voice_platform.db import session_scope
from voice_platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from voice_platform.models import PhoneNumber, User, VoiceAgent
from voice_platform.services import agents, auth, organizations
from voice_platform.services import number_inventory as inventory
from voice_platform.services import phone_numbers as numbers
from voice_platform.settings import reset_settings_cache
from voice_platform.telephony import twilio_rest

PUBLIC = "https://voice.example.com"
INCOMING = PUBLIC + "/api/v1/voice/twilio/incoming"
STATUS = PUBLIC + "/api/v1/voice/twilio/status"


def _org(prefix: str) -> tuple[User, uuid.UUID]:
    with session_scope() as s:
        signed, org = auth.signup(s, email=f"{prefix}-{uuid.uuid4().hex[:8]}@example.com", password="long enough pw",
                                  organization_name=prefix)
        return signed.user, org.id


def _member(admin: User, org_id: uuid.UUID) -> User:
    user, _ = _org("member")
    with session_scope() as s:
        organizations.add_member(s, admin, org_id, email=user.email, role="member")
    return user


def _agent(user: User, org_id: uuid.UUID, name: str = "Front desk", phone: str | None = None) -> uuid.UUID:
    with session_scope() as s:
        return agents.create_agent(s, user, org_id, {"name": name, "phone_number": phone}).id


def _phone_of(agent_id: uuid.UUID) -> str | None:
    with session_scope() as s:
        return s.get(VoiceAgent, agent_id).phone_number


def _buy(user: User, org_id: uuid.UUID, e164: str) -> PhoneNumber:
    with session_scope() as s:
        return numbers.buy(s, user, org_id, e164)


def _number() -> str:
    return "+1415" + str(uuid.uuid4().int)[:7]


# --- search and buy -------------------------------------------------------------------
def test_search_filters_by_country_area_code_and_digits(twilio):
    admin, org = _org("search")
    for e164 in ("+14155550100", "+14155551234", "+12125551234"):
        twilio.offer(e164)
    twilio.offer("+442071234567", locality="London", region="London", iso_country="GB")

    with session_scope() as s:
        in_sf = numbers.search_available(s, admin, org, country="US", area_code="415")
        with_1234 = numbers.search_available(s, admin, org, country="us", contains="1234")
        in_gb = numbers.search_available(s, admin, org, country="GB")
        with pytest.raises(ValidationFailed) as bad:
            numbers.search_available(s, admin, org, area_code="4x5")

    assert [n.e164 for n in in_sf] == ["+14155550100", "+14155551234"]
    assert in_sf[0].friendly_name == "(415) 555-0100" and in_sf[0].locality == "San Francisco"
    assert [n.e164 for n in with_1234] == ["+14155551234", "+12125551234"]
    assert [(n.e164, n.iso_country) for n in in_gb] == [("+442071234567", "GB")]
    assert bad.value.field == "area_code"
    (first, *_) = twilio.requests_to("GET", "/AvailablePhoneNumbers/US/Local.json")
    assert first["query"]["AreaCode"] == "415"


def test_buy_points_the_number_at_us(twilio):
    admin, org = _org("buyer")
    twilio.offer("+14155550100")

    bought = _buy(admin, org, "+1 (415) 555-0100")

    (created,) = twilio.requests_to("POST", "/IncomingPhoneNumbers.json")
    assert created["form"] == {"PhoneNumber": "+14155550100", "VoiceUrl": INCOMING, "VoiceMethod": "POST",
                               "StatusCallback": STATUS, "StatusCallbackMethod": "POST"}
    record = twilio.incoming[bought.provider_sid]
    assert (record["voice_url"], record["status_callback"]) == (INCOMING, STATUS)
    with session_scope() as s:
        (view,) = numbers.list_numbers(s, admin, org)
    assert (view.number.e164, view.number.source, view.agent_id) == ("+14155550100", "twilio", None)
    assert view.number.friendly_name == "(415) 555-0100"


def test_a_number_twilio_no_longer_offers_is_a_clear_502(twilio):
    admin, org = _org("late")
    with pytest.raises(twilio_rest.TwilioUnavailable) as refused:
        _buy(admin, org, "+14155550199")
    assert refused.value.status_code == 502
    assert "PhoneNumber requested is not available" in refused.value.message
    with session_scope() as s:
        assert numbers.list_numbers(s, admin, org) == []


# --- import --------------------------------------------------------------------------
def test_import_lists_the_accounts_unknown_numbers_and_repoints_them(twilio):
    admin, org = _org("importer")
    other_admin, other_org = _org("neighbour")
    first = twilio.own("+14155550111")
    second = twilio.own("+14155550122")
    twilio.own("+14155550133")
    _agent(other_admin, other_org, phone="+14155550133")  # typed in by another organization

    with session_scope() as s:
        listed = numbers.importable(s, admin, org)
    assert sorted(n.e164 for n in listed) == ["+14155550111", "+14155550122"]
    assert {n.voice_url for n in listed} == {"https://old-provider.example.com/voice"}

    with session_scope() as s:
        by_number = numbers.import_number(s, admin, org, phone_number="+14155550111")
    with session_scope() as s:
        by_sid = numbers.import_number(s, admin, org, sid=second)
    assert (by_number.provider_sid, by_sid.e164) == (first, "+14155550122")
    for sid in (first, second):
        assert (twilio.incoming[sid]["voice_url"], twilio.incoming[sid]["status_callback"]) == (INCOMING, STATUS)
        assert twilio.incoming[sid]["voice_method"] == "POST"
    with session_scope() as s:
        assert numbers.importable(s, admin, org) == []
        with pytest.raises(Conflict):
            numbers.import_number(s, admin, org, sid=first)  # already ours
        with pytest.raises(NotFound):
            numbers.import_number(s, admin, org, phone_number="+14155550999")  # the account has no such number


def test_importing_a_typed_in_number_makes_it_a_twilio_number(twilio):
    admin, org = _org("upgrade")
    agent = _agent(admin, org, phone="+14155550144")
    sid = twilio.own("+14155550144")

    with session_scope() as s:
        imported = numbers.import_number(s, admin, org, phone_number="+14155550144")

    assert (imported.source, imported.provider_sid) == ("twilio", sid)
    assert twilio.incoming[sid]["voice_url"] == INCOMING
    assert _phone_of(agent) == "+14155550144"  # still reaches the same agent


# --- assignment -------------------------------------------------------------------------
def test_assign_moves_the_number_and_unassign_clears_it(twilio):
    admin, org = _org("assigner")
    twilio.offer("+14155550155")
    number = _buy(admin, org, "+14155550155")
    first, second = _agent(admin, org, "First"), _agent(admin, org, "Second")

    with session_scope() as s:
        numbers.assign(s, admin, number.id, first)
    assert _phone_of(first) == "+14155550155"
    with session_scope() as s:
        numbers.assign(s, admin, number.id, second)  # one number reaches one agent
    assert (_phone_of(first), _phone_of(second)) == (None, "+14155550155")
    with session_scope() as s:
        (view,) = numbers.list_numbers(s, admin, org)
        assert (view.agent_id, view.agent_name) == (second, "Second")
        assert numbers.assignable_numbers(s, admin, org) == []
        assert numbers.assignable_numbers(s, admin, org, second) == ["+14155550155"]

    with session_scope() as s:
        numbers.unassign(s, admin, number.id)
    assert _phone_of(second) is None


def test_a_number_is_assigned_only_within_its_organization(twilio):
    admin, org = _org("owner")
    twilio.offer("+14155550166")
    number = _buy(admin, org, "+14155550166")
    outsider, outsider_org = _org("outsider")
    foreign_agent = _agent(outsider, outsider_org)
    member = _member(admin, org)

    with session_scope() as s:
        with pytest.raises(NotFound):
            numbers.assign(s, admin, number.id, foreign_agent)
        with pytest.raises(NotFound):
            numbers.assign(s, outsider, number.id, foreign_agent)
        with pytest.raises(NotFound):
            numbers.list_numbers(s, outsider, org)
        with pytest.raises(PermissionDenied):
            numbers.unassign(s, member, number.id)
        assert [v.number.e164 for v in numbers.list_numbers(s, member, org)] == ["+14155550166"]
    assert _phone_of(foreign_agent) is None


# --- release -------------------------------------------------------------------------
def test_release_deletes_the_number_at_twilio_and_the_agent_loses_it(twilio):
    admin, org = _org("releaser")
    twilio.offer("+14155550177")
    number = _buy(admin, org, "+14155550177")
    agent = _agent(admin, org)
    with session_scope() as s:
        numbers.assign(s, admin, number.id, agent)

    with session_scope() as s:
        numbers.release(s, admin, number.id)

    assert len(twilio.requests_to("DELETE", f"/IncomingPhoneNumbers/{number.provider_sid}.json")) == 1
    assert number.provider_sid not in twilio.incoming
    assert _phone_of(agent) is None
    with session_scope() as s:
        assert s.get(PhoneNumber, number.id) is None
        with pytest.raises(NotFound):
            numbers.release(s, admin, number.id)


def test_a_manual_number_is_released_without_twilio(no_twilio):
    admin, org = _org("manual")
    agent = _agent(admin, org, phone="+14155550188")
    with session_scope() as s:
        (view,) = numbers.list_numbers(s, admin, org)
        assert (view.number.source, view.agent_id) == ("manual", agent)
        numbers.release(s, admin, view.number.id)
    assert _phone_of(agent) is None
    with session_scope() as s:
        assert s.exec(select(PhoneNumber).where(PhoneNumber.e164 == "+14155550188")).first() is None


def test_a_failed_twilio_release_changes_nothing(twilio):
    admin, org = _org("kept")
    twilio.offer("+14155550199")
    number = _buy(admin, org, "+14155550199")
    agent = _agent(admin, org)
    with session_scope() as s:
        numbers.assign(s, admin, number.id, agent)
    twilio.fail_with = 500

    with pytest.raises(twilio_rest.TwilioUnavailable):
        with session_scope() as s:
            numbers.release(s, admin, number.id)

    assert _phone_of(agent) == "+14155550199"
    with session_scope() as s:
        assert s.get(PhoneNumber, number.id) is not None


# --- one organization per number -------------------------------------------------------------
def test_another_organization_cannot_take_the_number(twilio):
    admin, org = _org("first")
    rival, rival_org = _org("rival")
    twilio.offer("+14155550123")
    bought = _buy(admin, org, "+14155550123")
    before = len(twilio.requests)

    with session_scope() as s:
        with pytest.raises(Conflict) as buying:
            numbers.buy(s, rival, rival_org, "+14155550123")
        with pytest.raises(Conflict):
            numbers.import_number(s, rival, rival_org, phone_number="+14155550123")
        with pytest.raises(Conflict):
            agents.create_agent(s, rival, rival_org, {"name": "Squatter", "phone_number": "+14155550123"})
    assert buying.value.message == numbers.TAKEN
    assert len(twilio.requests) == before  # refused before Twilio was asked
    with session_scope() as s:
        assert numbers.importable(s, rival, rival_org) == []  # an imported/bought number is not offered again
        assert s.get(PhoneNumber, bought.id).organization_id == org


def test_a_member_cannot_buy_or_release(twilio):
    admin, org = _org("strict")
    member = _member(admin, org)
    twilio.offer("+14155550124")
    number = _buy(admin, org, "+14155550124")
    with session_scope() as s:
        for attempt in (lambda: numbers.buy(s, member, org, "+14155550125"),
                        lambda: numbers.release(s, member, number.id),
                        lambda: numbers.search_available(s, member, org),
                        lambda: numbers.importable(s, member, org)):
            with pytest.raises(PermissionDenied):
                attempt()


# --- Twilio missing or failing ----------------------------------------------------------------
def test_without_credentials_the_error_names_the_settings(no_twilio):
    admin, org = _org("unconfigured")
    with session_scope() as s:
        assert numbers.provider_status().twilio_configured is False
        for attempt in (lambda: numbers.search_available(s, admin, org),
                        lambda: numbers.buy(s, admin, org, "+14155550126"),
                        lambda: numbers.importable(s, admin, org)):
            with pytest.raises(twilio_rest.TwilioNotConfigured) as missing:
                attempt()
            assert missing.value.status_code == 503
            assert "TWILIO_ACCOUNT_SID" in missing.value.message and "TWILIO_AUTH_TOKEN" in missing.value.message


def test_twilio_errors_and_silence_are_502_with_the_reason(twilio, monkeypatch):
    admin, org = _org("outage")
    twilio.fail_with = 503
    with session_scope() as s:
        with pytest.raises(twilio_rest.TwilioUnavailable) as failing:
            numbers.search_available(s, admin, org)
    assert failing.value.status_code == 502 and "Internal Server Error" in failing.value.message

    with FakeTwilio(twilio.account_sid, twilio.auth_token) as gone:
        pass  # started and stopped: its port now refuses connections
    monkeypatch.setenv("TWILIO_API_BASE_URL", gone.base_url)
    reset_settings_cache()
    with session_scope() as s:
        with pytest.raises(twilio_rest.TwilioUnavailable) as silent:
            numbers.importable(s, admin, org)
    assert "did not answer" in silent.value.message


def test_wrong_credentials_are_reported_as_twilios_refusal(twilio, monkeypatch):
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "not-the-token")
    reset_settings_cache()
    with pytest.raises(twilio_rest.TwilioUnavailable) as refused:
        twilio_rest.list_owned()
    assert "Authenticate" in refused.value.message


def test_update_call_twiml_gives_the_call_new_instructions(twilio):
    twilio.add_call("CA" + "1" * 32)
    twilio_rest.update_call_twiml("CA" + "1" * 32, "<Response><Hangup/></Response>")
    assert twilio.calls["CA" + "1" * 32]["twiml"] == "<Response><Hangup/></Response>"


# --- LiveKit's trunk follows the inventory -----------------------------------------------------
def test_the_trunk_is_synced_after_commit_never_after_rollback(twilio, monkeypatch):
    seen: list[list[str]] = []

    def record_inventory() -> bool:  # what the trunk sync would read: the committed inventory
        with session_scope() as s:
            seen.append(inventory.platform_numbers(s))
        return True

    monkeypatch.setattr(inventory, "sync_trunk", record_inventory)
    admin, org = _org("trunk")
    twilio.offer("+14155550131")
    twilio.offer("+14155550132")

    bought = _buy(admin, org, "+14155550131")
    assert seen == [["+14155550131"]]

    with pytest.raises(RuntimeError):
        with session_scope() as s:
            numbers.buy(s, admin, org, "+14155550132")
            raise RuntimeError("the request failed after the purchase")
    assert len(seen) == 1

    with session_scope() as s:
        numbers.release(s, admin, bought.id)
    assert seen[-1] == []


def test_without_livekit_the_trunk_sync_does_nothing_and_raises_nothing(no_twilio):
    inventory.sync_trunk()
    assert inventory.wait_for_trunk_sync(10) is False  # LiveKit unset: nothing sent, no error


def test_a_number_change_does_not_wait_for_a_livekit_that_hangs(twilio, monkeypatch):
    """LiveKit accepts the connection and never answers: the purchase answers at once, the sync
    gives up on its own within its bound, and the purchase stands."""
    from voice_platform.telephony import livekit_sip

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        for key, value in {"LIVEKIT_URL": f"http://127.0.0.1:{silent.getsockname()[1]}", "LIVEKIT_API_KEY": "key",
                           "LIVEKIT_API_SECRET": "s" * 32, "LIVEKIT_SIP_USERNAME": "twilio-bridge",
                           "LIVEKIT_SIP_PASSWORD": "digest-password-" + "p" * 16}.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setattr(livekit_sip, "SYNC_TIMEOUT_SECONDS", 1.5)
        reset_settings_cache()
        admin, org = _org("trunk-hangs")
        twilio.offer("+14155550171")
        started = time.monotonic()
        bought = _buy(admin, org, "+14155550171")
        assert time.monotonic() - started < 1.0  # the sync would have taken 1.5 s
        assert inventory.wait_for_trunk_sync(10) is False
        with session_scope() as s:
            assert [v.number.e164 for v in numbers.list_numbers(s, admin, org)] == ["+14155550171"]
        assert bought.e164 == "+14155550171"


def test_livekits_trunk_follows_buying_and_releasing(twilio, monkeypatch):
    """Through the real livekit-api client against the fake LiveKit: no `make livekit-setup` in between."""
    from tests.fakes.livekit_server import FakeLiveKit

    with FakeLiveKit() as livekit:
        for key, value in {**livekit.settings_env(), "LIVEKIT_SIP_USERNAME": "twilio-bridge",
                           "LIVEKIT_SIP_PASSWORD": "digest-password-" + "p" * 16}.items():
            monkeypatch.setenv(key, value)
        reset_settings_cache()
        admin, org = _org("trunk-live")
        twilio.offer("+14155550161")

        bought = _buy(admin, org, "+14155550161")
        assert inventory.wait_for_trunk_sync(15) is True
        (trunk,) = livekit.state.inbound_trunks()
        assert list(trunk.numbers) == ["+14155550161"]

        with session_scope() as s:
            numbers.release(s, admin, bought.id)
        assert inventory.wait_for_trunk_sync(15) is True
        (trunk,) = livekit.state.inbound_trunks()
        assert "+14155550161" not in trunk.numbers
