"""The incoming webhook's own form parser and signature: the same answers as the standard
library's ``parse_qsl`` and twilio's ``RequestValidator``, on what Twilio sends and on noise."""

from __future__ import annotations

import random
from urllib.parse import parse_qsl, urlencode

import pytest
from twilio.request_validator import RequestValidator

from voice_platform.api.voice import _form
from voice_platform.security import _twilio_sha1

SAMPLES = ["", "a", "a=", "=b", "&&a=1&", "a=1&a=2", "x%20y=%2B1+2&z=%E2%82%AC&bad=%zz&plus=a+b",
           urlencode({"To": "+14155550100", "Caller": "A B&C=D", "Ü": "é", "Empty": ""})]


@pytest.mark.parametrize("body", SAMPLES)
def test_form_reads_what_parse_qsl_reads(body):
    assert _form(body) == dict(parse_qsl(body, keep_blank_values=True))


def test_form_matches_parse_qsl_on_random_bodies():
    rng = random.Random(20261125)
    for _ in range(5000):
        body = "".join(rng.choice("ab=&%+2Fz ") for _ in range(rng.randint(0, 24)))
        assert _form(body) == dict(parse_qsl(body, keep_blank_values=True)), body


def test_signature_is_twilios():
    rng = random.Random(7)
    validator = RequestValidator("token-0123")
    for _ in range(200):
        params = {"".join(rng.choice("AbZ9é_") for _ in range(rng.randint(1, 6))):
                  "".join(rng.choice("+1 x&=é%") for _ in range(rng.randint(0, 8))) for _ in range(rng.randint(0, 25))}
        url = "https://voice.example.com/api/v1/voice/twilio/incoming" + rng.choice(["", "?a=1&b=%20"])
        assert _twilio_sha1("token-0123", url, params).decode() == validator.compute_signature(url, params)
