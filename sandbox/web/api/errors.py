"""The API's answers to errors: ``{"error": code, "message": ...}`` with the status of
:func:`sandbox.web.errors.status_of`, malformed requests without their input, and a
transaction the database gave up on for a concurrent one (a deadlock, a serialization
failure) as a 409 to retry, without the driver's message."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from policies.errors import SandboxError, TooManyAttempts, redacted_traceback
from sandbox.web.errors import status_of

log = logging.getLogger(__name__)

#: PostgreSQL SQLSTATEs of a transaction rolled back for a concurrent one, that a retry
#: may get through: deadlock_detected, serialization_failure, lock_not_available.
RETRYABLE = frozenset({"40P01", "40001", "55P03"})


def install_error_handlers(app: FastAPI) -> None:
    """Answer the error tree and request validation failures as JSON."""

    @app.exception_handler(SandboxError)
    async def sandbox_error(request: Request, err: SandboxError) -> JSONResponse:
        status = status_of(err)
        if status >= 500:
            log.error("request failed: %s\n%s", type(err).__name__, redacted_traceback(err))
        headers = {}
        if isinstance(err, TooManyAttempts):
            headers["Retry-After"] = str(err.retry_after_s)
        return JSONResponse(
            {"error": err.code, "message": str(err)}, status_code=status, headers=headers
        )

    @app.exception_handler(OperationalError)
    async def database_gave_up(request: Request, err: OperationalError) -> JSONResponse:
        state = getattr(err.orig, "sqlstate", None)
        if state not in RETRYABLE:
            raise err  # a fault of the service: the generic 500 (sandbox.web.hardening)
        log.warning("request rolled back for a concurrent one (SQLSTATE %s)", state)
        return JSONResponse(
            {
                "error": "conflict",
                "message": "a concurrent change got in the way and nothing was done: retry",
            },
            status_code=409,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        # FastAPI's default body echoes the input; ours names locations only.
        problems = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", "")}
            for e in err.errors()
        ]
        return JSONResponse(
            {
                "error": "invalid_request",
                "message": "the request is malformed",
                "problems": problems,
            },
            status_code=422,
        )
