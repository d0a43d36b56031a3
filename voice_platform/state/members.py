"""The organization's members: list, add by e-mail, change role, remove, leave (``services.organizations``)."""

from __future__ import annotations

import uuid

import reflex as rx

from voice_platform.db import session_scope
from voice_platform.errors import DomainError, NotAuthenticated
from voice_platform.models.base import aware
from voice_platform.services import invitations as invitation_service
from voice_platform.services import organizations as org_service
from voice_platform.services.rbac import ASSIGNABLE_ROLES
from voice_platform.state.auth import AuthState


class MembersState(AuthState):
    members: list[dict[str, str]] = []
    errors: dict[str, str] = {}
    new_role: str = "member"
    loading: bool = True
    form_key: int = 0
    invites: list[dict[str, str]] = []
    invite_role: str = "member"
    invite_link: str = ""
    invite_mailed_to: str = ""  # set when the link was e-mailed to the invitee
    invite_warning: str = ""  # why the e-mail could not be sent (the link is shown to share by hand)
    invite_errors: dict[str, str] = {}
    invite_key: int = 0

    @rx.var
    def can_manage_members(self) -> bool:
        return "member:manage" in self.permissions

    def _refresh(self, session, user) -> None:
        self.members = [
            {"user_id": str(m.user_id), "email": m.email, "name": m.full_name or "", "role": m.role,
             "is_me": "yes" if m.user_id == user.id else ""}
            for m in org_service.list_members(session, user, self._require_org())
        ]
        self.invites = [
            {"id": str(i.id), "email": i.email, "role": i.role, "expires": aware(i.expires_at).strftime("%Y-%m-%d %H:%M UTC")}
            for i in invitation_service.pending_invitations(session, user, self._require_org())
        ]

    @rx.event
    def load(self):
        self.loading, self.errors = True, {}
        try:
            with session_scope() as session:
                user = self._current_user(session)
                self._load_session(session, user)
                self._refresh(session, user)
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            self.errors = {"": exc.message}
        finally:
            self.loading = False
        return None

    @rx.event
    def set_new_role(self, value: str):
        self.new_role = value

    @rx.event
    def add(self, form: dict):
        self.errors = {}
        try:
            with session_scope() as session:
                user = self._current_user(session)
                added = org_service.add_member(session, user, self._require_org(), email=str(form.get("email") or ""),
                                               role=self.new_role)
                self._refresh(session, user)
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            self.errors = {exc.field or "": exc.message}
            return rx.toast.error(exc.message)
        self.form_key += 1
        return rx.toast.success(f"{added.email} added")

    @rx.event
    def set_invite_role(self, value: str):
        self.invite_role = value

    @rx.event
    def invite(self, form: dict):
        """A link for someone who may not have an account yet: e-mailed when SMTP is set up, shown either way."""
        self.invite_errors, self.invite_link, self.invite_mailed_to, self.invite_warning = {}, "", "", ""
        try:
            with session_scope() as session:
                user = self._current_user(session)
                made = invitation_service.create_invitation(session, user, self._require_org(),
                                                            email=str(form.get("invite_email") or ""), role=self.invite_role)
                self._refresh(session, user)
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            # the form's own field names (the add-member form above already uses "email" and "role")
            self.invite_errors = {{"email": "invite_email", "role": "invite_role"}.get(exc.field or "", exc.field or ""): exc.message}
            return rx.toast.error(exc.message)
        self.invite_link, self.invite_key = made.link, self.invite_key + 1
        # after the scope above committed: the link in the e-mail works by the time it arrives
        sent = invitation_service.send_invitation_mail(made)
        if sent.mailed:
            self.invite_mailed_to = made.invitation.email
            return rx.toast.success(f"Invitation e-mailed to {made.invitation.email}")
        if sent.warning:
            self.invite_warning = sent.warning
            return rx.toast.warning(f"Invitation for {made.invitation.email} created, but the e-mail was not sent")
        return rx.toast.success(f"Invitation for {made.invitation.email} created: copy the link and send it")

    @rx.event
    def revoke_invite(self, invitation_id: str):
        return self._act(lambda s, u: invitation_service.revoke_invitation(s, u, self._require_org(),
                                                                           uuid.UUID(invitation_id)),
                         "Invitation withdrawn")

    @rx.event
    def change_role(self, user_id: str, role: str):
        if role not in ASSIGNABLE_ROLES:
            return rx.toast.error("Unknown role")
        return self._act(lambda s, u: org_service.change_member_role(s, u, self._require_org(), uuid.UUID(user_id), role=role),
                         "Role changed")

    @rx.event
    def remove(self, user_id: str):
        return self._act(lambda s, u: org_service.remove_member(s, u, self._require_org(), uuid.UUID(user_id)), "Member removed")

    @rx.event
    def leave(self):
        try:
            with session_scope() as session:
                user = self._current_user(session)
                org_service.leave_organization(session, user, self._require_org())
                self._load_session(session, user)
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            return rx.toast.error(exc.message)
        return [rx.redirect("/agents"), rx.toast.success("You left the organization")]

    def _act(self, change, done: str):
        try:
            with session_scope() as session:
                user = self._current_user(session)
                change(session, user)
                self._refresh(session, user)
        except NotAuthenticated:
            return self._signed_out()
        except (DomainError, ValueError) as exc:
            with session_scope() as session:  # show the list as it really is after a refusal
                self._refresh(session, self._current_user(session))
            return rx.toast.error(getattr(exc, "message", "Invalid member"))
        return rx.toast.success(done)
