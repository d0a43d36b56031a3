"""The pure shaping behind the campaign and call pages: what people read for odd inputs the
browser tests do not reach (a transfer still under way, an unknown stage, a file in cp1252)."""

from __future__ import annotations

from voice_platform.state.call_transfer_view import answered_by_label, transfer_view
from voice_platform.state.campaign_form import decode, preview_row, whole
from voice_platform.state.campaigns import count_rows, window_text


def test_no_transfer_shows_nothing():
    assert transfer_view(None) == ({}, [])
    assert transfer_view({}) == ({}, [])


def test_a_transfer_under_way_and_an_unknown_stage():
    summary, rows = transfer_view({"mode": "warm", "attempt": 1, "state": "briefing", "person_number": "+15557654321",
                                   "stages": [{"stage": "holding", "at": "2026-12-06T10:00:01+00:00", "attempt": 1},
                                              {"stage": "something_new", "at": "not a time", "attempt": 1},
                                              "garbage"]})
    assert (summary["outcome"], summary["color"], summary["person"]) == ("Transfer in progress", "blue", "+15557654321")
    assert [(r["label"], r["at"], r["attempt"]) for r in rows] == [("Caller put on hold", "10:00:01", ""),
                                                                    ("something_new", "", "")]


def test_a_person_whose_call_failed_is_told_with_its_status():
    _summary, rows = transfer_view({"state": "returned", "stages": [
        {"stage": "no_answer", "at": "2026-12-06T10:00:05+00:00", "attempt": 1, "status": "no-answer"}]})
    assert rows[0]["detail"] == "their call: no answer"
    assert _summary["outcome"] == "Returning to the agent: nobody took the call"


def test_answered_by():
    assert answered_by_label(None) == ""
    assert answered_by_label("human") == "A person"
    assert answered_by_label("machine_end_beep") == "Answering machine (after the beep)"
    assert answered_by_label("robot_voice") == "robot voice"


def test_window_and_counts():
    assert window_text({"days": ["mon", "wed"], "start": "09:00", "end": "17:00"}) == "Mon, Wed 09:00–17:00"
    assert window_text({"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00",
                        "end": "24:00"}) == "Every day 00:00–24:00"
    assert [r["state"] for r in count_rows({"queued": 2, "failed": 1})] == ["queued", "failed"]
    assert len(count_rows({}, every_state=True)) == 9


def test_form_values_reach_the_service_as_typed_when_they_are_not_whole_numbers():
    assert whole(" 3 ") == 3
    assert whole("2.5") == "2.5"  # the service refuses it, in its own words
    assert whole(None) == ""
    assert decode("to,name\n+14155550101,Zoë\n".encode("cp1252")).endswith("Zoë\n")
    assert decode("\ufeffto\n".encode()) == "to\n"
    assert preview_row({"to": "+1", "variables": {"name": "Ada", "day": "Tue"}})["variables"] == "day=Tue, name=Ada"
