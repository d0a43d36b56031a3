"""The state both Google flows share: signed for one purpose, burnt once, swept a day after expiry.

The flows' own tests (tests/tools/test_oauth.py, tests/api/test_google_signin.py) go through
Google's consent round trip; these pin the shared rules on one table, directly.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from oauthlib.oauth2.rfc6749.clients.base import Client
from sqlmodel import select

from voice_platform.db import session_scope
from voice_platform.models import SigninState
from voice_platform.security import sign_payload
from voice_platform.services import oauth_state

PURPOSE = "test_oauth_state"


def _issue(ttl_seconds: float = 600) -> oauth_state.Issued:
    with session_scope() as session:
        return oauth_state.issue(session, SigninState, state_purpose=PURPOSE, ttl_seconds=ttl_seconds,
                                 claims={"p": "signin"}, purpose="signin")


def test_pkce_challenge_is_the_s256_oauthlib_computes():
    verifier, challenge = oauth_state.pkce_pair()
    assert 43 <= len(verifier) <= 128
    assert challenge == Client("client").create_code_challenge(verifier, "S256")
    assert oauth_state.pkce_pair()[0] != verifier


def test_a_state_names_its_row_and_is_burnt_once(test_database):
    issued = _issue()
    claims = oauth_state.read(issued.state, state_purpose=PURPOSE)
    assert claims["nonce"] == issued.nonce and claims["p"] == "signin"

    with session_scope() as session:
        assert oauth_state.is_pending(session, SigninState, issued.nonce, SigninState.purpose == "signin")
        assert not oauth_state.is_pending(session, SigninState, issued.nonce, SigninState.purpose == "link")
        row = session.get(SigninState, issued.nonce)
        assert issued.code_verifier not in (row.code_verifier_encrypted or "")  # encrypted at rest
        assert oauth_state.code_verifier(row) == issued.code_verifier
    with session_scope() as session:
        burnt = oauth_state.consume(session, SigninState, issued.nonce)
        assert burnt is not None and burnt.consumed_at is not None
    with session_scope() as session:
        assert oauth_state.consume(session, SigninState, issued.nonce) is None
        assert not oauth_state.is_pending(session, SigninState, issued.nonce)


def test_a_state_of_another_purpose_or_forged_is_refused(test_database):
    issued = _issue()
    with pytest.raises(oauth_state.StateInvalid):
        oauth_state.read(issued.state, state_purpose="oauth_state")
    with pytest.raises(oauth_state.StateInvalid):
        oauth_state.read(issued.state[:-2] + "xx", state_purpose=PURPOSE)
    with pytest.raises(oauth_state.StateInvalid):
        oauth_state.read(None, state_purpose=PURPOSE)
    with pytest.raises(oauth_state.StateInvalid):  # genuinely signed, but names no row
        oauth_state.read(sign_payload({"p": "signin"}, minutes=5, purpose=PURPOSE), state_purpose=PURPOSE)


def test_an_expired_row_is_not_consumed_and_is_swept_a_day_later(test_database):
    recent, old, pending = _issue(), _issue(), _issue()
    with session_scope() as session:
        for issued, age in ((recent, timedelta(hours=1)), (old, oauth_state.CLEANUP_AFTER + timedelta(minutes=1))):
            row = session.get(SigninState, issued.nonce)
            row.expires_at = oauth_state.now() - age
            session.add(row)
    with session_scope() as session:
        assert oauth_state.consume(session, SigninState, recent.nonce) is None

    _issue()  # every new flow sweeps first

    with session_scope() as session:
        left = set(session.exec(select(SigninState.nonce)).all())
    assert recent.nonce in left and pending.nonce in left and old.nonce not in left
