"""Turns domain errors into JSON ``{"detail": ...}`` responses with the right status.

Validation failures use FastAPI's own shape (a list of ``{loc, msg, type}``) so a
client handles a service's 422 and a schema 422 the same way.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError

from voice_platform.errors import DomainError, NotAuthenticated, TooManyAttempts, ValidationFailed

log = logging.getLogger(__name__)


def _finite(value: Any) -> Any:
    """NaN/Infinity (which Python's JSON parser accepts) echoed back as text, not invalid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


class ErrorJSONResponse(JSONResponse):
    """Error bodies echo the client's input. Encoded ASCII-escaped and with non-finite
    numbers as text, so a lone surrogate ("\\ud800") or a NaN is a 4xx, never a 500."""

    def render(self, content: Any) -> bytes:
        return json.dumps(_finite(content), ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def domain_error_body(exc: DomainError) -> dict:
    if isinstance(exc, ValidationFailed):
        loc = ["body", exc.field] if exc.field else ["body"]
        return {"detail": [{"loc": loc, "msg": exc.message, "type": "value_error"}]}
    body: dict = {"detail": exc.message}
    if exc.field:
        body["field"] = exc.field
    return body


async def _domain_error(_request: Request, exc: DomainError) -> JSONResponse:
    return domain_error_response(exc)


def domain_error_response(exc: DomainError) -> JSONResponse:
    headers = {}
    if isinstance(exc, NotAuthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, TooManyAttempts):
        headers["Retry-After"] = str(exc.retry_after)
    return ErrorJSONResponse(domain_error_body(exc), status_code=exc.status_code, headers=headers)


async def _database_down(_request: Request, exc: OperationalError) -> JSONResponse:
    log.error("database unavailable: %s", exc.__class__.__name__)
    return JSONResponse({"detail": "The database is unavailable; try again shortly"}, status_code=503)


async def _data_error(_request: Request, exc: DataError) -> JSONResponse:
    """Last line of defence: a value the database cannot store is the client's input, not our crash."""
    log.warning("database rejected a value: %s", exc.orig.__class__.__name__ if exc.orig else exc)
    return JSONResponse({"detail": "A value in the request cannot be stored (e.g. a NUL character)"}, status_code=422)


async def _request_invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's own 422 body, safely encoded (it echoes the offending input)."""
    return ErrorJSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)  # type: ignore[arg-type]
    app.add_exception_handler(OperationalError, _database_down)  # type: ignore[arg-type]
    app.add_exception_handler(DataError, _data_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _request_invalid)  # type: ignore[arg-type]
