"""Every route of the dashboard, registered in one place.

To add a page (e.g. issue 8's tools page): write ``pages/agent_tools.py`` with a
``page()`` built from ``components.signed_in_page``, and add one line here::

    app.add_page(agent_tools.page, route="/agents/[agent_id]/tools", title=..., on_load=ToolsState.load)
"""

from __future__ import annotations

import reflex as rx

from voice_platform.pages import agent_form, agents, index, signin, signup
from voice_platform.state import AgentFormState, AgentsState, AuthState, SessionFormState

TITLE = "Voiceline"


def register_pages(app: rx.App) -> None:
    app.add_page(index.page, route="/", title=TITLE, on_load=AuthState.go_home)
    from voice_platform.components.google_signin import google_handoff_page
    from voice_platform.state.google_signin import GoogleLinkState, GoogleSigninState
    app.add_page(signin.page, route="/signin", title=f"Sign in · {TITLE}",
                 on_load=[SessionFormState.redirect_if_signed_in, GoogleSigninState.prepare])
    app.add_page(signup.page, route="/signup", title=f"Create account · {TITLE}",
                 on_load=[SessionFormState.redirect_if_signed_in, GoogleSigninState.prepare])
    # Where "Sign in with Google" ends: swaps the callback's one-time code for this browser's session.
    app.add_page(google_handoff_page, route="/signin/google", title=f"Sign in · {TITLE}", on_load=GoogleSigninState.finish)
    app.add_page(agents.page, route="/agents", title=f"Agents · {TITLE}", on_load=AgentsState.load)
    app.add_page(agent_form.page, route="/agents/new", title=f"New agent · {TITLE}", on_load=AgentFormState.load)
    from voice_platform.state.outbound_call import OutboundCallState
    app.add_page(agent_form.page, route="/agents/[agent_id]", title=f"Agent · {TITLE}",
                 on_load=[AgentFormState.load, OutboundCallState.reset_card])
    from voice_platform.pages import agent_tools  # the agent tools page (its state module is large: loaded with its page)
    app.add_page(agent_tools.page, route="/agents/[agent_id]/tools", title=f"Tools · {TITLE}", on_load=agent_tools.S.load)
    from voice_platform.pages import calls
    from voice_platform.state.call_detail import CallDetailState
    from voice_platform.state.calls import CallsState
    app.add_page(calls.page, route="/calls", title=f"Calls · {TITLE}", on_load=CallsState.load)
    app.add_page(calls.detail_page, route="/calls/[call_id]", title=f"Call · {TITLE}", on_load=CallDetailState.load)
    from voice_platform.pages import organization
    from voice_platform.state.organization import OrganizationState
    app.add_page(organization.page, route="/settings", title=f"Settings · {TITLE}", on_load=OrganizationState.load)
    from voice_platform.pages import overview
    from voice_platform.state.overview import OverviewState
    app.add_page(overview.page, route="/overview", title=f"Overview · {TITLE}", on_load=OverviewState.load)
    from voice_platform.pages import members
    from voice_platform.state.members import MembersState
    app.add_page(members.page, route="/members", title=f"Members · {TITLE}", on_load=MembersState.load)
    from voice_platform.pages import phone_numbers
    from voice_platform.state.phone_numbers import PhoneNumbersState
    app.add_page(phone_numbers.page, route="/phone-numbers", title=f"Phone numbers · {TITLE}",
                 on_load=PhoneNumbersState.load)
    from voice_platform.pages import custom_tools
    from voice_platform.state.custom_tools import CustomToolsState
    app.add_page(custom_tools.page, route="/custom-tools", title=f"Custom tools · {TITLE}", on_load=CustomToolsState.load)
    from voice_platform.pages import billing
    from voice_platform.state.billing import BillingState
    app.add_page(billing.page, route="/billing", title=f"Billing · {TITLE}", on_load=BillingState.load)
    from voice_platform.pages import account
    from voice_platform.state.account import AccountState, SummaryMailState
    app.add_page(account.page, route="/account", title=f"Account · {TITLE}",
                 on_load=[AccountState.load, GoogleLinkState.load, SummaryMailState.load])
    from voice_platform.pages import admin
    from voice_platform.state.admin import AdminState
    app.add_page(admin.page, route="/admin", title=f"Platform admin · {TITLE}", on_load=AdminState.load)
    from voice_platform.pages import invite
    from voice_platform.state.invite import InviteState
    app.add_page(invite.page, route="/invite/[invite_token]", title=f"Invitation · {TITLE}", on_load=InviteState.load)
    from voice_platform.pages import password_reset
    from voice_platform.state.password_reset import PasswordResetState
    app.add_page(password_reset.forgot_page, route="/forgot-password", title=f"Forgot password · {TITLE}",
                 on_load=PasswordResetState.load_forgot)
    # [reset_token], not [token]: AuthState.token is the session
    app.add_page(password_reset.reset_page, route="/reset-password/[reset_token]", title=f"New password · {TITLE}",
                 on_load=PasswordResetState.load_reset)
    from voice_platform.pages import api_keys, audit_log
    from voice_platform.state.api_keys import ApiKeysState
    from voice_platform.state.audit_log import AuditLogState
    app.add_page(api_keys.page, route="/organization/api-keys", title=f"API keys · {TITLE}", on_load=ApiKeysState.load)
    app.add_page(audit_log.page, route="/organization/audit-log", title=f"Audit log · {TITLE}", on_load=AuditLogState.load)
    from voice_platform.pages import webhooks
    from voice_platform.state.webhooks import WebhooksState
    app.add_page(webhooks.page, route="/webhooks", title=f"Webhooks · {TITLE}", on_load=WebhooksState.load)
    from voice_platform.pages import campaign_detail, campaigns, do_not_call
    from voice_platform.state.campaign_detail import CampaignDetailState
    from voice_platform.state.campaign_form import NewCampaignState
    from voice_platform.state.campaigns import CampaignsState
    from voice_platform.state.do_not_call import DoNotCallState
    app.add_page(campaigns.page, route="/campaigns", title=f"Campaigns · {TITLE}",
                 on_load=[CampaignsState.load, NewCampaignState.close])
    app.add_page(campaign_detail.page, route="/campaigns/[campaign_id]", title=f"Campaign · {TITLE}",
                 on_load=CampaignDetailState.load)
    app.add_page(do_not_call.page, route="/do-not-call", title=f"Do not call · {TITLE}", on_load=DoNotCallState.load)
    # Reflex 0.10: the 404 page is an ordinary add_page on the "404" route.
    app.add_page(index.not_found_page, route="404", title=f"Not found · {TITLE}", on_load=AuthState.guard)
