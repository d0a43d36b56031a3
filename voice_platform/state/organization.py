"""The organization's settings: name, business details and time zone (the agents' shared context)."""

from __future__ import annotations


import reflex as rx

from voice_platform.db import session_scope
from voice_platform.errors import DomainError, NotAuthenticated
from voice_platform.services import organizations as org_service
from voice_platform.state.auth import AuthState

FIELDS = ("name", "business_details", "timezone")


class OrganizationState(AuthState):
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    loading: bool = True
    form_key: int = 0

    @rx.var
    def can_manage_org(self) -> bool:
        return "org:manage" in self.permissions

    @rx.event
    def load(self):
        self.loading, self.errors = True, {}
        try:
            with session_scope() as session:
                user = self._current_user(session)
                self._load_session(session, user)
                org = self._require_org()
                found = org_service.get_organization(session, user, org).organization
                self.values = {"name": found.name, "business_details": found.business_details or "",
                               "timezone": found.timezone}
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            self.errors = {"": exc.message}
        finally:
            self.loading = False
            self.form_key += 1
        return None

    @rx.event
    def save(self, form: dict):
        changes = {k: str(form.get(k) or "") for k in FIELDS}
        self.values, self.errors = changes, {}
        try:
            with session_scope() as session:
                user = self._current_user(session)
                org = org_service.update_organization(session, user, self._require_org(), changes)
                self._load_session(session, user, prefer_org=str(org.id))
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            field = exc.field or ""
            self.errors = {field: exc.message}
            return [rx.scroll_to(field), rx.toast.error("Please fix the highlighted field")] if field else rx.toast.error(self.errors[""])
        return rx.toast.success("Organization saved")
