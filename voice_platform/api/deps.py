"""FastAPI dependencies: a transaction per request and the signed-in user.

``SessionDep`` commits when the route returns and rolls back when it raises, so
routes stay thin and services never commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from voice_platform.db import session_scope
from voice_platform.models import User
from voice_platform.services import auth as auth_service


def get_session() -> Iterator[Session]:
    with session_scope() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]

_bearer = HTTPBearer(auto_error=False, description="Access token from POST /api/v1/auth/signin")


def get_current_user(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    token = credentials.credentials if credentials and credentials.scheme.lower() == "bearer" else None
    return auth_service.user_from_token(session, token)


CurrentUser = Annotated[User, Depends(get_current_user)]
