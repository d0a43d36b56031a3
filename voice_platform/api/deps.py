"""FastAPI dependencies: a transaction per request and the caller.

``SessionDep`` commits when the route returns and rolls back when it raises, so
routes stay thin and services never commit.

``CurrentUser`` is whoever presents the bearer token: a signed-in user (a JWT) or an
organization's API key (``vp_...``, a ``services.api_keys.ApiKeyActor``, which every service
accepts and ``rbac`` confines to its organization and role). ``AccountUser`` is for what only
a person has (their account, their invitations): an API key gets 403 there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from voice_platform.db import session_scope
from voice_platform.errors import PermissionDenied
from voice_platform.models import User
from voice_platform.services import api_keys


def get_session() -> Iterator[Session]:
    with session_scope() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]

_bearer = HTTPBearer(
    auto_error=False,
    description="Access token from POST /api/v1/auth/signin, or an organization's API key (vp_...)",
)


def get_current_user(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User | api_keys.ApiKeyActor:
    token = credentials.credentials if credentials and credentials.scheme.lower() == "bearer" else None
    return api_keys.actor_from_token(session, token)


# Typed as User for the services' signatures; at run time it may be an ApiKeyActor (see above).
CurrentUser = Annotated[User, Depends(get_current_user)]


def get_account_user(actor: CurrentUser) -> User:
    if api_keys.is_key(actor):
        raise PermissionDenied("API keys cannot use account endpoints; sign in as a user")
    return actor


AccountUser = Annotated[User, Depends(get_account_user)]
