from voice_platform.db import session_scope
from voice_platform.services.bootstrap import ensure_first_admin


def test_health_checks_the_database(client):
    r = client.get("/api/v1/health")
    assert r.status_code == 200 and r.json() == {"status": "ok", "database": "ok"}


def test_first_run_creates_an_admin_who_can_sign_in_once_only(client):
    with session_scope() as session:
        created = ensure_first_admin(session)
    assert created is not None
    with session_scope() as session:
        assert ensure_first_admin(session) is None
    r = client.post("/api/v1/auth/signin", json={"email": created.email, "password": created.password})
    assert r.status_code == 200 and r.json()["user"]["is_platform_admin"] is True
    orgs = client.get("/api/v1/organizations", headers={"Authorization": f"Bearer {r.json()['access_token']}"}).json()
    assert [o["name"] for o in orgs] == [created.organization_name]


def test_openapi_docs_are_served(client):
    assert client.get("/docs").status_code == 200
    assert "/api/v1/agents" in client.get("/openapi.json").json()["paths"]
