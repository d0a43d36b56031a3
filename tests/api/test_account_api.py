"""The account endpoints: the profile and the password, through the real app."""

from __future__ import annotations

from tests.support.api import PASSWORD, signup


def test_profile_name_is_saved_and_validated(client):
    me = signup(client, "profile")
    r = client.put("/api/v1/auth/user", json={"full_name": "  Grace Hopper "}, headers=me.headers)
    assert r.status_code == 200 and r.json()["full_name"] == "Grace Hopper"
    assert client.get("/api/v1/auth/user", headers=me.headers).json()["full_name"] == "Grace Hopper"
    too_long = client.put("/api/v1/auth/user", json={"full_name": "x" * 201}, headers=me.headers)
    assert too_long.status_code == 422 and too_long.json()["detail"][0]["loc"][-1] == "full_name"
    assert client.put("/api/v1/auth/user", json={"full_name": "x"}).status_code == 401


def test_changing_the_password_signs_out_every_other_session(client):
    me = signup(client, "pw")
    other = client.post("/api/v1/auth/signin", json={"email": me.email, "password": PASSWORD}).json()["access_token"]
    wrong = client.post("/api/v1/auth/password", json={"current_password": "nope", "new_password": "a new secret 1"},
                        headers=me.headers)
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"][-1] == "current_password"
    short = client.post("/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": "short"},
                        headers=me.headers)
    assert short.status_code == 422 and short.json()["detail"][0]["loc"][-1] == "new_password"
    same = client.post("/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": PASSWORD},
                       headers=me.headers)
    assert same.status_code == 422 and "differ" in same.json()["detail"][0]["msg"]

    anonymous = client.post("/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": "a new secret 1"})
    assert anonymous.status_code == 401
    done = client.post("/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": "a new secret 1"},
                       headers=me.headers)
    assert done.status_code == 200
    fresh = {"Authorization": f"Bearer {done.json()['access_token']}"}
    assert client.get("/api/v1/auth/user", headers=fresh).status_code == 200
    for old in (me.token, other):  # this request's old token and another session's
        assert client.get("/api/v1/auth/user", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    assert client.post("/api/v1/auth/signin", json={"email": me.email, "password": PASSWORD}).status_code == 401
    assert client.post("/api/v1/auth/signin", json={"email": me.email, "password": "a new secret 1"}).status_code == 200


def test_an_account_with_a_password_cannot_skip_the_current_one(client):
    """Leaving ``current_password`` out sets a first password only (tests/api/test_google_signin.py)."""
    me = signup(client, "skip")
    for body in ({"new_password": "a new secret 1"}, {"current_password": "", "new_password": "a new secret 1"},
                 {"current_password": None, "new_password": "a new secret 1"}):
        r = client.post("/api/v1/auth/password", json=body, headers=me.headers)
        assert r.status_code == 422, (body, r.text)
        detail = r.json()["detail"][0]
        assert detail["loc"][-1] == "current_password"
        assert detail["msg"] == "This account already has a password: enter the current one to change it"
    missing = client.post("/api/v1/auth/password", json={"current_password": PASSWORD}, headers=me.headers)
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"][-1] == "new_password"
    assert client.post("/api/v1/auth/password", json={"new_password": "a new secret 1"}).status_code == 401
    # nothing changed: the old token and password still work
    assert client.get("/api/v1/auth/user", headers=me.headers).status_code == 200
    assert client.post("/api/v1/auth/signin", json={"email": me.email, "password": PASSWORD}).status_code == 200
