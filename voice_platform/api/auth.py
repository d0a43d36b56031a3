"""/api/v1/auth: sign-up, sign-in, the current user (profile, password), sign-out everywhere."""

from __future__ import annotations

from fastapi import APIRouter, status

from voice_platform.api import google_signin
from voice_platform.api.deps import AccountUser, SessionDep
from voice_platform.api.schemas import PasswordChangeIn, ProfileIn, SigninIn, SignupIn, SignupOut, TokenOut, UserOut
from voice_platform.services import auth as auth_service

router = APIRouter(prefix="/auth", tags=["auth"])
# Sign in with Google (and linking it): /auth/oauth..., see api/google_signin.py.
router.include_router(google_signin.router)

_ERRORS = {401: {"description": "Invalid credentials"}, 429: {"description": "Too many failed attempts"}}


@router.post("/signup", response_model=SignupOut, status_code=status.HTTP_201_CREATED, responses={409: {"description": "E-mail taken"}})
def signup(body: SignupIn, session: SessionDep) -> SignupOut:
    signed_in, org = auth_service.signup(session, **body.model_dump())
    return SignupOut(
        access_token=signed_in.access_token,
        user=UserOut.model_validate(signed_in.user),
        organization_id=org.id,
    )


@router.post("/signin", response_model=TokenOut, responses=_ERRORS)
def signin(body: SigninIn, session: SessionDep) -> TokenOut:
    signed_in = auth_service.signin(session, email=body.email, password=body.password)
    return TokenOut(access_token=signed_in.access_token, user=UserOut.model_validate(signed_in.user))


@router.get("/user", response_model=UserOut, responses={401: {"description": "Not signed in"}})
def current_user(user: AccountUser) -> UserOut:
    return UserOut.model_validate(user)


@router.post("/signout", status_code=status.HTTP_204_NO_CONTENT, responses={401: {"description": "Not signed in"}})
def signout(user: AccountUser, session: SessionDep) -> None:
    auth_service.signout(session, user)


@router.put("/user", response_model=UserOut, responses={401: {"description": "Not signed in"}})
def update_profile(body: ProfileIn, user: AccountUser, session: SessionDep) -> UserOut:
    return UserOut.model_validate(auth_service.update_profile(session, user, full_name=body.full_name))


@router.post("/password", response_model=TokenOut,
             responses={401: {"description": "Not signed in"},
                        422: {"description": "Wrong or missing current password, or a weak new password"}})
def change_password(body: PasswordChangeIn, user: AccountUser, session: SessionDep) -> TokenOut:
    """Change the password with the current one, or set the first one without it.

    An account made by "Sign in with Google" has no password: leave ``current_password`` out
    (or empty) to set one, after which it signs in with its e-mail too. An account that has a
    password must send it (422 on ``current_password`` otherwise). Either way every other
    session is signed out; use the returned token from now on.
    """
    if body.current_password:
        signed_in = auth_service.change_password(session, user, current_password=body.current_password,
                                                 new_password=body.new_password)
    else:
        signed_in = auth_service.set_password(session, user, new_password=body.new_password)
    return TokenOut(access_token=signed_in.access_token, user=UserOut.model_validate(signed_in.user))
