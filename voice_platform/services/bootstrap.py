"""First-run setup: an empty database gets a platform admin and a demo organization.

Decision: credentials are generated and printed once by ``make run`` (or taken from
BOOTSTRAP_ADMIN_PASSWORD), rather than leaving an open first-run sign-up page that
whoever reaches the server first could claim.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, select

from voice_platform.models import User
from voice_platform.services.auth import create_organization_for, create_user
from voice_platform.settings import get_settings


@dataclass(frozen=True)
class FirstAdmin:
    email: str
    password: str
    organization_name: str


def ensure_first_admin(session: Session) -> FirstAdmin | None:
    """Returns the new credentials, or None when the database already has users."""
    if session.exec(select(func.count()).select_from(User)).one() > 0:
        return None
    settings = get_settings()
    password = settings.bootstrap_admin_password or secrets.token_urlsafe(12)
    user = create_user(
        session,
        email=settings.bootstrap_admin_email,
        password=password,
        full_name="Platform Admin",
        is_platform_admin=True,
    )
    create_organization_for(session, user, settings.bootstrap_org_name, "Created on first run; rename it in Settings.")
    return FirstAdmin(user.email, password, settings.bootstrap_org_name)
