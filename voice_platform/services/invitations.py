"""Inviting people into an organization by e-mail: a link that works once and expires.

``create_invitation`` stores the invitation and returns its link; once the caller has
committed, ``send_invitation_mail`` e-mails it to the invitee when SMTP is configured.
Either way the admin sees the link (members page, API): without SMTP, or when the mail
could not be sent (then with a warning), they share it by hand. The link carries a random
token; only its SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, select

from voice_platform.errors import Conflict, MailNotSent, NotFound, PermissionDenied
from voice_platform.models import Invitation, Membership, Organization, User
from voice_platform.models.base import aware, utcnow
from voice_platform.services import audit, mail, validation
from voice_platform.services.validation import insert_for
from voice_platform.services.auth import find_user_by_email
from voice_platform.services.rbac import ASSIGNABLE_ROLES, refuse_api_key, require, role_id
from voice_platform.settings import get_settings

NOT_FOUND = "This invitation does not exist"
VALID, EXPIRED, USED, REVOKED = "valid", "expired", "used", "revoked"


@dataclass(frozen=True)
class Created:
    invitation: Invitation
    link: str
    organization_name: str = ""
    invited_by: str = ""  # the inviting person's name or e-mail; "" for an API key


@dataclass(frozen=True)
class Delivery:
    """What became of the invitation e-mail: sent, not attempted (no SMTP), or failed (``warning``)."""

    mailed: bool
    warning: str | None = None


@dataclass(frozen=True)
class Preview:
    organization_id: uuid.UUID
    organization_name: str
    email: str
    role: str
    state: str  # valid | expired | used | revoked


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_for(token: str) -> str:
    return get_settings().public_base_url.rstrip("/") + "/invite/" + token


def _state(invitation: Invitation, now: datetime) -> str:
    if invitation.revoked_at is not None:
        return REVOKED
    if invitation.accepted_at is not None:
        return USED
    if aware(invitation.expires_at) <= now:
        return EXPIRED
    return VALID


def create_invitation(session: Session, actor: User, org_id: uuid.UUID, *, email: str, role: str) -> Created:
    require(session, actor, "member:manage", org_id)
    validation.choice(role, "role", ASSIGNABLE_ROLES)
    address = validation.email(email)
    existing = find_user_by_email(session, address)
    if existing is not None and session.exec(select(Membership.id).where(
            Membership.organization_id == org_id, Membership.user_id == existing.id)).first() is not None:
        raise Conflict("This person is already a member", field="email")
    now = utcnow()
    session.execute(  # a newer invitation replaces a pending one for the same address
        update(Invitation).where(Invitation.organization_id == org_id, Invitation.email == address,
                                 Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))
        .values(revoked_at=now, updated_at=now)
    )
    token = secrets.token_urlsafe(32)
    invitation = Invitation(organization_id=org_id, email=address, role=role, token_hash=_hash(token),
                            invited_by_id=actor.id,
                            expires_at=now + timedelta(hours=get_settings().invitation_ttl_hours))
    session.add(invitation)
    session.flush()
    audit.record(session, actor, org_id, "invitation.created", target_type="invitation", target_id=invitation.id,
                 summary=f"Invited {address} as {role.replace('_', ' ')}",
                 after={"email": address, "role": role, "expires_at": invitation.expires_at.isoformat()})
    org = session.get(Organization, org_id)
    inviter = "" if getattr(actor, "api_key_id", None) else (actor.full_name or actor.email)
    return Created(invitation, link_for(token), org.name if org else "", inviter)


def send_invitation_mail(made: Created) -> Delivery:
    """E-mail the link to the invitee; call it once the invitation is committed (the link must work).

    A failed send does not raise: the invitation stands, and the warning tells the admin to
    share the link by hand.
    """
    if not mail.is_configured():
        return Delivery(mailed=False)
    invitation = made.invitation
    org = made.organization_name or "an organization"
    role = invitation.role.replace("_", " ")
    expires = aware(invitation.expires_at).strftime("%Y-%m-%d %H:%M UTC")
    who = made.invited_by or "Someone"
    try:
        mail.send(mail.Mail(
            to=invitation.email,
            subject=f"{who} invited you to {org}",
            paragraphs=(
                "Hello,",
                f"{who} invited you to join {org} as {role}. Follow the link to accept; on the way you "
                f"sign in, or create an account, with this address ({invitation.email}).",
                f"The link works once, until {expires}.",
            ),
            link=made.link,
            button=f"Join {org}",
            footer="Not expecting this? Ignore this e-mail: nothing happens unless you follow the link.",
        ))
    except MailNotSent as exc:
        return Delivery(mailed=False, warning=f"{exc.message}. The invitation stands: copy the link and send it yourself.")
    return Delivery(mailed=True)


def pending_invitations(session: Session, actor: User, org_id: uuid.UUID) -> list[Invitation]:
    require(session, actor, "org:read", org_id)
    now = utcnow()
    return list(session.exec(
        select(Invitation).where(Invitation.organization_id == org_id, Invitation.accepted_at.is_(None),
                                 Invitation.revoked_at.is_(None), Invitation.expires_at > now)
        .order_by(Invitation.created_at.desc())
    ).all())


def revoke_invitation(session: Session, actor: User, org_id: uuid.UUID, invitation_id: uuid.UUID) -> None:
    require(session, actor, "member:manage", org_id)
    invitation = session.get(Invitation, invitation_id)
    if invitation is None or invitation.organization_id != org_id:
        raise NotFound("Invitation not found")
    if invitation.revoked_at is None and invitation.accepted_at is None:
        invitation.revoked_at = utcnow()
        session.add(invitation)
        session.flush()
        audit.record(session, actor, org_id, "invitation.revoked", target_type="invitation", target_id=invitation.id,
                     summary=f"Withdrew the invitation for {invitation.email}", before={"email": invitation.email,
                                                                                        "role": invitation.role})


def preview(session: Session, token: str) -> Preview:
    """What the invitation page shows before anyone signs in (no secrets: org name, address, role)."""
    invitation = session.exec(select(Invitation).where(Invitation.token_hash == _hash(token or ""))).first()
    if invitation is None:
        raise NotFound(NOT_FOUND)
    org = session.get(Organization, invitation.organization_id)
    return Preview(invitation.organization_id, org.name if org else "", invitation.email, invitation.role,
                   _state(invitation, utcnow()))


def accept(session: Session, user: User, token: str) -> uuid.UUID:
    """Join the organization (the organization's id). Works once, before it expires, for its address."""
    refuse_api_key(user, "accept invitations; the invited person signs in and accepts")
    found = preview(session, token)
    if found.state != VALID:
        raise Conflict({EXPIRED: "This invitation has expired; ask for a new one",
                        USED: "This invitation has already been used",
                        REVOKED: "This invitation was withdrawn"}[found.state])
    if user.email.lower() != found.email.lower():
        raise PermissionDenied(f"This invitation was sent to {found.email}; sign in with that address")
    now = utcnow()
    taken = session.execute(
        update(Invitation)
        .where(Invitation.token_hash == _hash(token), Invitation.accepted_at.is_(None),
               Invitation.revoked_at.is_(None), Invitation.expires_at > now)
        .values(accepted_at=now, accepted_by_id=user.id, updated_at=now)
        .returning(Invitation.id)
    ).first()
    if taken is None:  # someone clicked it a moment earlier
        raise Conflict("This invitation has already been used")
    # already a member, or added concurrently: a member either way (one statement, no savepoint)
    joined = session.execute(insert_for(session)(Membership.__table__).values(
        id=uuid.uuid4(), user_id=user.id, organization_id=found.organization_id, role_id=role_id(session, found.role),
        created_at=now, updated_at=now,
    ).on_conflict_do_nothing(index_elements=["user_id", "organization_id"]).returning(Membership.__table__.c.id)).first()
    if joined is not None:  # an existing member's role is left as it was: nothing to record
        audit.record(session, user, found.organization_id, "member.added", target_type="user", target_id=user.id,
                     summary=f"{user.email} joined as {found.role.replace('_', ' ')} through an invitation",
                     after={"email": user.email, "role": found.role, "invitation_id": str(taken[0])})
    return found.organization_id
