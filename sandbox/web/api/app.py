"""The FastAPI application: routes under ``/v1``, one handler for the error tree."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from policies.errors import SandboxError, TooManyAttempts, redacted_traceback
from sandbox.access.throttle import SignInThrottle
from sandbox.service import Sandbox
from sandbox.web import console
from sandbox.web.api import (
    hardening,
    routes_admin,
    routes_audit,
    routes_catalog,
    routes_grants,
    routes_jobs,
)
from sandbox.web.api.hardening import SecurityHeaders
from sandbox.web.api.routes_me import router as status_router

log = logging.getLogger(__name__)


def create_app(sandbox: Sandbox) -> FastAPI:
    """Build the app around a service object (started and closed with the app)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sandbox.start()
        try:
            yield
        finally:
            sandbox.close()

    app = FastAPI(
        title="Data Sandbox",
        version="0.1.0",
        description="Privacy-preserving operation sandbox for public data. Only approved "
        "derived products leave.",
        lifespan=lifespan,
        docs_url=None,  # served by hardening.install_docs, without a CDN
        redoc_url=None,
    )
    app.add_middleware(SecurityHeaders)
    if sandbox.settings.forwarded_allow_ips:
        # the client address (sign-in throttle, secure cookies) from trusted proxies only
        app.add_middleware(
            ProxyHeadersMiddleware, trusted_hosts=sandbox.settings.forwarded_allow_ips
        )
    hardening.install_error_pages(app)
    hardening.install_docs(app)
    app.state.sandbox = sandbox
    app.state.sign_in_throttle = SignInThrottle(
        sandbox.settings.auth_failure_limit, sandbox.settings.auth_failure_window_s
    )

    @app.exception_handler(SandboxError)
    async def sandbox_error(request: Request, err: SandboxError) -> JSONResponse:
        if err.status_code >= 500:
            log.error("request failed: %s\n%s", type(err).__name__, redacted_traceback(err))
        headers = {}
        if isinstance(err, TooManyAttempts):
            headers["Retry-After"] = str(err.retry_after_s)
        return JSONResponse(
            {"error": err.code, "message": str(err)}, status_code=err.status_code, headers=headers
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

    @app.get("/healthz", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    for module in (routes_admin, routes_catalog, routes_grants, routes_jobs, routes_audit):
        app.include_router(module.router, prefix="/v1")
    app.include_router(status_router, prefix="/v1")
    app.include_router(console.router)  # the review console's pages under /console
    return app
