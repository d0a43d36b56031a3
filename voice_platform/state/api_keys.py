"""The organization's API keys (``services.api_keys``): create (the secret shown once), list, revoke."""

from __future__ import annotations

import uuid

import reflex as rx

from voice_platform.db import session_scope
from voice_platform.errors import DomainError, NotAuthenticated
from voice_platform.services import api_keys as key_service
from voice_platform.services.rbac import ASSIGNABLE_ROLES
from voice_platform.state.auth import AuthState


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


def key_row(key: key_service.KeyView) -> dict[str, str]:
    return {"id": str(key.id), "name": key.name, "prefix": key.prefix + "…", "role": key.role.replace("_", " "),
            "created_by": key.created_by or "(deleted account)", "created": _when(key.created_at),
            "last_used": _when(key.last_used_at) or "never", "revoked": _when(key.revoked_at)}


class ApiKeysState(AuthState):
    keys: list[dict[str, str]] = []
    errors: dict[str, str] = {}
    new_role: str = "member"
    form_key: int = 0
    loading: bool = True
    # The secret of the key just made: shown once, forgotten on dismiss or on the next load.
    new_secret: str = ""
    new_secret_name: str = ""

    @rx.var
    def can_manage_keys(self) -> bool:
        return "org:manage" in self.permissions

    def _refresh(self, session, user) -> None:
        self.keys = [key_row(k) for k in key_service.list_keys(session, user, self._require_org())]

    @rx.event
    def load(self):
        self.loading, self.errors, self.keys = True, {}, []
        self.new_secret, self.new_secret_name = "", ""
        def keys(session, user) -> None:
            if self.can_manage_keys:
                self._refresh(session, user)

        return self._load_page(keys, on_error=self._form_error)

    def _form_error(self, message: str) -> None:
        self.errors = {"": message}

    @rx.event
    def set_new_role(self, value: str):
        if value in ASSIGNABLE_ROLES:
            self.new_role = value

    @rx.event
    def create(self, form: dict):
        self.errors, self.new_secret, self.new_secret_name = {}, "", ""
        try:
            with session_scope() as session:
                user = self._current_user(session)
                made = key_service.create_key(session, user, self._require_org(), name=str(form.get("name") or ""),
                                              role=self.new_role)
                self._refresh(session, user)
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            self.errors = {exc.field or "": exc.message}
            return rx.toast.error(exc.message)
        self.new_secret, self.new_secret_name = made.secret, made.key.name
        self.form_key += 1
        return rx.toast.success(f"API key {made.key.name} created: copy it now")

    @rx.event
    def dismiss_secret(self):
        self.new_secret, self.new_secret_name = "", ""

    @rx.event
    def revoke(self, key_id: str):
        try:
            with session_scope() as session:
                user = self._current_user(session)
                revoked = key_service.revoke_key(session, user, self._require_org(), uuid.UUID(key_id))
                self._refresh(session, user)
        except NotAuthenticated:
            return self._signed_out()
        except (DomainError, ValueError) as exc:
            return rx.toast.error(getattr(exc, "message", "Unknown key"))
        return rx.toast.success(f"API key {revoked.name} revoked")
