"""The API's answers to errors: ``{"error": code, "message": ...}`` with the status of
:func:`sandbox.web.errors.status_of`, and malformed requests without their input."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from policies.errors import SandboxError, TooManyAttempts, redacted_traceback
from sandbox.web.errors import status_of

log = logging.getLogger(__name__)


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
