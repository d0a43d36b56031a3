"""SQLModel tables only. Importing this package registers every table on ``SQLModel.metadata``."""

from voice_platform.models.accounts import ApiKey, AuditEvent, PasswordReset, SigninState
from voice_platform.models.agents import VoiceAgent
from voice_platform.models.billing import BillingEvent, Plan, Subscription
from voice_platform.models.call_summaries import CallSummaryMail, CallSummarySubscription
from voice_platform.models.calls import CallSession, CallTurn, ToolInvocation
from voice_platform.models.custom_tools import CustomTool
from voice_platform.models.identity import (
    Membership,
    Organization,
    Permission,
    Role,
    RolePermission,
    SigninThrottle,
    User,
)
from voice_platform.models.invitations import Invitation
from voice_platform.models.numbers import PhoneNumber
from voice_platform.models.outbound import BackgroundLease, Campaign, CampaignContact, DoNotCallNumber
from voice_platform.models.tools import AgentTool, OAuthState, PlatformTool
from voice_platform.models.webhooks import WebhookDelivery, WebhookEndpoint, WebhookEvent

__all__ = [
    "AgentTool",
    "ApiKey",
    "AuditEvent",
    "BackgroundLease",
    "PasswordReset",
    "Plan",
    "SigninState",
    "BillingEvent",
    "Campaign",
    "CampaignContact",
    "CallSession",
    "CallSummaryMail",
    "CallSummarySubscription",
    "CallTurn",
    "CustomTool",
    "DoNotCallNumber",
    "Invitation",
    "Membership",
    "OAuthState",
    "Organization",
    "Permission",
    "PhoneNumber",
    "PlatformTool",
    "Role",
    "RolePermission",
    "SigninThrottle",
    "Subscription",
    "ToolInvocation",
    "User",
    "VoiceAgent",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]
