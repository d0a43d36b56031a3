"""Invitations: ``/organizations/{org_id}/invitations`` for admins, ``/invitations/{token}`` for the invited."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, Field

from voice_platform.api.deps import CurrentUser, SessionDep
from voice_platform.api.schemas import EMAIL, ROLES, declared
from voice_platform.services import invitations

router = APIRouter(tags=["invitations"])
_SCOPED = {401: {"description": "Not signed in"}, 403: {"description": "Not allowed"}, 404: {"description": "Not found"}}
Token = Path(min_length=10, max_length=200)


class InvitationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(max_length=320, **EMAIL)
    role: str = Field(default="member", max_length=50, **declared(enum=ROLES))


class InvitationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    email: str
    role: str
    expires_at: datetime


class CreatedOut(InvitationOut):
    link: str = Field(description="Share it with the invited person: it works once, until expires_at")
    mailed: bool = Field(default=False, description="The link was e-mailed to the invited person (SMTP configured)")
    mail_warning: str | None = Field(default=None, description="Why the e-mail could not be sent; share the link yourself")


class PreviewOut(BaseModel):
    organization_id: uuid.UUID
    organization_name: str
    email: str
    role: str
    state: str = Field(description="valid | expired | used | revoked")


class AcceptedOut(BaseModel):
    organization_id: uuid.UUID


@router.post("/organizations/{org_id}/invitations", response_model=CreatedOut, status_code=status.HTTP_201_CREATED,
             responses={**_SCOPED, 409: {"description": "Already a member"}})
def create(org_id: uuid.UUID, body: InvitationIn, user: CurrentUser, session: SessionDep) -> CreatedOut:
    made = invitations.create_invitation(session, user, org_id, email=body.email, role=body.role)
    session.commit()  # stored before the e-mail leaves: the link it carries must already work
    sent = invitations.send_invitation_mail(made)
    return CreatedOut(**InvitationOut.model_validate(made.invitation).model_dump(), link=made.link,
                      mailed=sent.mailed, mail_warning=sent.warning)


@router.get("/organizations/{org_id}/invitations", response_model=list[InvitationOut], responses=_SCOPED)
def pending(org_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> list[InvitationOut]:
    return [InvitationOut.model_validate(i) for i in invitations.pending_invitations(session, user, org_id)]


@router.delete("/organizations/{org_id}/invitations/{invitation_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses=_SCOPED)
def revoke(org_id: uuid.UUID, invitation_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> None:
    invitations.revoke_invitation(session, user, org_id, invitation_id)


@router.get("/invitations/{token}", response_model=PreviewOut, responses={404: {"description": "Unknown link"}})
def preview(session: SessionDep, token: str = Token) -> PreviewOut:
    """Public: what the link invites to (organization, address, role) and whether it still works."""
    return PreviewOut(**vars(invitations.preview(session, token)))


@router.post("/invitations/{token}/accept", response_model=AcceptedOut,
             responses={**_SCOPED, 409: {"description": "Expired, used or withdrawn"}})
def accept(user: CurrentUser, session: SessionDep, token: str = Token) -> AcceptedOut:
    return AcceptedOut(organization_id=invitations.accept(session, user, token))
