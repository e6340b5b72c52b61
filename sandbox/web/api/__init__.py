"""The HTTP API ``/v1``: :data:`router` holds its routes; :mod:`sandbox.web.api.errors`
answers errors as JSON. The app (:mod:`sandbox.web.app`) includes both.

Map: :mod:`~sandbox.web.api.schemas` (request and response bodies),
:mod:`~sandbox.web.api.routes_admin`, :mod:`~sandbox.web.api.routes_catalog`,
:mod:`~sandbox.web.api.routes_hierarchies`,
:mod:`~sandbox.web.api.routes_grants`, :mod:`~sandbox.web.api.routes_jobs`,
:mod:`~sandbox.web.api.routes_audit`, :mod:`~sandbox.web.api.routes_me` (the routes).
"""

from fastapi import APIRouter

from sandbox.web.api import (
    routes_admin,
    routes_audit,
    routes_catalog,
    routes_grants,
    routes_hierarchies,
    routes_jobs,
    routes_me,
)

router = APIRouter(prefix="/v1")
for _module in (
    routes_admin,
    routes_catalog,
    routes_hierarchies,
    routes_grants,
    routes_jobs,
    routes_audit,
    routes_me,
):
    router.include_router(_module.router)

__all__ = ["router"]
