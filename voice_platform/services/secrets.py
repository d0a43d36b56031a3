"""Key rotation for secrets at rest.

Put the new Fernet key first in ENCRYPTION_KEYS (keep the old ones after it), run
``make rotate-keys``, then drop the old keys: every ciphertext we own is
re-encrypted under the newest key in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from voice_platform.models import AgentTool, CustomTool, OAuthState, SigninState, WebhookEndpoint
from voice_platform.security import rotate_ciphertext


@dataclass(frozen=True)
class RotationReport:
    agent_tools: int
    oauth_states: int
    custom_tools: int = 0  # custom tools' header values
    webhook_secrets: int = 0


def rotate_all(session: Session) -> RotationReport:
    tools = 0
    for row in session.exec(select(AgentTool).where(AgentTool.sensitive_config.is_not(None)).with_for_update()).all():
        row.sensitive_config = rotate_ciphertext(row.sensitive_config)
        session.add(row)
        tools += 1
    states = 0
    for table in (OAuthState, SigninState):  # the PKCE verifiers of pending Calendar connects and Google sign-ins
        for row in session.exec(select(table).where(table.code_verifier_encrypted.is_not(None)).with_for_update()).all():
            row.code_verifier_encrypted = rotate_ciphertext(row.code_verifier_encrypted)
            session.add(row)
            states += 1
    custom = 0
    for row in session.exec(select(CustomTool).where(CustomTool.headers_encrypted.is_not(None)).with_for_update()).all():
        row.headers_encrypted = rotate_ciphertext(row.headers_encrypted)
        session.add(row)
        custom += 1
    hooks = 0
    for row in session.exec(select(WebhookEndpoint).with_for_update()).all():  # signing secrets
        row.secret_encrypted = rotate_ciphertext(row.secret_encrypted)
        session.add(row)
        hooks += 1
    session.flush()
    return RotationReport(agent_tools=tools, oauth_states=states, custom_tools=custom, webhook_secrets=hooks)
