"""The do-not-call list through the API: E.164 entries, idempotent adds, roles and tenants."""

from __future__ import annotations

from tests.support.api import add_member, signup


def _path(org_id: str, rest: str = "") -> str:
    return f"/api/v1/organizations/{org_id}/do-not-call{rest}"


def test_add_list_remove_and_audit(client):
    admin = signup(client, "dnc")
    r = client.post(_path(admin.org_id), json={"number": "+1 (415) 555-0100"}, headers=admin.headers)
    assert r.status_code == 201, r.text
    assert r.json()["number"] == "+14155550100" and r.json()["source"] == admin.email
    again = client.post(_path(admin.org_id), json={"number": "+14155550100"}, headers=admin.headers)
    assert again.status_code == 200 and again.json()["created_at"] == r.json()["created_at"]
    client.post(_path(admin.org_id), json={"number": "+447700900123"}, headers=admin.headers)
    listed = client.get(_path(admin.org_id), headers=admin.headers).json()
    assert sorted(e["number"] for e in listed) == ["+14155550100", "+447700900123"]
    assert [e["number"] for e in client.get(_path(admin.org_id), params={"q": "7700"}, headers=admin.headers).json()] \
        == ["+447700900123"]
    assert client.delete(_path(admin.org_id, "/%2B14155550100"), headers=admin.headers).status_code == 204
    assert client.delete(_path(admin.org_id, "/+14155550100"), headers=admin.headers).status_code == 404
    assert [e["number"] for e in client.get(_path(admin.org_id), headers=admin.headers).json()] == ["+447700900123"]
    actions = [e["action"] for e in client.get(f"/api/v1/organizations/{admin.org_id}/audit-log",
                                               headers=admin.headers).json()["items"]]
    assert actions.count("do_not_call.added") == 2 and actions.count("do_not_call.removed") == 1


def test_bad_numbers_are_refused_with_a_reason(client):
    admin = signup(client, "dnc-bad")
    for number in ("0415 555 0100", "+1", "", "+999123"):
        r = client.post(_path(admin.org_id), json={"number": number}, headers=admin.headers)
        assert r.status_code == 422, (number, r.text)
        assert "E.164" in r.text


def test_members_read_admins_change_other_organizations_see_nothing(client):
    admin = signup(client, "dnc-roles")
    member = add_member(client, admin)
    client.post(_path(admin.org_id), json={"number": "+14155550100"}, headers=admin.headers)
    assert len(client.get(_path(admin.org_id), headers=member.headers).json()) == 1
    assert client.post(_path(admin.org_id), json={"number": "+14155550199"}, headers=member.headers).status_code == 403
    assert client.delete(_path(admin.org_id, "/+14155550100"), headers=member.headers).status_code == 403
    other = signup(client, "dnc-other")
    assert client.get(_path(admin.org_id), headers=other.headers).status_code == 404
    assert client.post(_path(admin.org_id), json={"number": "+14155550199"}, headers=other.headers).status_code == 404
    assert client.delete(_path(admin.org_id, "/+14155550100"), headers=other.headers).status_code == 404
    assert client.get(_path(other.org_id), headers=other.headers).json() == []
