"""Service status for the caller: database, Ray, and how many jobs are where."""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import APIRouter
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from policies.airlock import JobStatus
from policies.roles import Role
from sandbox.jobs.lifecycle import view_of
from sandbox.store.models import Job
from sandbox.web.deps import Caller, SandboxDep

router = APIRouter(tags=["status"])


@router.get("/status")
def service_status(who: Caller, sandbox: SandboxDep) -> dict[str, Any]:
    """Database reachable, Ray connected, job counts by status (an operator's own only).

    Ray's address is never shown: the engine is not a door (see DESIGN).
    """
    try:
        with sandbox.db.session() as session:
            session.execute(text("SELECT 1"))
            stmt = select(Job.kind, Job.status, func.count()).group_by(Job.kind, Job.status)
            operator = who.role is Role.OPERATOR
            if operator:
                stmt = stmt.where(Job.org_id == who.org_id)
            jobs: dict[str, int] = {}
            for kind, status, n in session.execute(stmt).all():
                # an operator counts its jobs by the status it is shown (see JobPublic.of)
                shown = (
                    view_of(Role.OPERATOR, kind).status(JobStatus(status)).value
                    if operator
                    else status
                )
                jobs[str(shown)] = jobs.get(str(shown), 0) + int(n)
        database = {"ok": True, "dialect": sandbox.db.engine.dialect.name}
    except SQLAlchemyError:
        jobs, database = {}, {"ok": False, "dialect": sandbox.db.engine.dialect.name}
    ray = sys.modules.get("ray")  # imported by the runner once it started; never here
    ray_up = bool(ray is not None and ray.is_initialized())
    mode = "cluster" if sandbox.settings.ray_address else "local"
    try:
        release = version("data-sandbox")
    except PackageNotFoundError:
        release = "unknown"
    return {
        "version": release,
        "environment": sandbox.settings.environment,
        "database": database,
        "ray": {"connected": ray_up, "mode": mode},
        "jobs": jobs,
    }
