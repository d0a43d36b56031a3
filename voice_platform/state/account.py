"""``/account``: the signed-in person's own settings — name, password, signing out everywhere,
and the call summaries they get by e-mail (``SummaryMailState``).

Thin: every change goes through the auth service (the API's ``PUT /auth/user`` and
``POST /auth/password`` call the same functions). An account made by "Sign in with Google"
has no password until it sets one here (``set_password``); the card then becomes the usual
change form. The theme is Reflex's color mode, which the browser remembers by itself.
"""

from __future__ import annotations

import reflex as rx

from voice_platform.db import session_scope
from voice_platform.errors import DomainError, NotAuthenticated
from voice_platform.services import agents as agent_service
from voice_platform.services import auth as auth_service
from voice_platform.services import call_summaries, mail
from voice_platform.state.auth import SIGNIN_ROUTE, AuthState

PASSWORD_FIELDS = ("current_password", "new_password", "confirm_password")
MISMATCH = {"confirm_password": "The two new passwords are not the same"}
FIX_FIELD = "Please fix the highlighted field"


class AccountState(AuthState):
    profile_errors: dict[str, str] = {}
    password_errors: dict[str, str] = {}
    loading: bool = True
    form_key: int = 0
    password_key: int = 0
    has_password: bool = True  # False: the Password card offers to set one (no current password)

    @rx.event
    def load(self):
        self.loading, self.profile_errors, self.password_errors = True, {}, {}
        try:
            with session_scope() as session:
                user = self._current_user(session)
                self._load_session(session, user)
                self.has_password = auth_service.has_password(user)
        except NotAuthenticated:
            return self._signed_out()
        finally:
            self.loading = False
            self.form_key += 1
        return None

    @rx.event
    def save_profile(self, form: dict):
        self.profile_errors = {}
        try:
            with session_scope() as session:
                user = auth_service.update_profile(session, self._current_user(session),
                                                   full_name=str(form.get("full_name") or ""))
                self._load_session(session, user)
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            self.profile_errors = {exc.field or "": exc.message}
            return rx.toast.error(exc.message)
        return rx.toast.success("Profile saved")

    @rx.event
    def change_password(self, form: dict):
        if (values := self._password_form(form)) is None:
            return rx.toast.error(FIX_FIELD)
        try:
            with session_scope() as session:
                signed_in = auth_service.change_password(
                    session, self._current_user(session), current_password=values["current_password"],
                    new_password=values["new_password"])
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            self.password_errors = {exc.field or "": exc.message}
            return rx.toast.error(FIX_FIELD)
        self._signed_in_again(signed_in)
        return rx.toast.success("Password changed. Every other session has been signed out.")

    @rx.event
    def set_password(self, form: dict):
        """The first password of an account made by "Sign in with Google"."""
        if (values := self._password_form(form)) is None:
            return rx.toast.error(FIX_FIELD)
        try:
            with session_scope() as session:
                user = self._current_user(session)
                try:
                    signed_in = auth_service.set_password(session, user, new_password=values["new_password"])
                finally:
                    # Refused because one was set meanwhile (another tab, a reset link): the card
                    # turns into the change form, whose "Current password" shows the message.
                    self.has_password = auth_service.has_password(user)
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            self.password_errors = {exc.field or "": exc.message}
            return rx.toast.error(FIX_FIELD)
        self._signed_in_again(signed_in)
        return rx.toast.success("Password set: you can sign in with your e-mail too. "
                                "Every other session has been signed out.")

    def _password_form(self, form: dict) -> dict[str, str] | None:
        """The password form's values; None (and the fields' errors set) when the new one and its
        confirmation differ."""
        values = {k: str(form.get(k) or "") for k in PASSWORD_FIELDS}
        self.password_errors = {}
        if values["new_password"] != values["confirm_password"]:
            self.password_errors = MISMATCH
            return None
        return values

    def _signed_in_again(self, signed_in) -> None:
        self.token = signed_in.access_token  # this browser stays signed in; every other one is out
        self.password_key += 1  # empties the form

    @rx.event
    def sign_out_everywhere(self):
        """Every token of this user stops working, this browser's too (what signing out does)."""
        self._revoke_everywhere()
        return [rx.redirect(SIGNIN_ROUTE), rx.toast.info("Signed out on every device")]


class SummaryMailState(AuthState):
    """The account page's "Call summaries by e-mail", for the organization being looked at.

    ``services.call_summaries`` keeps the rules (who may subscribe, which agents exist); this
    state only holds the choice: every agent, or the ones ticked. Without SMTP on this
    installation nothing would be sent, and the card says so instead of offering a subscription.
    """

    summaries_shown: bool = False  # the person may read the organization's calls (call:read)
    subscribed: bool = False
    every_agent: bool = True
    chosen_agents: list[str] = []
    agent_options: list[dict[str, str]] = []
    mail_available: bool = False
    subscribed_label: str = ""  # what the service holds: "Subscribed: every agent" / "...: 2 agents"

    @rx.event
    def load(self):
        self.summaries_shown = False
        return self._load_page(self._fetch, on_error=lambda _message: None)

    def _fetch(self, session, user) -> None:
        org = self._org_uuid()
        if org is None or "call:read" not in self.permissions:
            return
        self.mail_available = mail.is_configured()
        agents = agent_service.list_agents(session, user, org, limit=200).items
        self.agent_options = [{"id": str(a.id), "name": a.name} for a in agents]
        self._show(call_summaries.get_subscription(session, user, org))
        self.summaries_shown = True

    def _show(self, subscription) -> None:
        self.subscribed = subscription.subscribed
        self.every_agent = subscription.agent_ids is None
        self.chosen_agents = [str(a) for a in subscription.agent_ids or []]
        self.mail_available = subscription.mail_available
        count = len(self.chosen_agents)
        scope = "every agent" if self.every_agent else f"{count} agent{'' if count == 1 else 's'}"
        self.subscribed_label = f"Subscribed: {scope}" if self.subscribed else "Not subscribed"

    @rx.event
    def set_every_agent(self, value: str):
        self.every_agent = value == "all"

    @rx.event
    def toggle_agent(self, agent_id: str, checked: bool):
        wanted = set(self.chosen_agents) | {agent_id} if checked else set(self.chosen_agents) - {agent_id}
        self.chosen_agents = [a["id"] for a in self.agent_options if a["id"] in wanted]

    @rx.event
    def subscribe(self):
        if not self.every_agent and not self.chosen_agents:
            return rx.toast.error("Tick at least one agent, or choose every agent")
        agents = None if self.every_agent else list(self.chosen_agents)
        return self._change(lambda s, u, org: self._show(call_summaries.subscribe(s, u, org, agents)),
                            "Subscribed: a summary of each analysed call comes by e-mail")

    @rx.event
    def unsubscribe(self):
        def forget(session, user, org):
            call_summaries.unsubscribe(session, user, org)
            self.subscribed, self.subscribed_label = False, "Not subscribed"

        return self._change(forget, "Unsubscribed from call summaries")

    def _change(self, work, success: str):
        try:
            with session_scope() as session:
                work(session, self._current_user(session), self._require_org())
        except NotAuthenticated:
            return self._signed_out()
        except DomainError as exc:
            return rx.toast.error(exc.message)
        return rx.toast.success(success)
