"""The dashboard's session: a token in the browser's localStorage, checked on every event.

Every feature state subclasses ``AuthState``. A handler that touches data does::

    try:
        with session_scope() as session:
            user = self._current_user(session)   # raises NotAuthenticated
            ...call a service with (session, user, uuid.UUID(self.org_id), ...)
    except NotAuthenticated:
        return self._signed_out()                 # clears the token, goes to /signin
    except DomainError as exc:
        ...show exc.message (next to exc.field when set)

``guard`` is the page-level ``on_load`` that refreshes the user, their
organizations and the current organization's permissions, or redirects a
signed-out visitor to ``/signin?next=<path>``.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

import reflex as rx

from voice_platform.db import session_scope
from voice_platform.errors import DomainError, NotAuthenticated, NotFound
from voice_platform.models import User
from voice_platform.services import auth as auth_service
from voice_platform.services import organizations as org_service
from voice_platform.services.rbac import permissions_of

SIGNIN_ROUTE = "/signin"
# Where a signed-in person lands (sign-in, "/"): the overview. A new account lands on its
# agents instead (AGENTS_ROUTE), where it creates the first one.
HOME_ROUTE = "/overview"
AGENTS_ROUTE = "/agents"
# Top-level sections the organization switcher keeps you in (an id of the old org would be "not found").
SECTIONS = ("/overview", "/agents", "/calls", "/phone-numbers", "/custom-tools", "/members", "/billing", "/settings",
            "/account", "/organization/api-keys", "/organization/audit-log", "/webhooks", "/campaigns",
            "/do-not-call")
NO_ORG = "Choose an organization first"


class AuthState(rx.State):
    """Who is signed in and which organization they are looking at."""

    # Reflex quirk: client storage vars are hydrated from the browser before
    # on_load handlers run, and assigning them on the backend writes them back.
    token: str = rx.LocalStorage("", name="vp_token")
    org_id: str = rx.LocalStorage("", name="vp_org")

    user_email: str = ""
    user_name: str = ""
    is_platform_admin: bool = False
    orgs: list[dict[str, str]] = []
    permissions: list[str] = []
    # False until the first guard() answered: pages show skeletons meanwhile.
    session_ready: bool = False

    # --- helpers for subclasses. Reflex quirk: every public method of a State becomes
    # an event the browser may call, so helpers taking a Session are underscored.
    def _current_user(self, session) -> User:
        """The signed-in user, checked through the auth service on every call."""
        return auth_service.user_from_token(session, self.token or None)

    def _org_uuid(self) -> uuid.UUID | None:
        try:
            return uuid.UUID(self.org_id)
        except (TypeError, ValueError):
            return None

    def _require_org(self) -> uuid.UUID:
        """The organization the user is looking at; NotFound when there is none (no memberships)."""
        org = self._org_uuid()
        if org is None:
            raise NotFound(NO_ORG)
        return org

    def _signed_out(self, message: str | None = None):
        """Forget the session on this browser and send the visitor to sign in."""
        self.token = ""
        self.session_ready = False
        self.user_email = ""
        self.orgs = []
        self.permissions = []
        path = self.router.url.path or HOME_ROUTE
        target = SIGNIN_ROUTE
        if path not in (SIGNIN_ROUTE, "/signup", "/"):
            target += "?next=" + quote(path, safe="/")
        events = [rx.redirect(target)]
        if message:
            events.append(rx.toast.info(message))
        return events

    def _load_page(self, work, *, on_error=None):
        """That shape for a page's data: the user, their organizations (``_load_session``) and
        ``work(session, user)``; a lapsed sign-in goes to /signin, a service's refusal to
        ``on_error(message)`` (default: ``self.error``); ``self.loading`` ends either way."""
        try:
            with session_scope() as session:
                user = self._current_user(session)
                self._load_session(session, user)
                work(session, user)
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            if on_error is None:
                self.error = exc.message
            else:
                on_error(exc.message)
        finally:
            self.loading = False
        return None

    def _load_session(self, session, user: User, prefer_org: str | None = None) -> None:
        """Fill user, organizations and permissions for the current organization."""
        self.user_email = user.email
        self.user_name = user.full_name or user.email.split("@")[0]
        self.is_platform_admin = bool(user.is_platform_admin)
        listed = org_service.list_organizations(session, user)
        self.orgs = [
            {"id": str(o.organization.id), "name": o.organization.name, "role": o.role.replace("_", " ")}
            for o in listed
        ]
        ids = [o["id"] for o in self.orgs]
        wanted = prefer_org or self.org_id
        self.org_id = wanted if wanted in ids else (ids[0] if ids else "")
        org = self._org_uuid()
        self.permissions = sorted(permissions_of(session, user, org)) if org else []
        self.session_ready = True

    # --- computed values the layout shows
    def _current_org(self) -> dict[str, str]:
        return next((org for org in self.orgs if org["id"] == self.org_id), {})

    @rx.var
    def org_name(self) -> str:
        return self._current_org().get("name", "")

    @rx.var
    def org_role(self) -> str:
        return self._current_org().get("role", "")

    @rx.var
    def user_initials(self) -> str:
        parts = [p for p in self.user_name.replace(".", " ").split() if p]
        return "".join(p[0] for p in parts[:2]).upper() or "?"

    @rx.var
    def can_create_agent(self) -> bool:
        return "agent:create" in self.permissions

    @rx.var
    def can_update_agent(self) -> bool:
        return "agent:update" in self.permissions

    @rx.var
    def can_delete_agent(self) -> bool:
        return "agent:delete" in self.permissions

    # --- events
    @rx.event
    def guard(self):
        """on_load of every signed-in page."""
        try:
            with session_scope() as session:
                user = self._current_user(session)
                self._load_session(session, user)
        except NotAuthenticated:
            return self._signed_out()

    @rx.event
    def go_home(self):
        """on_load of ``/``: Reflex only runs event handlers there, so the decision lives here."""
        if not self.token:
            return rx.redirect(SIGNIN_ROUTE)
        try:
            with session_scope() as session:
                self._current_user(session)
        except NotAuthenticated:
            return self._signed_out()
        return rx.redirect(HOME_ROUTE)

    @rx.event
    def switch_org(self, org_id: str):
        """The organization switcher: remember the choice and show the same section for that org."""
        if org_id == self.org_id:
            return None
        try:
            with session_scope() as session:
                user = self._current_user(session)
                self._load_session(session, user, prefer_org=org_id)
        except NotAuthenticated:
            return self._signed_out()
        path = self.router.url.path or HOME_ROUTE
        section = next((s for s in SECTIONS if path == s or path.startswith(s + "/")), HOME_ROUTE)
        return [rx.redirect(section), rx.toast.info(f"Switched to {self.org_name}")]

    @rx.event
    def sign_out(self):
        """Revokes this user's tokens through the service, then forgets them here."""
        self._revoke_everywhere()
        return rx.redirect(SIGNIN_ROUTE)

    def _revoke_everywhere(self) -> None:
        """Every token of this user stops working (every device, this one too); this browser forgets it."""
        try:
            with session_scope() as session:
                auth_service.signout(session, self._current_user(session))
        except DomainError:
            pass  # already invalid: signing out locally is all that is left
        self.org_id, self.token, self.session_ready = "", "", False
