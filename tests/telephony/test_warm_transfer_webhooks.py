"""A warm transfer played as Twilio plays it: the caller's hold, the waitUrl, the person's call placed
through the real twilio Client on the fake Twilio, the whisper, the digit, the person's status, each
request signed over the URL the platform gave; and the spans, one per stage."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import update

from tests.fakes.twilio_rest import PUBLIC_URL, twilio  # noqa: F401 - fixture
from tests.support.warm_transfer import (  # noqa: F401 - fixture
    BRIEFING, PERSON, caller_updates, post_signed, row, sip_headers, sip_settings, stages, warm_call,
)
from tests.telemetry.support import reset_telemetry
from voice_platform import telemetry
from voice_platform.db import session_scope
from voice_platform.models import CallSession
from voice_platform.models.base import utcnow
from voice_platform.services import calls, warm_transfer, warm_transfer_legs

TRANSFER = PUBLIC_URL + "/api/v1/voice/twilio/transfer"


def _on_hold(client, fake):
    """The agent called transfer_call; Twilio put the caller in the conference and asks its waitUrl."""
    call = warm_call(client, fake)
    warm_transfer_legs.start(call.session_id, BRIEFING)
    hold = caller_updates(fake, call.call_sid)[0].find("Dial/Conference")
    music = post_signed(fake, client, hold.get("waitUrl"), CallSid=call.call_sid, ConferenceSid="CF1")
    return call, hold, music


def _person(fake) -> dict:
    (placed,) = fake.placed()
    return placed


def _whispered(client, fake):
    call, hold, _music = _on_hold(client, fake)
    person = _person(fake)
    whisper = ET.fromstring(fake.answer(person["sid"], client).text)
    return call, hold, person, whisper


def test_hold_music_then_the_person_is_called_once(client, sip_settings):
    call, hold, music = _on_hold(client, sip_settings)

    assert music.status_code == 200
    root = ET.fromstring(music.text)
    assert [child.tag for child in root] == ["Say", "Play"] and root.find("Play").text.endswith(".mp3")
    person = _person(sip_settings)
    form = person["form"]
    assert (form["To"], form["From"]) == (PERSON, call.agent["phone_number"])  # the agent's number as caller id
    assert form["Url"] == f"{TRANSFER}/whisper?session={call.session_id}&attempt=1"
    assert form["StatusCallback"] == f"{TRANSFER}/person-status?session={call.session_id}&attempt=1"
    assert form["Timeout"] == "20" and person["events"] == ["completed"]
    assert row(call.session_id).transfer["person_call_sid"] == person["sid"]
    again = ET.fromstring(post_signed(sip_settings, client, hold.get("waitUrl"), CallSid=call.call_sid).text)
    assert [child.tag for child in again] == ["Play"] and len(sip_settings.placed()) == 1  # music, no second call


def test_the_person_hears_the_briefing_and_is_asked_to_press_1(client, sip_settings):
    call, _hold, _person_call, whisper = _whispered(client, sip_settings)

    gather = whisper.find("Gather")
    assert (gather.get("numDigits"), gather.get("timeout")) == ("1", "10")
    assert gather.get("action") == f"{TRANSFER}/accept?session={call.session_id}&attempt=1"
    said = " ".join(say.text for say in gather.findall("Say"))
    assert BRIEFING in said and "Press 1" in said
    assert [child.tag for child in whisper][-1] == "Hangup"  # nothing pressed: a goodbye, never silence
    assert stages(call.session_id) == ["holding", "calling_person", "briefing"]


def test_pressing_1_bridges_the_person_into_the_callers_conference(client, sip_settings):
    call, hold, person, whisper = _whispered(client, sip_settings)

    accepted = post_signed(sip_settings, client, whisper.find("Gather").get("action"), CallSid=person["sid"], Digits="1")

    conference = ET.fromstring(accepted.text).find("Dial/Conference")
    assert conference.text == hold.text  # the same conference: bridged
    assert conference.get("startConferenceOnEnter") == "true" and conference.get("endConferenceOnExit") == "true"
    stored = row(call.session_id)
    assert (stored.status, stored.end_reason) == ("completed", "transferred")
    assert stages(call.session_id) == ["holding", "calling_person", "briefing", "accepted"]
    sip_settings.status(person["sid"], "completed", client, duration=60)  # the person hangs up later: nothing changes
    assert len(caller_updates(sip_settings, call.call_sid)) == 1 and stages(call.session_id)[-1] == "accepted"


@pytest.mark.parametrize("digits", ["2", ""])
def test_declining_sends_the_caller_back_to_the_agent_with_the_session(client, sip_settings, digits):
    call, _hold, person, whisper = _whispered(client, sip_settings)

    declined = post_signed(sip_settings, client, whisper.find("Gather").get("action"), CallSid=person["sid"],
                           Digits=digits)

    assert [child.tag for child in ET.fromstring(declined.text)] == ["Say", "Hangup"]
    back = caller_updates(sip_settings, call.call_sid)[-1]
    headers = sip_headers(back)
    assert headers["X-Vp-Session"] == str(call.session_id)
    assert back.find("Dial/Sip").text.startswith(f"sip:{call.agent['phone_number']}@")  # the trunk's number
    with session_scope() as session:  # the token the worker gets is valid, once
        assert warm_transfer.resume(session, call.session_id, headers["X-Vp-Resume"]).status == "active"
    assert stages(call.session_id) == ["holding", "calling_person", "briefing", "declined", "returned", "resumed"]
    sip_settings.status(person["sid"], "completed", client, duration=15)  # then the person's call ends: settled already
    assert len(caller_updates(sip_settings, call.call_sid)) == 2


@pytest.mark.parametrize("status", ["no-answer", "busy", "failed"])
def test_no_answer_sends_the_caller_back(client, sip_settings, status):
    call, _hold, _music = _on_hold(client, sip_settings)
    person = _person(sip_settings)

    sip_settings.status(person["sid"], status, client)

    headers = sip_headers(caller_updates(sip_settings, call.call_sid)[-1])
    assert headers["X-Vp-Resume"] == warm_transfer.resume_token(call.session_id, 1)
    outcome = {"no-answer": "no_answer", "busy": "no_answer", "failed": "failed"}[status]
    assert stages(call.session_id) == ["holding", "calling_person", outcome, "returned"]
    assert row(call.session_id).transfer["stages"][2]["status"] == status


def test_twilio_refusing_the_persons_call_sends_the_caller_back(client, sip_settings, monkeypatch):
    monkeypatch.setattr(sip_settings, "_create_call", lambda form, lists: (400, {
        "code": 21215, "message": "Geo permission configuration is not permitting call", "more_info": "",
        "status": 400}))
    call, _hold, music = _on_hold(client, sip_settings)

    assert music.status_code == 200
    assert sip_headers(caller_updates(sip_settings, call.call_sid)[-1])["X-Vp-Session"] == str(call.session_id)
    assert stages(call.session_id) == ["holding", "calling_person", "failed", "returned"]


def test_a_transfer_left_undecided_too_long_gives_up(client, sip_settings):
    call, hold, _music = _on_hold(client, sip_settings)
    transfer = row(call.session_id).transfer
    with session_scope() as session:
        session.execute(update(CallSession).where(CallSession.id == call.session_id).values(
            transfer={**transfer, "held_at": (utcnow() - timedelta(minutes=3)).isoformat()}))

    post_signed(sip_settings, client, hold.get("waitUrl"), CallSid=call.call_sid)  # the music ended: asked again

    assert stages(call.session_id)[-2:] == ["no_answer", "returned"]
    assert "X-Vp-Resume" in sip_headers(caller_updates(sip_settings, call.call_sid)[-1])


def test_a_caller_who_hung_up_on_hold_is_not_put_through(client, sip_settings):
    call, hold, person, _whisper = _whispered(client, sip_settings)
    with session_scope() as session:  # the caller's own status callback closed the session
        calls.finish_session(session, call.session_id, reason="caller_hangup")

    pressed = post_signed(sip_settings, client, f"{TRANSFER}/accept?session={call.session_id}&attempt=1",
                          CallSid=person["sid"], Digits="1")

    assert ET.fromstring(pressed.text).find("Dial") is None and "no longer waiting" in pressed.text
    assert row(call.session_id).end_reason == "caller_hangup"
    waiting = post_signed(sip_settings, client, hold.get("waitUrl"), CallSid=call.call_sid)
    assert [child.tag for child in ET.fromstring(waiting.text)] == ["Say", "Hangup"]


def test_callbacks_of_another_attempt_or_unsigned_change_nothing(client, sip_settings):
    call, _hold, person, _whisper = _whispered(client, sip_settings)
    stale = post_signed(sip_settings, client, f"{TRANSFER}/accept?session={call.session_id}&attempt=7",
                        CallSid=person["sid"], Digits="1")
    assert "no longer waiting" in stale.text
    unsigned = client.post(f"/api/v1/voice/twilio/transfer/accept?session={call.session_id}&attempt=1",
                           data={"Digits": "1", "CallSid": person["sid"]})
    assert unsigned.status_code == 403
    assert row(call.session_id).status == "active" and stages(call.session_id)[-1] == "briefing"


def test_one_span_per_stage_in_the_calls_trace(client, sip_settings):
    spans = InMemorySpanExporter()
    reset_telemetry()
    telemetry.setup("web", span_exporter=spans, metric_reader=InMemoryMetricReader())
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    try:
        call = warm_call(client, sip_settings)
        with session_scope() as session:  # the incoming webhook's span, kept on the session
            session.execute(update(CallSession).where(CallSession.id == call.session_id)
                            .values(trace_context=f"00-{trace_id}-00f067aa0ba902b7-01"))
        warm_transfer_legs.start(call.session_id, BRIEFING)
        wait = caller_updates(sip_settings, call.call_sid)[0].find("Dial/Conference").get("waitUrl")
        post_signed(sip_settings, client, wait, CallSid=call.call_sid)
        person = _person(sip_settings)
        whisper = ET.fromstring(sip_settings.answer(person["sid"], client).text)
        post_signed(sip_settings, client, whisper.find("Gather").get("action"), CallSid=person["sid"], Digits="9")
        with session_scope() as session:
            warm_transfer.resume(session, call.session_id, warm_transfer.resume_token(call.session_id, 1))
        telemetry.installed().tracer_provider.force_flush()
        ours = [s for s in spans.get_finished_spans() if s.name.startswith("call.transfer.")]
        names = [s.name for s in ours]
    finally:
        reset_telemetry()
    assert {format(s.context.trace_id, "032x") for s in ours} == {trace_id}
    assert all("+1" not in str(dict(s.attributes)) and BRIEFING not in str(dict(s.attributes)) for s in ours)
    assert names == [f"call.transfer.{stage}" for stage in
                     ("holding", "calling_person", "briefing", "declined", "returned", "resumed")]


def test_the_caller_on_hold_hears_the_agents_own_music(client, sip_settings):
    call = warm_call(client, sip_settings)
    twilio_default = ET.fromstring(_wait(client, sip_settings, call, 1).text).find("Play").text
    music = "https://cdn.example.com/bright-smiles/hold.mp3?v=2"
    r = client.put(f"/api/v1/agents/{call.agent['id']}", json={"hold_music_url": music}, headers=call.admin.headers)
    assert r.status_code == 200 and r.json()["hold_music_url"] == music
    assert ET.fromstring(_wait(client, sip_settings, call, 1).text).find("Play").text == twilio_default  # attempt 1 keeps its music
    _in_session(warm_transfer.settle, call.session_id, 1, warm_transfer.RESUMED,  # back with the agent
                from_states=warm_transfer.WAITING)
    played = ET.fromstring(_wait(client, sip_settings, call, 2).text)  # the next attempt plays the agent's
    assert [child.tag for child in played] == ["Say", "Play"] and played.find("Play").text == music
    assert "hold_music" not in (client.get(f"/api/v1/calls/{call.session_id}", headers=call.admin.headers)
                                .json()["transfer"] or {})  # not shown: only the stages are


def _wait(client, fake, call, attempt: int):
    """Start transfer ``attempt`` (when it is not under way) and ask its waitUrl as Twilio does."""
    if (row(call.session_id).transfer or {}).get("attempt") != attempt:
        warm_transfer_legs.start(call.session_id, BRIEFING)
    hold = caller_updates(fake, call.call_sid)[-1].find("Dial/Conference")
    return post_signed(fake, client, hold.get("waitUrl"), CallSid=call.call_sid, ConferenceSid="CF1")


def _in_session(fn, *args, **kwargs):
    with session_scope() as session:
        return fn(session, *args, **kwargs)
