"""Invitations by e-mail: with SMTP the invitee gets the link by mail; without (or when it fails) the admin shares it."""

from __future__ import annotations

import socket

from tests.fakes.smtp_server import mail_configured, smtp_server  # noqa: F401 - fixtures
from tests.support.api import PASSWORD, signup
from voice_platform.settings import reset_settings_cache


def _invite(client, admin, email: str, role: str = "member") -> dict:
    r = client.post(f"/api/v1/organizations/{admin.org_id}/invitations", json={"email": email, "role": role},
                    headers=admin.headers)
    assert r.status_code == 201, r.text
    return r.json()


def test_the_invitee_gets_the_link_by_mail_and_it_joins(client, mail_configured):
    admin = signup(client, "mailing-admin", org="Mailed Dental")
    client.put("/api/v1/auth/user", json={"full_name": "Grace Hopper"}, headers=admin.headers)
    guest_email = "Mailed.Guest@Example.com"
    made = _invite(client, admin, guest_email, role="org_admin")
    assert made["mailed"] is True and made["mail_warning"] is None

    [received] = mail_configured.wait_for("mailed.guest@example.com")
    assert received.subject == "Grace Hopper invited you to Mailed Dental"
    assert "join Mailed Dental as org admin" in received.text
    link = received.link("/invite/")
    assert link == made["link"]  # the admin sees the same link
    token = link.rsplit("/invite/", 1)[1]
    assert client.get(f"/api/v1/invitations/{token}").json()["state"] == "valid"  # stored before it was sent

    r = client.post("/api/v1/auth/signup", json={"email": "mailed.guest@example.com", "password": PASSWORD})
    guest = {"Authorization": "Bearer " + r.json()["access_token"]}
    joined = client.post(f"/api/v1/invitations/{token}/accept", headers=guest)
    assert joined.status_code == 200 and joined.json()["organization_id"] == admin.org_id
    members = client.get(f"/api/v1/organizations/{admin.org_id}/members", headers=admin.headers).json()
    assert {m["email"]: m["role"] for m in members}["mailed.guest@example.com"] == "org_admin"


def test_without_smtp_the_admin_gets_the_link_only(client):
    admin = signup(client, "plain-admin")
    made = _invite(client, admin, "by-hand@example.com")
    assert made["mailed"] is False and made["mail_warning"] is None and "/invite/" in made["link"]


def test_a_failed_send_keeps_the_invitation_and_warns(client, monkeypatch):
    admin = signup(client, "down-admin")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(closed), "SMTP_SECURITY": "none",
           "SMTP_FROM": "no-reply@voiceline.test", "SMTP_USERNAME": "mailer", "SMTP_PASSWORD": "smtp-secret-pw"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_settings_cache()
    try:
        made = _invite(client, admin, "unlucky@example.com")
    finally:
        for name in env:
            monkeypatch.delenv(name)
        reset_settings_cache()
    assert made["mailed"] is False
    assert made["mail_warning"].startswith(f"The e-mail could not be sent: the mail server 127.0.0.1:{closed} "
                                           "refused the connection")
    assert "copy the link" in made["mail_warning"] and "smtp-secret-pw" not in made["mail_warning"]
    token = made["link"].rsplit("/invite/", 1)[1]
    assert client.get(f"/api/v1/invitations/{token}").json()["state"] == "valid"  # nothing half-done: it stands
    pending = client.get(f"/api/v1/organizations/{admin.org_id}/invitations", headers=admin.headers).json()
    assert [p["email"] for p in pending] == ["unlucky@example.com"]


def test_a_refused_invitation_sends_nothing(client, mail_configured):
    admin = signup(client, "refusing-admin")
    member = signup(client, "already")
    client.post(f"/api/v1/organizations/{admin.org_id}/members", json={"email": member.email, "role": "member"},
                headers=admin.headers)
    r = client.post(f"/api/v1/organizations/{admin.org_id}/invitations", json={"email": member.email},
                    headers=admin.headers)
    assert r.status_code == 409
    ok = _invite(client, admin, "after-refusal@example.com")  # a later one arrives; the refused one never did
    assert ok["mailed"] is True
    mail_configured.wait_for("after-refusal@example.com")
    assert mail_configured.messages_to(member.email) == []
