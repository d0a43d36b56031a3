"""The patterns the API's OpenAPI schema declares say what the services' validators accept:
whatever a generated client or fuzzer builds from the pattern, the validator takes, and what
the pattern refuses the validator refuses too (in the canonical form the pattern describes)."""

from __future__ import annotations

import re

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voice_platform.errors import ValidationFailed
from voice_platform.services import validation

E164 = re.compile(validation.e164_pattern())
NON_BLANK = re.compile(validation.NON_BLANK_PATTERN)


def _accepted_number(value: str) -> bool:
    try:
        return validation.phone_e164(value) is not None
    except ValidationFailed:
        return False


@settings(max_examples=400, deadline=None)
@given(st.from_regex(validation.e164_pattern(), fullmatch=True))
def test_every_number_the_pattern_allows_is_accepted(number):
    assert _accepted_number(number), number


@settings(max_examples=400, deadline=None)
@given(st.integers(min_value=1, max_value=999), st.text("0123456789", min_size=1, max_size=14))
def test_a_canonical_number_the_pattern_refuses_is_refused(code, national):
    number = f"+{code}{national}"
    if E164.match(number) is None and _accepted_number(number):
        # Only by forgiving a national prefix typed after the country code: then it is stored without it.
        assert validation.phone_e164(number) != number, number


@pytest.mark.parametrize("number", ["+14155550100", "+442071838750", "+4915112345678", "+81312345678"])
def test_real_numbers_match(number):
    assert E164.match(number) and phonenumbers.is_possible_number(phonenumbers.parse(number))


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=40))
def test_non_blank_pattern_is_what_required_text_accepts(value):
    try:
        validation.text(value, "name", max_length=1000, required=True)
        accepted = True
    except ValidationFailed:
        accepted = False
    assert accepted == bool(NON_BLANK.match(value)), repr(value)
