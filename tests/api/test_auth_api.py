from voice_platform.settings import get_settings
from tests.support.api import PASSWORD, signup


def test_signup_signin_and_current_user(client):
    actor = signup(client, "alice")
    r = client.post("/api/v1/auth/signin", json={"email": actor.email.upper(), "password": PASSWORD})
    assert r.status_code == 200
    token = r.json()["access_token"]
    me = client.get("/api/v1/auth/user", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["email"] == actor.email
    assert "password_hash" not in me.json()


def test_duplicate_email_is_409_case_insensitive(client):
    actor = signup(client, "dup")
    r = client.post("/api/v1/auth/signup", json={"email": actor.email.upper(), "password": PASSWORD})
    assert r.status_code == 409
    assert "already exists" in r.json()["detail"]


def test_short_password_and_bad_email_are_422_with_field(client):
    r = client.post("/api/v1/auth/signup", json={"email": "x@example.com", "password": "short"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "password"]
    r = client.post("/api/v1/auth/signup", json={"email": "not-an-email", "password": PASSWORD})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "email"]


def test_unknown_email_and_wrong_password_look_the_same(client):
    actor = signup(client, "bob")
    wrong = client.post("/api/v1/auth/signin", json={"email": actor.email, "password": "wrong password"})
    unknown = client.post("/api/v1/auth/signin", json={"email": "nobody@example.com", "password": "wrong password"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_repeated_failures_are_throttled_with_retry_after(client):
    actor = signup(client, "carol")
    limit = get_settings().signin_max_failures
    for _ in range(limit):
        assert client.post("/api/v1/auth/signin", json={"email": actor.email, "password": "nope nope"}).status_code == 401
    r = client.post("/api/v1/auth/signin", json={"email": actor.email, "password": PASSWORD})
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0


def test_missing_and_invalid_tokens_are_401(client):
    assert client.get("/api/v1/auth/user").status_code == 401
    assert client.get("/api/v1/auth/user", headers={"Authorization": "Bearer garbage"}).status_code == 401


def test_signout_revokes_existing_tokens(client):
    actor = signup(client, "dave")
    assert client.post("/api/v1/auth/signout", headers=actor.headers).status_code == 204
    assert client.get("/api/v1/auth/user", headers=actor.headers).status_code == 401


def test_token_algorithm_is_pinned(client):
    from jose import jwt

    actor = signup(client, "eve")
    claims = jwt.get_unverified_claims(actor.token)
    forged = jwt.encode(claims, "", algorithm="HS256").rsplit(".", 1)[0] + "."
    none_alg = client.get("/api/v1/auth/user", headers={"Authorization": f"Bearer {forged}"})
    assert none_alg.status_code == 401


def test_nul_characters_are_client_errors_not_500(client):
    assert client.post("/api/v1/auth/signin", json={"email": "a\x00@example.com", "password": "x"}).status_code == 401
    r = client.post("/api/v1/auth/signup", json={"email": "nul@example.com", "password": "long enough", "full_name": "a\x00b"})
    assert r.status_code == 422
    actor = signup(client, "nul")
    r = client.post("/api/v1/agents", json={"organization_id": actor.org_id, "name": "x\x00"}, headers=actor.headers)
    assert r.status_code == 422
