"""/api/v1/auth/password-reset: ask for a link by e-mail, then set a new password with it."""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from voice_platform.api.deps import SessionDep
from voice_platform.api.schemas import TokenOut, UserOut
from voice_platform.services import password_reset

router = APIRouter(prefix="/auth/password-reset", tags=["auth"])


class ResetRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(max_length=1024)


class ResetRequestOut(BaseModel):
    detail: str = Field(description="The same words whether or not the address has an account")


class ResetConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(max_length=1024, description="The last part of the link: /reset-password/<token>")
    password: str = Field(max_length=1024)


@router.post("", response_model=ResetRequestOut, status_code=status.HTTP_202_ACCEPTED,
             responses={503: {"description": "This installation sends no e-mail (SMTP_HOST / SMTP_FROM unset)"}})
def request_reset(body: ResetRequestIn, session: SessionDep) -> ResetRequestOut:
    """Mails a one-time link if the address has an account; the answer never says whether it has."""
    return ResetRequestOut(detail=password_reset.request(session, body.email))


@router.post("/confirm", response_model=TokenOut,
             responses={403: {"description": "Unknown, expired or already used link"},
                        422: {"description": "The new password breaks the password rules"}})
def confirm_reset(body: ResetConfirmIn, session: SessionDep) -> TokenOut:
    """Sets the new password and signs out every other session; the returned token is signed in."""
    signed_in = password_reset.confirm(session, body.token, body.password)
    return TokenOut(access_token=signed_in.access_token, user=UserOut.model_validate(signed_in.user))
