"""Invitations through the real app: a link that works once, for its address, until it expires."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

from sqlmodel import update

from tests.support.api import add_member, signup


def _invite(client, admin, email: str, role: str = "member") -> dict:
    r = client.post(f"/api/v1/organizations/{admin.org_id}/invitations", json={"email": email, "role": role},
                    headers=admin.headers)
    assert r.status_code == 201, r.text
    return r.json()


def _token(link: str) -> str:
    return link.rsplit("/invite/", 1)[1]


def test_invite_preview_accept_once(client):
    admin = signup(client, "inviter", org="Inviting Dental")
    guest = signup(client, "guest")
    made = _invite(client, admin, guest.email.upper(), role="org_admin")
    token = _token(made["link"])
    pending = client.get(f"/api/v1/organizations/{admin.org_id}/invitations", headers=admin.headers).json()
    assert [p["email"] for p in pending] == [guest.email.lower()]

    preview = client.get(f"/api/v1/invitations/{token}")  # public
    assert preview.status_code == 200
    assert (preview.json()["organization_name"], preview.json()["role"], preview.json()["state"]) == (
        "Inviting Dental", "org_admin", "valid")

    stranger = signup(client, "stranger")
    wrong = client.post(f"/api/v1/invitations/{token}/accept", headers=stranger.headers)
    assert wrong.status_code == 403 and guest.email.lower() in wrong.json()["detail"]

    ok = client.post(f"/api/v1/invitations/{token}/accept", headers=guest.headers)
    assert ok.status_code == 200 and ok.json()["organization_id"] == admin.org_id
    members = client.get(f"/api/v1/organizations/{admin.org_id}/members", headers=admin.headers).json()
    assert {m["email"]: m["role"] for m in members}[guest.email] == "org_admin"
    again = client.post(f"/api/v1/invitations/{token}/accept", headers=guest.headers)
    assert again.status_code == 409 and "already been used" in again.json()["detail"]
    assert client.get(f"/api/v1/invitations/{token}").json()["state"] == "used"
    assert client.get("/api/v1/invitations/" + "x" * 43).status_code == 404


def test_expired_and_revoked_links_do_not_work(client):
    from voice_platform.db import session_scope
    from voice_platform.models import Invitation
    from voice_platform.models.base import utcnow

    admin = signup(client, "exp")
    guest = signup(client, "late")
    made = _invite(client, admin, guest.email)
    with session_scope() as session:
        session.execute(update(Invitation).where(Invitation.id == uuid.UUID(made["id"]))
                        .values(expires_at=utcnow() - timedelta(minutes=1)))
    token = _token(made["link"])
    assert client.get(f"/api/v1/invitations/{token}").json()["state"] == "expired"
    r = client.post(f"/api/v1/invitations/{token}/accept", headers=guest.headers)
    assert r.status_code == 409 and "expired" in r.json()["detail"]

    second = _invite(client, admin, guest.email)
    assert client.delete(f"/api/v1/organizations/{admin.org_id}/invitations/{second['id']}",
                         headers=admin.headers).status_code == 204
    r = client.post(f"/api/v1/invitations/{_token(second['link'])}/accept", headers=guest.headers)
    assert r.status_code == 409 and "withdrawn" in r.json()["detail"]


def test_only_member_managers_invite_and_members_are_refused(client):
    admin = signup(client, "boss")
    member = add_member(client, admin, "plain")
    r = client.post(f"/api/v1/organizations/{admin.org_id}/invitations", json={"email": "x@example.com"},
                    headers=member.headers)
    assert r.status_code == 403
    again = client.post(f"/api/v1/organizations/{admin.org_id}/invitations", json={"email": member.email},
                        headers=admin.headers)
    assert again.status_code == 409  # already a member
    bad = client.post(f"/api/v1/organizations/{admin.org_id}/invitations", json={"email": "not an address"},
                      headers=admin.headers)
    assert bad.status_code == 422


def test_two_clicks_at_once_join_once(client):
    from voice_platform.db import session_scope
    from voice_platform.errors import DomainError
    from voice_platform.models import User
    from voice_platform.services import invitations

    admin = signup(client, "race")
    guest = signup(client, "racer")
    token = _token(_invite(client, admin, guest.email)["link"])
    barrier, outcomes = threading.Barrier(4), []

    def click() -> None:
        barrier.wait()
        try:
            with session_scope() as session:
                invitations.accept(session, session.get(User, uuid.UUID(guest.user_id)), token)
            outcomes.append("joined")
        except DomainError as exc:
            outcomes.append(exc.status_code)

    threads = [threading.Thread(target=click) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes, key=str) == sorted(["joined", 409, 409, 409], key=str)
