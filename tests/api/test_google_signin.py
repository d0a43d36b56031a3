"""Sign in with Google and linking, through the real ASGI app and the loopback fake Google.

Every round trip is the browser's: our authorization URL → the fake's consent page (a real
HTTP 302) → our callback → the dashboard's handoff (here: its API twin,
``POST /auth/oauth/exchange``). The ID token is RS256-signed by the fake and verified by
google-auth against the certificate the fake publishes: the real verification path.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlparse

import pytest
import requests
from sqlmodel import select

from tests.fakes.google_server import FakeGoogle
from tests.support.api import PASSWORD, signup

CALLBACK = "/api/v1/auth/oauth/google/callback"
EXISTS = "An account with this e-mail exists. Sign in with your password and link Google from your account page."


@pytest.fixture()
def google(monkeypatch, test_database) -> Iterator[FakeGoogle]:
    from voice_platform.settings import reset_settings_cache

    with FakeGoogle(idle_timeout=120) as fake:
        for key, value in fake.settings_env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake is plain HTTP on loopback
        reset_settings_cache()
        yield fake
    monkeypatch.undo()
    reset_settings_cache()


def _consent(url: str) -> dict[str, str]:
    """What the browser does at Google: the fake approves at once and sends it back to us."""
    consent = requests.get(url, allow_redirects=False, timeout=10)
    assert consent.status_code == 302, consent.text
    back = urlparse(consent.headers["Location"])
    assert back.path == CALLBACK
    return dict(parse_qsl(back.query))


def _redirect(response) -> tuple[str, dict[str, str]]:
    assert response.status_code == 303, response.text
    target = urlparse(response.headers["location"])
    return target.path, dict(parse_qsl(target.query))


def google_round_trip(client, *, binding: str | None = None, next_path: str | None = None):
    """Start → consent → callback. Returns (where the browser lands, its query, the callback's params)."""
    body = {"provider": "google", "next": next_path, "binding": binding}
    r = client.post("/api/v1/auth/oauth", json={k: v for k, v in body.items() if v is not None})
    assert r.status_code == 200, r.text
    params = _consent(r.json()["authorization_url"])
    path, query = _redirect(client.get(CALLBACK, params=params, follow_redirects=False))
    return path, query, params


def sign_in_with_google(client) -> dict:
    """The whole successful sign-in; returns the token response."""
    binding = secrets.token_urlsafe(24)
    path, query, _ = google_round_trip(client, binding=binding)
    assert path == "/signin/google", query
    r = client.post("/api/v1/auth/oauth/exchange", json={"code": query["code"], "binding": binding})
    assert r.status_code == 200, r.text
    return r.json()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _user(email: str):
    from voice_platform.db import session_scope
    from voice_platform.models import User

    with session_scope() as session:
        return session.exec(select(User).where(User.email == email)).first()


def _link(client, actor_headers: dict[str, str]):
    """Link the fake's current identity to the signed-in actor, as /account does."""
    r = client.post("/api/v1/auth/oauth/google/link", headers=actor_headers)
    assert r.status_code == 200, r.text
    params = _consent(r.json()["authorization_url"])
    path, query = _redirect(client.get(CALLBACK, params=params, follow_redirects=False))
    assert path == "/account" and query["google"] == "link", query
    return client.post("/api/v1/auth/oauth/google/link/complete", json={"state": query["state"], "code": query["code"]},
                       headers=actor_headers)


def test_new_google_user_gets_an_account_and_organization(client, google):
    email = f"new-{uuid.uuid4().hex[:8]}@gmail.example"
    google.state.use_identity(email, "sub-new-1", name="Grace Hopper")
    token = sign_in_with_google(client)
    assert token["user"]["email"] == email
    headers = _bearer(token["access_token"])

    me = client.get("/api/v1/auth/user", headers=headers)
    assert me.status_code == 200 and me.json()["full_name"] == "Grace Hopper"
    orgs = client.get("/api/v1/organizations", headers=headers).json()
    assert len(orgs) == 1 and orgs[0]["role"] == "org_admin" and orgs[0]["name"] == "Grace Hopper's organization"
    user = _user(email)
    assert user.google_subject == "sub-new-1" and user.google_email == email
    # no password to guess: the account's hash verifies nothing
    r = client.post("/api/v1/auth/signin", json={"email": email, "password": PASSWORD})
    assert r.status_code == 401
    status = client.get("/api/v1/auth/oauth/google", headers=headers).json()
    assert status == {"linked": True, "google_email": email, "has_password": False}
    # unlinking would lock the account out
    r = client.delete("/api/v1/auth/oauth/google/link", headers=headers)
    assert r.status_code == 409 and "no password" in r.json()["detail"]


def test_google_made_account_sets_its_first_password_without_a_current_one(client, google):
    """POST /auth/password without ``current_password``: the first password; then e-mail sign-in works."""
    email = f"first-pw-{uuid.uuid4().hex[:8]}@gmail.example"
    google.state.use_identity(email, "sub-first-pw")
    token = sign_in_with_google(client)["access_token"]
    other = sign_in_with_google(client)["access_token"]  # a second browser, signed in before
    headers = _bearer(token)

    weak = client.post("/api/v1/auth/password", json={"new_password": "short"}, headers=headers)
    assert weak.status_code == 422
    assert weak.json()["detail"][0]["loc"][-1] == "new_password" and "at least 8" in weak.json()["detail"][0]["msg"]
    wrong = client.post("/api/v1/auth/password", json={"current_password": "a guess", "new_password": "a new secret 1"},
                        headers=headers)  # there is no current password to be right about
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"][-1] == "current_password"
    assert client.get("/api/v1/auth/oauth/google", headers=headers).json()["has_password"] is False

    done = client.post("/api/v1/auth/password", json={"new_password": "a new secret 1"}, headers=headers)
    assert done.status_code == 200, done.text
    fresh = _bearer(done.json()["access_token"])
    for old in (token, other):  # this request's old token and the other browser's
        assert client.get("/api/v1/auth/user", headers=_bearer(old)).status_code == 401
    assert client.get("/api/v1/auth/oauth/google", headers=fresh).json() == {
        "linked": True, "google_email": email, "has_password": True}
    signed_in = client.post("/api/v1/auth/signin", json={"email": email, "password": "a new secret 1"})
    assert signed_in.status_code == 200 and signed_in.json()["user"]["email"] == email
    fresh = _bearer(signed_in.json()["access_token"])

    again = client.post("/api/v1/auth/password", json={"new_password": "another secret 2"}, headers=fresh)
    assert again.status_code == 422 and again.json()["detail"][0]["loc"][-1] == "current_password"
    assert "already has a password" in again.json()["detail"][0]["msg"]
    assert client.delete("/api/v1/auth/oauth/google/link", headers=fresh).status_code == 200  # a password is left


def test_linked_user_signs_in_even_after_the_google_email_changed(client, google):
    email = f"linked-{uuid.uuid4().hex[:8]}@gmail.example"
    google.state.use_identity(email, "sub-linked")
    first = sign_in_with_google(client)
    google.state.use_identity(f"renamed-{uuid.uuid4().hex[:8]}@gmail.example", "sub-linked")
    second = sign_in_with_google(client)
    assert second["user"]["id"] == first["user"]["id"]
    assert client.get("/api/v1/auth/user", headers=_bearer(second["access_token"])).status_code == 200


def test_verified_email_of_an_unlinked_account_is_refused(client, google):
    owner = signup(client, "owner")
    google.state.use_identity(owner.email.upper(), "sub-attacker")  # case does not help either
    path, query, _ = google_round_trip(client, binding=secrets.token_urlsafe(24))
    assert (path, query) == ("/signin", {"google_error": "email_exists"})
    from voice_platform.services.google_signin import message

    assert message(query["google_error"]) == EXISTS
    assert _user(owner.email).google_subject is None


def test_unverified_email_is_refused_and_creates_nothing(client, google):
    email = f"unverified-{uuid.uuid4().hex[:8]}@example.com"
    google.state.use_identity(email, "sub-unverified", verified=False)
    path, query, _ = google_round_trip(client, binding=secrets.token_urlsafe(24))
    assert (path, query) == ("/signin", {"google_error": "unverified"})
    assert _user(email) is None


def test_state_and_handoff_work_once(client, google):
    google.state.use_identity(f"once-{uuid.uuid4().hex[:8]}@gmail.example", "sub-once")
    binding = secrets.token_urlsafe(24)
    path, query, params = google_round_trip(client, binding=binding)
    assert path == "/signin/google"
    # the callback replayed (same state, even with a fresh code) is refused
    replay = client.get(CALLBACK, params={**params, "code": "4/another"}, follow_redirects=False)
    assert _redirect(replay) == ("/signin", {"google_error": "state"})
    # the handoff needs the binding of the browser that started, and works once
    wrong = client.post("/api/v1/auth/oauth/exchange", json={"code": query["code"], "binding": "x" * 24})
    assert wrong.status_code == 403 and wrong.json()["reason"] == "handoff"
    assert client.post("/api/v1/auth/oauth/exchange", json={"code": query["code"]}).status_code == 403
    ok = client.post("/api/v1/auth/oauth/exchange", json={"code": query["code"], "binding": binding})
    assert ok.status_code == 200
    again = client.post("/api/v1/auth/oauth/exchange", json={"code": query["code"], "binding": binding})
    assert again.status_code == 403


def test_forged_or_missing_state_and_declined_consent_land_on_signin(client, google):
    for params in ({}, {"state": "garbage", "code": "4/x"}, {"error": "access_denied"}):
        path, query = _redirect(client.get(CALLBACK, params=params, follow_redirects=False))
        assert path == "/signin" and query["google_error"] in {"state", "declined"}, query
    google.state.deny_consent = True
    path, query, params = google_round_trip(client, binding=secrets.token_urlsafe(24))
    assert (path, query) == ("/signin", {"google_error": "declined"})
    google.state.deny_consent = False  # the declined state was burnt: it cannot be used with a code later
    retry = client.get(CALLBACK, params={"state": params["state"], "code": "4/x"}, follow_redirects=False)
    assert _redirect(retry) == ("/signin", {"google_error": "state"})


def test_link_while_signed_in_then_sign_in_with_google(client, google):
    owner = signup(client, "linker")
    google.state.use_identity(f"personal-{uuid.uuid4().hex[:8]}@gmail.example", "sub-linker")
    r = _link(client, owner.headers)
    assert r.status_code == 200, r.text
    assert r.json()["linked"] is True and r.json()["has_password"] is True
    token = sign_in_with_google(client)
    assert token["user"]["id"] == owner.user_id
    # unlink (a password is left), after which that Google account is a stranger again
    r = client.delete("/api/v1/auth/oauth/google/link", headers=owner.headers)
    assert r.status_code == 200 and r.json()["linked"] is False
    google.state.use_identity(owner.email, "sub-linker")
    path, query, _ = google_round_trip(client, binding=secrets.token_urlsafe(24))
    assert (path, query) == ("/signin", {"google_error": "email_exists"})


def test_link_conflict_is_409_and_a_link_is_bound_to_its_user(client, google):
    first, second = signup(client, "first"), signup(client, "second")
    google.state.use_identity(f"shared-{uuid.uuid4().hex[:8]}@gmail.example", "sub-shared")
    assert _link(client, first.headers).status_code == 200
    r = _link(client, second.headers)
    assert r.status_code == 409 and r.json()["reason"] == "linked_elsewhere"
    assert _user(second.email).google_subject is None

    # a link started by `second` cannot be finished by `first` (and is not spent by the attempt)
    r = client.post("/api/v1/auth/oauth/google/link", headers=second.headers)
    params = _consent(r.json()["authorization_url"])
    _path, query = _redirect(client.get(CALLBACK, params=params, follow_redirects=False))
    stolen = client.post("/api/v1/auth/oauth/google/link/complete", json={"state": query["state"], "code": query["code"]},
                         headers=first.headers)
    assert stolen.status_code == 403 and stolen.json()["reason"] == "other_user"


def test_start_needs_a_configured_client_and_a_known_provider(client, google, monkeypatch):
    from voice_platform.settings import reset_settings_cache

    assert client.post("/api/v1/auth/oauth", json={"provider": "github"}).status_code == 422
    monkeypatch.delenv("GOOGLE_CLIENT_ID")
    reset_settings_cache()
    r = client.post("/api/v1/auth/oauth", json={"provider": "google"})
    assert r.status_code == 503


def test_id_token_verification_refuses_what_google_did_not_sign_for_us(google):
    """The real google-auth check against the fake's published certificate, claim by claim."""
    import time

    from voice_platform.services import google_signin as service

    now = int(time.time())
    good = {"iss": "https://accounts.google.com", "aud": google.state.client_id, "sub": "s", "email": "a@b.example",
            "email_verified": True, "iat": now, "exp": now + 600, "nonce": "n"}
    assert service.verify_id_token(google.state.id_token(good), expected_nonce="n")["sub"] == "s"
    bad = [
        {**good, "aud": "someone-else.apps.googleusercontent.com"},
        {**good, "iss": "https://evil.example"},
        {**good, "iat": now - 7200, "exp": now - 3600},
        {**good, "nonce": "other"},
    ]
    for claims in bad:
        with pytest.raises(service.SigninRefused):
            service.verify_id_token(google.state.id_token(claims), expected_nonce="n")
    other = FakeGoogle(idle_timeout=5)  # signed with a key Google never published
    try:
        with pytest.raises(service.SigninRefused):
            service.verify_id_token(other.state.id_token(good), expected_nonce="n")
    finally:
        other._server.server_close()
