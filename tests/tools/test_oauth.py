"""The Google OAuth round trip through google-auth-oauthlib against the fake Google server."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlparse

from sqlmodel import select

from tests.support.api import add_member, signup
from tests.tools.conftest import attach, connect_google
from voice_platform.db import session_scope
from voice_platform.models import AgentTool, OAuthState
from voice_platform.security import decrypt_json, sign_payload
from voice_platform.services.oauth import STATE_PURPOSE


def _rows() -> list[AgentTool]:
    with session_scope() as session:
        return list(session.exec(select(AgentTool)).all())


def test_auth_url_asks_offline_consent_with_pkce(client, admin, agent, catalogue, fake_google):
    r = client.get("/api/v1/tools/auth/Google_calendar", params={"agent_id": agent["id"]}, headers=admin.headers)
    assert r.status_code == 200
    url = urlparse(r.json()["auth_url"])
    q = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == fake_google.base_url + "/o/oauth2/auth"
    assert q["access_type"] == "offline" and q["prompt"] == "consent"
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43
    assert q["redirect_uri"].endswith("/api/v1/tools/callback")
    assert "calendar.events" in q["scope"]
    with session_scope() as session:
        state = session.exec(select(OAuthState)).one()
        assert state.code_verifier_encrypted and len(state.code_verifier_encrypted) > 100  # encrypted, not the 128-char verifier


def test_round_trip_stores_encrypted_tokens_and_redirects_to_tools_page(client, admin, agent, catalogue, fake_google):
    trip = connect_google(client, admin, agent["id"])
    done = trip["response"]
    assert done.status_code == 303
    target = urlparse(done.headers["location"])
    assert target.path == f"/agents/{agent['id']}/tools"
    q = parse_qs(target.query)
    assert q["oauth"] == ["connect"] and q["state"] == [trip["params"]["state"]] and q["code"] == [trip["params"]["code"]]
    assert trip["complete"].status_code == 200, trip["complete"].text
    assert trip["complete"].json()["account"] == "owner@example.com"
    (row,) = _rows()  # the attachment was created by the completion
    assert row.connected_account == "owner@example.com"
    refresh = next(iter(fake_google.state.refresh_tokens))
    access = next(iter(fake_google.state.access_tokens))
    assert refresh not in row.sensitive_config and access not in row.sensitive_config  # encrypted at rest
    assert decrypt_json(row.sensitive_config)["oauth"]["refresh_token"] == refresh
    listed = client.get(f"/api/v1/tools/agent/{agent['id']}", headers=admin.headers)
    assert refresh not in listed.text and access not in listed.text
    view = listed.json()[0]
    assert view["has_credentials"] is True and view["connected_account"] == "owner@example.com"
    # Disconnect forgets the tokens and revokes them at Google.
    r = client.delete(f"/api/v1/tools/agent/{view['id']}/connection", headers=admin.headers)
    assert r.status_code == 200 and r.json()["has_credentials"] is False and r.json()["connected_account"] is None
    assert refresh in fake_google.state.revoked
    assert "oauth" not in decrypt_json(_rows()[0].sensitive_config)


def test_callback_keeps_existing_config(client, admin, agent, catalogue, fake_google):
    at = attach(client, admin, agent["id"], "Google_calendar", config={"time_zone": "Europe/Paris"}, unselected_functions=["cancel_appointment"])
    connect_google(client, admin, agent["id"])
    (row,) = _rows()
    assert str(row.id) == at["id"] and row.config == {"time_zone": "Europe/Paris"} and row.unselected_functions == ["cancel_appointment"]


def test_replayed_state_is_refused(client, admin, agent, catalogue, fake_google):
    params = connect_google(client, admin, agent["id"])["params"]
    before = _rows()[0].sensitive_config
    replay = client.get("/api/v1/tools/callback", params=params, follow_redirects=False)
    assert replay.status_code == 403
    again = client.post("/api/v1/tools/callback/complete", json=params, headers=admin.headers)
    assert again.status_code == 403
    assert _rows()[0].sensitive_config == before


def test_another_user_cannot_finish_someone_elses_connection(client, admin, agent, catalogue, fake_google):
    """Login-CSRF / account injection: an attacker mails their own consent link to a victim.
    The victim's browser brings back a valid state and code, but the exchange only runs for the
    user who started the flow; the victim's calendar never lands on the attacker's agent."""
    import requests

    q = _pending_state(client, admin, agent["id"])  # admin plays the attacker who started it
    consent = requests.get(_auth_url_for(q), allow_redirects=False, timeout=10)
    back = {k: v[0] for k, v in parse_qs(urlparse(consent.headers["Location"]).query).items()}
    handed = client.get("/api/v1/tools/callback", params=back, follow_redirects=False)
    assert handed.status_code == 303 and _rows() == []  # the callback alone stores nothing
    victim = signup(client, "victim")
    r = client.post("/api/v1/tools/callback/complete", json=back, headers=victim.headers)
    assert r.status_code == 403 and "another user" in r.json()["detail"]
    assert _rows() == [] and "authorization_code" not in fake_google.state.grants
    # and the stranger's attempt did not spend the owner's link
    assert client.post("/api/v1/tools/callback/complete", json=back, headers=admin.headers).status_code == 200


def _pending_state(client, actor, agent_id) -> dict:
    r = client.get("/api/v1/tools/auth/Google_calendar", params={"agent_id": agent_id}, headers=actor.headers)
    q = {k: v[0] for k, v in parse_qs(urlparse(r.json()["auth_url"]).query).items()}
    return q


def test_tampered_expired_and_foreign_states_are_refused(client, admin, agent, catalogue, fake_google):
    from jose import jwt

    q = _pending_state(client, admin, agent["id"])
    claims = jwt.get_unverified_claims(q["state"])
    other = signup(client, "other")
    bad_states = {
        "tampered": q["state"][:-4] + ("AAAA" if not q["state"].endswith("AAAA") else "BBBB"),
        "expired": sign_payload({k: claims[k] for k in ("nonce", "uid", "aid", "tool")}, minutes=-1, purpose=STATE_PURPOSE),
        "foreign user": sign_payload({**{k: claims[k] for k in ("nonce", "aid", "tool")}, "uid": other.user_id}, minutes=5, purpose=STATE_PURPOSE),
        "foreign agent": sign_payload({**{k: claims[k] for k in ("nonce", "uid", "tool")}, "aid": str(uuid.uuid4())}, minutes=5, purpose=STATE_PURPOSE),
        "wrong purpose": sign_payload({k: claims[k] for k in ("nonce", "uid", "aid", "tool")}, minutes=5, purpose="other"),
        "missing": None,
    }
    for label, state in bad_states.items():
        consent = fake_google.state
        code = "4/unused"
        consent.codes[code] = {"redirect_uri": q["redirect_uri"], "challenge": q["code_challenge"], "scope": q["scope"]}
        params = {"code": code} | ({"state": state} if state else {})
        r = client.get("/api/v1/tools/callback", params=params, follow_redirects=False)
        assert r.status_code == 403, label
    assert _rows() == [] and "authorization_code" not in fake_google.state.grants
    # the genuine state still works once (none of the forgeries burned it)
    import requests

    consent = requests.get(_auth_url_for(q), allow_redirects=False, timeout=10)
    back = {k: v[0] for k, v in parse_qs(urlparse(consent.headers["Location"]).query).items()}
    assert client.get("/api/v1/tools/callback", params=back, follow_redirects=False).status_code == 303


def _auth_url_for(q: dict) -> str:
    from urllib.parse import urlencode

    from voice_platform.settings import get_settings

    return get_settings().google_auth_uri + "?" + urlencode(q)


def test_state_expired_in_database_is_refused(client, admin, agent, catalogue, fake_google):
    from datetime import datetime, timedelta, timezone

    q = _pending_state(client, admin, agent["id"])
    with session_scope() as session:
        row = session.exec(select(OAuthState)).one()
        row.expires_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    import requests

    consent = requests.get(_auth_url_for(q), allow_redirects=False, timeout=10)
    back = {k: v[0] for k, v in parse_qs(urlparse(consent.headers["Location"]).query).items()}
    assert client.get("/api/v1/tools/callback", params=back, follow_redirects=False).status_code == 403
    assert _rows() == []


def test_user_who_lost_the_right_cannot_finish(client, admin, agent, catalogue, fake_google):
    org_admin = add_member(client, admin, "helper", role="org_admin")
    q = _pending_state(client, org_admin, agent["id"])
    r = client.delete(f"/api/v1/organizations/{admin.org_id}/members/{org_admin.user_id}", headers=admin.headers)
    assert r.status_code in (200, 204), r.text
    import requests

    consent = requests.get(_auth_url_for(q), allow_redirects=False, timeout=10)
    back = {k: v[0] for k, v in parse_qs(urlparse(consent.headers["Location"]).query).items()}
    assert client.get("/api/v1/tools/callback", params=back, follow_redirects=False).status_code == 303
    assert client.post("/api/v1/tools/callback/complete", json=back, headers=org_admin.headers).status_code == 403
    assert _rows() == []


def test_declined_consent_redirects_with_error(client, admin, agent, catalogue, fake_google):
    q = _pending_state(client, admin, agent["id"])
    r = client.get("/api/v1/tools/callback", params={"state": q["state"], "error": "access_denied"}, follow_redirects=False)
    assert r.status_code == 303
    target = urlparse(r.headers["location"])
    assert target.path == f"/agents/{agent['id']}/tools" and parse_qs(target.query)["oauth"] == ["error"]
    assert client.get("/api/v1/tools/callback", params={"state": q["state"], "code": "x"}, follow_redirects=False).status_code == 403


def test_bad_code_is_refused_by_google_and_stores_nothing(client, admin, agent, catalogue, fake_google):
    q = _pending_state(client, admin, agent["id"])
    body = {"state": q["state"], "code": "4/forged"}
    r = client.post("/api/v1/tools/callback/complete", json=body, headers=admin.headers)
    assert r.status_code == 502 and "Google refused" in r.json()["detail"]
    assert _rows() == []
    # the failed exchange spent the state
    assert client.post("/api/v1/tools/callback/complete", json=body, headers=admin.headers).status_code == 403


def test_missing_google_client_settings_answer_503(client, admin, agent, catalogue, monkeypatch):
    from voice_platform.settings import reset_settings_cache

    monkeypatch.setenv("GOOGLE_CLIENT_ID", "")
    monkeypatch.setenv("GOOGLE_CLIENT_SECRET", "")
    reset_settings_cache()
    try:
        r = client.get("/api/v1/tools/auth/Google_calendar", params={"agent_id": agent["id"]}, headers=admin.headers)
        assert r.status_code == 503
        assert "GOOGLE_CLIENT_ID" in r.json()["detail"] and "GOOGLE_CLIENT_SECRET" in r.json()["detail"]
    finally:
        monkeypatch.undo()
        reset_settings_cache()
