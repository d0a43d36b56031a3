"""Turns domain errors into JSON ``{"detail": ...}`` responses with the right status.

Validation failures use FastAPI's own shape (a list of ``{loc, msg, type}``) so a
client handles a service's 422 and a schema 422 the same way.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError

from voice_platform.errors import DomainError, NotAuthenticated, TooManyAttempts, ValidationFailed

log = logging.getLogger(__name__)


def domain_error_body(exc: DomainError) -> dict:
    if isinstance(exc, ValidationFailed):
        loc = ["body", exc.field] if exc.field else ["body"]
        return {"detail": [{"loc": loc, "msg": exc.message, "type": "value_error"}]}
    body: dict = {"detail": exc.message}
    if exc.field:
        body["field"] = exc.field
    return body


async def _domain_error(_request: Request, exc: DomainError) -> JSONResponse:
    headers = {}
    if isinstance(exc, NotAuthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, TooManyAttempts):
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse(domain_error_body(exc), status_code=exc.status_code, headers=headers)


async def _database_down(_request: Request, exc: OperationalError) -> JSONResponse:
    log.error("database unavailable: %s", exc.__class__.__name__)
    return JSONResponse({"detail": "The database is unavailable; try again shortly"}, status_code=503)


async def _data_error(_request: Request, exc: DataError) -> JSONResponse:
    """Last line of defence: a value the database cannot store is the client's input, not our crash."""
    log.warning("database rejected a value: %s", exc.orig.__class__.__name__ if exc.orig else exc)
    return JSONResponse({"detail": "A value in the request cannot be stored (e.g. a NUL character)"}, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)  # type: ignore[arg-type]
    app.add_exception_handler(OperationalError, _database_down)  # type: ignore[arg-type]
    app.add_exception_handler(DataError, _data_error)  # type: ignore[arg-type]
