"""The review console of the data bureau: server-rendered pages under ``/console``.

Stewards review quarantined outputs and manage grants; auditors read. Map:

- :mod:`sandbox.console.session` — token sign-in exchanged for a server-side
  session (HttpOnly, SameSite=Strict cookie) with a per-session CSRF token.
- :mod:`sandbox.console.web` — templates, the signed-in viewer, CSRF checks,
  security headers and HTML error pages (:class:`ConsoleRoute`).
- :mod:`sandbox.console.routes` — sign-in, the queue, an output page, the decision.
- :mod:`sandbox.console.routes_bureau` — grants, catalog and audit pages.
- :mod:`sandbox.console.grant_terms` — a grant's terms in readable units: jail
  limits shown (defaults filled in) and read from the create form (s, MiB, counts).
- :mod:`sandbox.console.views` — what those pages show, from the store.
- :mod:`sandbox.console.preview` — safe previews of outputs (tables, zip members, PNG).
- :mod:`sandbox.console.plots` — DP error bars as inline SVG.
- :mod:`sandbox.console.profile` — a dataset's quality profile (no values).
- :mod:`sandbox.console.screenshots` — Playwright screenshots of the console for the demo.

The app mounts :data:`router` (``app.include_router(console.router)``).
"""

from fastapi import APIRouter

from sandbox.console import routes, routes_bureau

router = APIRouter()
router.include_router(routes.router)
router.include_router(routes_bureau.router)

__all__ = ["router"]
