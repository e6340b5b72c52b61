"""Headers and last-resort error pages for every response, and the API docs without a CDN.

- Console pages (``/console``) carry the console's security headers
  (:data:`sandbox.web.console.web.SECURITY_HEADERS`) on every answer, also on a 404
  for an unknown page and on a 500; API answers are ``Cache-Control: no-store``
  (they hold budgets, tokens and job states that a shared cache must not keep).
- ``/docs`` (Swagger UI) and ``/redoc`` load their scripts from this service,
  never from a CDN on the console's origin, under a CSP that allows scripts
  from ``'self'`` only. The assets come from the ``fastapi-offline`` package;
  without it the pages are off.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from policies.errors import redacted_traceback
from sandbox.web.console.i18n import N_
from sandbox.web.console.web import SECURITY_HEADERS, console_error_page

log = logging.getLogger(__name__)

#: Headers of every API answer (JSON, files): no cache keeps them, no browser sniffs them.
API_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}
#: The docs pages: scripts and styles from this service only. ReDoc and Swagger UI set
#: inline style attributes, and ReDoc's search runs in a blob: worker.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'; form-action 'none'"
)
DOCS_HEADERS = {
    "Content-Security-Policy": DOCS_CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_DOCS_PATHS = ("/docs", "/redoc")


def headers_for(path: str) -> dict[str, str]:
    """The headers a response to ``path`` must carry."""
    if path == "/console" or path.startswith("/console/"):
        return SECURITY_HEADERS
    if path in _DOCS_PATHS or path.startswith("/docs/"):
        return DOCS_HEADERS
    return API_HEADERS


class SecurityHeaders:
    """ASGI middleware: adds :func:`headers_for` to each response (a route's own values win)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = headers_for(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_error_pages(app: FastAPI) -> None:
    """Console 404/405 and any unhandled error answer with the console's page and headers."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> Response:
        if headers_for(request.url.path) is not SECURITY_HEADERS:
            return await http_exception_handler(request, err)
        message = (
            N_("No such page in the console.")
            if err.status_code == 404
            else N_("Not possible here.")
        )
        return console_error_page(request, err.status_code, message)

    @app.exception_handler(Exception)
    async def crash(request: Request, err: Exception) -> Response:
        # Starlette's outermost middleware answers with this, past SecurityHeaders: set them here.
        log.error("request failed: %s\n%s", type(err).__name__, redacted_traceback(err))
        headers = headers_for(request.url.path)
        message = N_("The service failed on this request; the platform operator was told.")
        if headers is SECURITY_HEADERS:
            response: Response = console_error_page(request, 500, message)
        else:
            response = JSONResponse({"error": "internal_error", "message": message}, 500)
        response.headers.update(headers)
        return response


def _assets() -> Path | None:
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "static"
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


#: Started by /docs from a file of this service (the CSP forbids inline scripts).
_SWAGGER_INIT = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  layout: "BaseLayout",
});
"""
_SWAGGER_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/swagger-init.js"></script>
</body></html>
"""
_REDOC_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - API reference</title></head>
<body><redoc spec-url="/openapi.json"></redoc>
<script src="/docs/assets/redoc.standalone.js"></script>
</body></html>
"""
_MEDIA = {".js": "text/javascript", ".css": "text/css"}


def install_docs(app: FastAPI) -> None:
    """``/docs`` and ``/redoc`` with their assets served from the package (off without them).

    The app must be built with ``docs_url=None, redoc_url=None`` (FastAPI's own
    pages load from a CDN).
    """
    folder = _assets()
    if folder is None:
        log.warning("API docs are off: the fastapi-offline package is not installed")
        return
    files = {
        name: (folder / name).read_bytes()
        for name in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js")
    }
    files["swagger-init.js"] = _SWAGGER_INIT.encode()

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return HTMLResponse(_SWAGGER_PAGE.format(title=app.title))

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return HTMLResponse(_REDOC_PAGE.format(title=app.title))

    @app.get("/docs/assets/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        # a fixed table: no path is read from the request
        if name not in files:
            raise StarletteHTTPException(404)
        return Response(files[name], media_type=_MEDIA[Path(name).suffix])
