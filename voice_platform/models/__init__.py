"""SQLModel tables only. Importing this package registers every table on ``SQLModel.metadata``."""

from voice_platform.models.accounts import ApiKey, AuditEvent, PasswordReset, SigninState
from voice_platform.models.agents import VoiceAgent
from voice_platform.models.billing import BillingEvent, Plan, Subscription
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
from voice_platform.models.tools import AgentTool, OAuthState, PlatformTool

__all__ = [
    "AgentTool",
    "ApiKey",
    "AuditEvent",
    "PasswordReset",
    "Plan",
    "SigninState",
    "BillingEvent",
    "CallSession",
    "CallTurn",
    "CustomTool",
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
]
