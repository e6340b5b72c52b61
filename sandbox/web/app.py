"""The app factory: one FastAPI app with the API (``/v1``) and the review console (``/console``).

:func:`create_app` sits above :mod:`sandbox.web.api` and
:mod:`sandbox.web.console`, which do not import each other: what both use
lives beside this module (:mod:`sandbox.web.deps`, :mod:`sandbox.web.params`,
:mod:`sandbox.web.errors`), and what spans every response (headers, last-resort
error pages, the API docs) in :mod:`sandbox.web.hardening`. :func:`create_worker_app`
serves only the probes and metrics (:mod:`sandbox.web.ops`) beside a ``sandbox worker``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from sandbox.access.throttle import SignInThrottle
from sandbox.service import Sandbox
from sandbox.web import api, console, hardening, ops
from sandbox.web.api.errors import install_error_handlers
from sandbox.web.hardening import SecurityHeaders


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
        sandbox.db, sandbox.settings.auth_failure_limit, sandbox.settings.auth_failure_window_s
    )
    install_error_handlers(app)
    ops.install(app, sandbox)  # /healthz, /readyz, /metrics
    app.include_router(api.router)
    app.include_router(console.router)  # the review console's pages under /console
    return app


def create_worker_app(sandbox: Sandbox) -> FastAPI:
    """The app of a ``sandbox worker``: ``/healthz``, ``/readyz`` and ``/metrics`` only.

    The worker starts and closes ``sandbox`` itself; this app has no lifespan.
    """
    app = FastAPI(
        title="Data Sandbox worker",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.add_middleware(SecurityHeaders)
    hardening.install_error_pages(app)
    app.state.sandbox = sandbox
    ops.install(app, sandbox)
    return app
