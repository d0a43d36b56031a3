"""``/invite/[invite_token]``: what an invitation link offers, and joining with it.

Open to signed-out visitors (they are sent to sign in or sign up and come back here);
accepting goes through ``services.invitations.accept`` like ``POST /invitations/{token}/accept``.
"""

from __future__ import annotations

import reflex as rx

from voice_platform.db import session_scope
from voice_platform.errors import DomainError, NotAuthenticated, NotFound
from voice_platform.services import invitations
from voice_platform.state.auth import HOME_ROUTE, AuthState


class InviteState(AuthState):
    invite_state: str = ""  # valid | expired | used | revoked | missing
    invite_org: str = ""
    invite_email: str = ""
    invite_role: str = ""
    signed_in_as: str = ""
    invite_error: str = ""
    invite_loading: bool = True

    @rx.var
    def invite_path(self) -> str:
        return "/invite/" + (getattr(self, "invite_token", "") or "")

    @rx.var
    def wrong_account(self) -> bool:
        """Signed in, but not with the address the invitation was sent to: joining would be refused."""
        return bool(self.signed_in_as) and self.signed_in_as.lower() != self.invite_email.lower()

    @rx.event
    def load(self):
        self.invite_loading, self.invite_error, self.signed_in_as = True, "", ""
        token = getattr(self, "invite_token", "") or ""
        try:
            with session_scope() as session:
                found = invitations.preview(session, token)
                self.invite_state, self.invite_org = found.state, found.organization_name
                self.invite_email, self.invite_role = found.email, found.role
                if self.token:
                    try:
                        self.signed_in_as = self._current_user(session).email
                    except NotAuthenticated:
                        self.token = ""
        except NotFound:
            self.invite_state = "missing"
        finally:
            self.invite_loading = False

    @rx.event
    def use_another_account(self):
        """Sign out (as the header's Sign out does) and come back here after signing in as the invited address."""
        self._revoke_everywhere()
        return rx.redirect("/signin?next=" + self.invite_path)

    @rx.event
    def join(self):
        token = getattr(self, "invite_token", "") or ""
        try:
            with session_scope() as session:
                user = self._current_user(session)
                org_id = invitations.accept(session, user, token)
                self._load_session(session, user, prefer_org=str(org_id))
        except NotAuthenticated:
            return rx.redirect("/signin?next=" + self.invite_path)
        except DomainError as exc:
            self.invite_error = exc.message
            return rx.toast.error(exc.message)
        return [rx.redirect(HOME_ROUTE), rx.toast.success(f"Welcome to {self.invite_org}")]
