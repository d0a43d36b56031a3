"""Leaving an organization: anyone may, except its last org admin."""

from __future__ import annotations

from tests.support.api import add_member, signup


def test_member_leaves_and_last_admin_cannot(client):
    admin = signup(client, "leave-admin")
    member = add_member(client, admin)
    assert client.post(f"/api/v1/organizations/{admin.org_id}/leave", headers=member.headers).status_code == 204
    assert client.get(f"/api/v1/organizations/{admin.org_id}", headers=member.headers).status_code == 404
    refused = client.post(f"/api/v1/organizations/{admin.org_id}/leave", headers=admin.headers)
    assert refused.status_code == 409 and "at least one org admin" in refused.text
    assert client.post(f"/api/v1/organizations/{admin.org_id}/leave", headers=member.headers).status_code == 404
