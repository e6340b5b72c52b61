"""The review console of the data bureau: server-rendered pages under ``/console``.

Stewards review quarantined outputs, manage grants and ingest datasets; auditors read;
admins manage organisations, users and tokens on pages of their own. Map:

- :mod:`sandbox.web.console.session` — token sign-in exchanged for a server-side
  session (HttpOnly, SameSite=Strict cookie) with a per-session CSRF token.
- :mod:`sandbox.web.console.web` — templates, the signed-in viewer, CSRF checks,
  security headers and HTML error pages (:class:`ConsoleRoute`).
- :mod:`sandbox.web.console.routes` — sign-in, the queue, an output page, the decision.
- :mod:`sandbox.web.console.routes_bureau` — grants, catalog and audit pages.
- :mod:`sandbox.web.console.routes_ingest` — a steward ingests a dataset: upload, the PII
  scan's proposals, confirm (:mod:`sandbox.web.console.staged` keeps the file between).
- :mod:`sandbox.web.console.routes_admin` — the admins' organisations, users and tokens.
- :mod:`sandbox.web.console.grant_terms` — a grant's terms in readable units: jail
  limits shown (defaults filled in) and read from the create form (s, MiB, counts).
- :mod:`sandbox.web.console.views` — what those pages show, from the store.
- :mod:`sandbox.web.console.preview` — safe previews of outputs (tables, zip members, PNG).
- :mod:`sandbox.web.console.plots` — DP error bars as inline SVG.
- :mod:`sandbox.web.console.profile` — a dataset's quality profile (no values).
- :mod:`sandbox.web.console.screenshots` — Playwright screenshots of the console for the demo.

The app factory (:mod:`sandbox.web.app`) mounts :data:`router`.
"""

from fastapi import APIRouter

from sandbox.web.console import routes, routes_admin, routes_bureau, routes_ingest

router = APIRouter()
router.include_router(routes.router)
router.include_router(routes_bureau.router)
router.include_router(routes_ingest.router)
router.include_router(routes_admin.router)

__all__ = ["router"]
