"""QA: a JSON body with a lone UTF-16 surrogate escape ("\\ud800") is bad input: 4xx, never a 500.

Such escapes are valid JSON syntax, Python decodes them to an unencodable str, and an
error message that echoes the value cannot be encoded as UTF-8 by Starlette.
"""

from __future__ import annotations

from tests.support.api import signup

JSON = {"content-type": "application/json"}


def _post(client, url, raw: str, headers=None, method="post"):
    return client.request(method.upper(), url, content=raw.encode(), headers={**JSON, **(headers or {})})


def test_auth_and_organization_bodies(client):
    r = _post(client, "/api/v1/auth/signup", '{"email": "a\\ud800@example.com", "password": "correct horse battery"}')
    assert r.status_code == 422, r.text
    admin = signup(client, "qa")
    r = _post(client, "/api/v1/agents", '{"organization_id": "%s", "name": "\\ud800"}' % admin.org_id, admin.headers)
    assert r.status_code == 422, r.text
    r = _post(client, f"/api/v1/organizations/{admin.org_id}", '{"name": "\\ud800"}', admin.headers, method="put")
    assert r.status_code == 422, r.text
    r = _post(client, f"/api/v1/organizations/{admin.org_id}/members", '{"email": "\\ud800@x.com", "role": "member"}', admin.headers)
    assert r.status_code == 422, r.text


def test_non_finite_numbers_echoed_by_validation_are_not_a_500(client):
    """Python's json accepts NaN/Infinity; pydantic's 422 echoes the input back."""
    admin = signup(client, "qa")
    r = _post(client, f"/api/v1/organizations/{admin.org_id}", '{"name": NaN}', admin.headers, method="put")
    assert r.status_code == 422, r.text
    r = _post(client, "/api/v1/auth/signin", '{"email": Infinity, "password": "x"}')
    assert r.status_code == 422, r.text
