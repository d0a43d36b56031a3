"""``{{name}}`` placeholders: filled from the call, never leaking braces to a caller."""

from __future__ import annotations

from datetime import datetime, timezone

from voice_platform.services import placeholders


def test_known_names_are_filled_and_unknown_ones_render_empty():
    text = "Hi {{name}}, {{ name }}! Your code is {{code}}.{{missing}} Bye {{ missing_too }}"
    assert placeholders.fill(text, {"name": "Ada", "code": 42}) == "Hi Ada, Ada! Your code is 42. Bye "


def test_text_that_is_not_a_placeholder_stays_as_written():
    for text in ("{single}", "{{ two words }}", "{{}}", "{{1abc}}", "no braces at all", "{{ a-b }}"):
        assert placeholders.fill(text, {"single": "x", "1abc": "x", "a": "x"}) == text


def test_a_none_value_renders_empty_and_names_are_listed_once_in_order():
    assert placeholders.fill("[{{a}}]", {"a": None}) == "[]"
    assert placeholders.names_in("{{b}} {{a}} {{ b }} {x}") == ["b", "a"]


def test_built_in_values_describe_the_call_and_win_over_variables_of_the_same_name():
    at = datetime(2026, 12, 4, 17, 30, tzinfo=timezone.utc)
    values = placeholders.call_values(caller_number="+15550001111", agent_number="+14155550100",
                                      timezone_name="America/New_York", now=at,
                                      variables={"name": "Ada", "caller_number": "+19999999999"})
    assert values["name"] == "Ada" and values["caller_number"] == "+15550001111"
    assert values["now"] == "Friday, December 4, 2026 12:30"
    assert placeholders.call_values(caller_number=None, agent_number=None, timezone_name="Not/AZone",
                                    now=at)["now"] == "Friday, December 4, 2026 17:30"
