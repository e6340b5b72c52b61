"""What a cluster asks of a process: ``/healthz``, ``/readyz`` and ``/metrics``.

Served by the API (:func:`sandbox.web.app.create_app`) and, alone, by each
``sandbox worker`` (:func:`sandbox.web.app.create_worker_app`).

- ``/healthz``: the process answers (Kubernetes' liveness probe). It touches
  nothing else, so a database outage never gets every pod restarted.
- ``/readyz``: the database answers ``SELECT 1`` and, in a process that runs
  jobs, Ray answers (the runner's ``ready()``; a runner without one, e.g. a
  test's, is not asked). 200 ``{"status": "ready", ...}``, or 503 naming the
  check that failed, never why (an exception's text may hold a URL or a host).
- ``/metrics``: Prometheus' text format, from the database at scrape time
  (:class:`sandbox.service.metrics.SandboxCollector`), plus this process' own
  CPU and memory. With ``SANDBOX_METRICS_TOKEN`` set (required in production:
  :meth:`sandbox.settings.Settings.check_secure`) it asks for
  ``Authorization: Bearer <token>``. The Ingress must not route ``/metrics``
  (nor ``/readyz``) from outside: Prometheus scrapes pods inside the cluster.
"""

from __future__ import annotations

import hmac
import logging
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.process_collector import ProcessCollector
from sqlalchemy.exc import SQLAlchemyError

from sandbox.service import Sandbox
from sandbox.service.metrics import SandboxCollector

log = logging.getLogger(__name__)

router = APIRouter()


def install(app: FastAPI, sandbox: Sandbox) -> None:
    """Serve the three routes on ``app`` for ``sandbox`` (its own metrics registry)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SandboxCollector(sandbox.db))
    ProcessCollector(registry=registry)
    app.state.metrics_registry = registry
    app.include_router(router)


@router.get("/healthz", tags=["health"])
def health() -> dict[str, str]:
    """Alive: the process answers (no database, no Ray)."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    tags=["health"],
    responses={503: {"description": "A check failed; the body names which"}},
)
def ready(request: Request) -> JSONResponse:
    """Ready: the database answers and, where jobs run, Ray answers."""
    sandbox: Sandbox = request.app.state.sandbox
    checks = {"database": _database(sandbox), "ray": _ray(sandbox)}
    failed = [name for name, state in checks.items() if state == "unreachable"]
    body: dict[str, Any] = {"status": "not ready" if failed else "ready", "checks": checks}
    if failed:
        body["failed"] = failed
    return JSONResponse(body, status_code=503 if failed else 200)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request, authorization: Annotated[str | None, Header()] = None) -> Response:
    """The figures in Prometheus' text format."""
    sandbox: Sandbox = request.app.state.sandbox
    token = sandbox.settings.metrics_token
    if token is not None and not _bearer_matches(authorization, token.get_secret_value()):
        return Response(
            "a metrics token is required: Authorization: Bearer <SANDBOX_METRICS_TOKEN>\n",
            status_code=401,
            media_type="text/plain",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        text = generate_latest(request.app.state.metrics_registry)
    except SQLAlchemyError as err:
        log.warning("metrics: the database could not be read (%s)", type(err).__name__)
        return Response("the database is unreachable\n", status_code=503, media_type="text/plain")
    return Response(text, media_type=CONTENT_TYPE_LATEST)


def _bearer_matches(header: str | None, token: str) -> bool:
    scheme, _, presented = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        presented.strip().encode(), token.encode()
    )


def _database(sandbox: Sandbox) -> str:
    """``ok`` or ``unreachable``: a bare ``SELECT 1`` (no transaction, no SQLite write lock)."""
    try:
        connection = sandbox.db.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchone()
            cursor.close()
        finally:
            connection.close()
    except Exception as err:  # any driver's error: the probe says which check, not why
        log.warning("readyz: the database is unreachable (%s)", type(err).__name__)
        return "unreachable"
    return "ok"


def _ray(sandbox: Sandbox) -> str:
    """``ok``, ``unreachable``, or ``not used`` (an API-only process, which never starts
    Ray, or a runner without a probe)."""
    probe = getattr(sandbox.runner, "ready", None)
    if not sandbox.runs_jobs or probe is None:
        return "not used"
    if probe():
        return "ok"
    log.warning("readyz: Ray is unreachable")
    return "unreachable"
