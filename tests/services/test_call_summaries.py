"""E-mailed call summaries: subscriptions, the mail rows written with the analysis, the sender's
lease, one-click unsubscribe. Mail goes to a real SMTP server on 127.0.0.1, the model is the fake
Gemini text API, the database is PostgreSQL."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlmodel import select

from tests.fakes.smtp_server import mail_configured, smtp_server  # noqa: F401 - fixtures
from tests.support.analysis import (CALLER, analysis_status, ended_call, gemini_text,  # noqa: F401
                                    org_with_agent)
from tests.support.waiting import until
from voice_platform.db import session_scope
from voice_platform.errors import NotFound, PermissionDenied
from voice_platform.models import CallSummaryMail, User
from voice_platform.services import agents, api_keys, auth, call_analysis, call_summaries, organizations


def _member(org, prefix: str = "member", role: str = "member") -> User:
    with session_scope() as session:
        signed, _ = auth.signup(session, email=f"{prefix}-{uuid.uuid4().hex[:8]}@example.com",
                                password="correct horse battery")
        organizations.add_member(session, session.get(User, org.user_id), org.org_id, email=signed.user.email,
                                 role=role)
        return signed.user


def _subscribe(user_id, org_id, agent_ids=None):
    with session_scope() as session:
        return call_summaries.subscribe(session, session.get(User, user_id), org_id, agent_ids)


def _analysed(call_id) -> bool:
    call_analysis.analyse_due_once()
    return analysis_status(call_id) == "done"


def _mails() -> list[CallSummaryMail]:
    with session_scope() as session:
        return list(session.exec(select(CallSummaryMail)).all())


def test_subscribing_for_all_or_some_agents_and_unsubscribing(test_database):
    org = org_with_agent()
    member = _member(org)
    with session_scope() as session:
        actor = session.get(User, member.id)
        assert call_summaries.get_subscription(session, actor, org.org_id).subscribed is False
    assert _subscribe(member.id, org.org_id).agent_ids is None
    chosen = _subscribe(member.id, org.org_id, [str(org.agent_id), str(org.agent_id)])  # the same one twice
    assert chosen.subscribed and chosen.agent_ids == [org.agent_id]
    other = org_with_agent(prefix="other")
    with pytest.raises(NotFound):  # another organization's agent is unknown here
        _subscribe(member.id, org.org_id, [str(other.agent_id)])
    with pytest.raises(NotFound):  # and so is the organization itself
        _subscribe(member.id, other.org_id)
    with session_scope() as session:
        call_summaries.unsubscribe(session, session.get(User, member.id), org.org_id)
        assert call_summaries.get_subscription(session, session.get(User, member.id), org.org_id).subscribed is False


def test_an_api_key_has_no_inbox(test_database):
    org = org_with_agent()
    with session_scope() as session:
        created = api_keys.create_key(session, session.get(User, org.user_id), org.org_id, name="crm", role="org_admin")
    with session_scope() as session, pytest.raises(PermissionDenied):
        key_actor = api_keys.actor_from_token(session, created.secret)
        call_summaries.subscribe(session, key_actor, org.org_id, None)


async def test_an_analysed_phone_call_is_mailed_to_who_wants_it_and_unsubscribing_is_one_click(
        test_database, client, gemini_text, mail_configured):
    org = org_with_agent()
    all_agents, this_agent, other_agent, not_subscribed = (_member(org, p) for p in ("all", "this", "other", "none"))
    with session_scope() as session:
        second = agents.create_agent(session, session.get(User, org.user_id), org.org_id, {"name": "Sales"})
    _subscribe(all_agents.id, org.org_id)
    _subscribe(this_agent.id, org.org_id, [str(org.agent_id)])
    _subscribe(other_agent.id, org.org_id, [str(second.id)])

    test_chat = ended_call(org)  # a test chat is analysed, never mailed
    phone = ended_call(org, phone=True, duration=95.0)
    await until(lambda: _analysed(phone) and _analysed(test_chat), timeout=20)
    assert {m.user_id for m in _mails()} == {all_agents.id, this_agent.id}
    call_summaries.send_due_once()  # (the loop, if it runs in this process, may send them first)

    [received] = mail_configured.wait_for(all_agents.email)
    mail_configured.wait_for(this_agent.email)
    assert mail_configured.messages_to(other_agent.email) == mail_configured.messages_to(not_subscribed.email) == []
    assert received.subject == f"Call summary: Front desk, {CALLER}"
    text = received.text
    assert f"Front desk took a call from {CALLER}" in text and "(1 min 35 s)" in text
    assert "The caller asked about parking." in text and "Succeeded: The caller got the answer they wanted." in text
    assert "party_size: 2" in text and received.link("/calls/").endswith(f"/calls/{phone}")
    # the mail server has it before its sender commits "sent" (the loop's sender may be the one)
    await until(lambda: {m.status for m in _mails()} == {"sent"}, timeout=10)

    link = received.link("/api/v1/call-summaries/unsubscribe?token=")
    page = client.get(link)  # no sign-in
    assert page.status_code == 200 and "You are unsubscribed" in page.text and "analysis org" in page.text
    assert client.get(link).status_code == 200  # a second click is fine
    with session_scope() as session:
        assert not call_summaries.get_subscription(session, session.get(User, all_agents.id), org.org_id).subscribed
    forged = client.get("/api/v1/call-summaries/unsubscribe", params={"token": "not-a-token"})
    assert forged.status_code == 403 and "invalid or has expired" in forged.text

    # RFC 8058: the mail client's own Unsubscribe button POSTs to List-Unsubscribe
    assert received.message["List-Unsubscribe"] == f"<{link}>"
    assert received.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    _subscribe(all_agents.id, org.org_id)  # subscribed again, then one click in the mail client
    one_click = client.post(link, content="List-Unsubscribe=One-Click",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert one_click.status_code == 200 and "You are unsubscribed" in one_click.text
    with session_scope() as session:
        assert not call_summaries.get_subscription(session, session.get(User, all_agents.id), org.org_id).subscribed
    forged = client.post("/api/v1/call-summaries/unsubscribe", params={"token": "not-a-token"},
                         content="List-Unsubscribe=One-Click")
    assert forged.status_code == 403


async def test_no_mail_for_who_left_nor_without_smtp(test_database, gemini_text, mail_configured, monkeypatch):
    from voice_platform.models import CallSession
    from voice_platform.settings import reset_settings_cache

    org = org_with_agent()
    leaver, stayer = _member(org, "leaver"), _member(org, "stayer")
    _subscribe(leaver.id, org.org_id)
    with session_scope() as session:
        organizations.remove_member(session, session.get(User, org.user_id), org.org_id, leaver.id)
    phone = ended_call(org, phone=True)
    await until(lambda: _analysed(phone), timeout=20)
    assert _mails() == []  # not queued for who may no longer read the calls
    with session_scope() as session:  # one queued while they could, then they left: not sent
        session.add(CallSummaryMail(call_session_id=phone, user_id=stayer.id))
        organizations.remove_member(session, session.get(User, org.user_id), org.org_id, stayer.id)
    call_summaries.send_due_once()
    assert [(m.status, m.error) for m in _mails()] == [("failed", "no longer subscribed")]
    assert mail_configured.messages_to(stayer.email) == []

    _subscribe(org.user_id, org.org_id)
    monkeypatch.delenv("SMTP_HOST")
    reset_settings_cache()
    again = ended_call(org, phone=True)
    await until(lambda: _analysed(again), timeout=20)
    with session_scope() as session:
        assert call_summaries.queue_for(session, session.get(CallSession, again)) == 0
    assert len(_mails()) == 1  # nothing queued without SMTP


def test_two_senders_never_send_one_mail_twice(test_database, mail_configured):
    org = org_with_agent()
    readers = [_member(org, f"reader{i}") for i in range(5)]
    phone = ended_call(org, phone=True)
    with session_scope() as session:
        for reader in readers:
            call_summaries.subscribe(session, session.get(User, reader.id), org.org_id, None)
        from voice_platform.models import CallSession

        call = session.get(CallSession, phone)
        call.analysis = {"summary": "Short.", "data": {}, "success": None, "sentiment": "neutral"}
        session.add(call)
        session.flush()
        assert call_summaries.queue_for(session, call) == 5
    senders = [threading.Thread(target=call_summaries.send_due_once) for _ in range(2)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(timeout=60)
    for reader in readers:
        assert len(mail_configured.wait_for(reader.email)) == 1
    assert len(mail_configured.received) == 5
