"""What every console page shares: templates, the signed-in viewer, CSRF, headers, errors.

A refused form comes back as its own page with the reason at the top and what was typed
kept (:class:`Refusal`): the route reads the posted fields with :data:`TypedFormDep`,
checks them with :func:`parse_form` (a pydantic model), and on an error renders its page
with ``refusal=Refusal.of(err, typed, heading)``; ``base.html`` shows the banner and the
form's fields read their values back with ``refusal.value(name)`` / ``refusal.has(name, v)``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_origin

import jinja2
from fastapi import Depends, Form, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ValidationError

from policies.errors import InvalidRequest, PolicyViolation, SandboxError, Unauthenticated
from policies.roles import Role
from sandbox.access.auth import Principal
from sandbox.web.console import formats, i18n, terms
from sandbox.web.console.i18n import gettext
from sandbox.web.console.session import COOKIE, ConsoleSession, same_secret, set_cookie, store
from sandbox.web.errors import status_of

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=HERE / "templates")
# Jinja2Templates autoescapes .html; make it unconditional: outputs never render as HTML.
TEMPLATES.env.autoescape = True
# Every visible string goes through gettext in the request's language (i18n.py).
TEMPLATES.env.add_extension("jinja2.ext.i18n")
TEMPLATES.env.install_gettext_callables(  # type: ignore[attr-defined]
    i18n.gettext, i18n.ngettext, newstyle=True
)
TEMPLATES.env.globals["html_lang"] = i18n.html_lang
TEMPLATES.env.globals["locale"] = i18n.current
TEMPLATES.env.globals["LOCALES"] = i18n.LOCALES


@jinja2.pass_context
def _when(context: jinja2.runtime.Context, value: object) -> str:
    """``|when``: a time in the console's zone (setting ``console_timezone``)."""
    request = context.get("request")
    sandbox = getattr(getattr(request, "app", None), "state", None)
    settings = getattr(getattr(sandbox, "sandbox", None), "settings", None)
    zone = getattr(settings, "console_timezone", formats.DEFAULT_ZONE)
    return formats.when(value, i18n.current(), zone)


TEMPLATES.env.filters["when"] = _when
TEMPLATES.env.filters["num"] = lambda v: formats.num(v, i18n.current())
TEMPLATES.env.filters["eps"] = lambda v: formats.eps(v, i18n.current())
TEMPLATES.env.filters["delta"] = lambda v: formats.delta(v, i18n.current())
TEMPLATES.env.filters["plain"] = lambda v: formats.plain(v, i18n.current())
TEMPLATES.env.filters["term"] = terms.term


def lang_url(request: Request, locale: str, path: str | None = None) -> str:
    """This page's address (path and query) in ``locale``: the language switch's links.

    A page rendered for a posted form (a refused one) names the page to go back to
    (``path``): its own address only answers posts.
    """
    if path is not None:
        return f"{path}?lang={locale}"
    return str(request.url.include_query_params(lang=locale).replace(scheme="", netloc=""))


TEMPLATES.env.globals["lang_url"] = lang_url

#: Headers of every console response.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self'; frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'none'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
#: Roles that may sign in to the console: the review pages are the data bureau's
#: (auditors read only), the admin pages the platform operators'.
CONSOLE_ROLES = (Role.STEWARD, Role.AUDITOR, Role.ADMIN)
#: Roles of the review pages (queue, outputs, grants, catalog, audit, ingest).
REVIEW_ROLES = (Role.STEWARD, Role.AUDITOR)


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in steward, auditor or admin."""

    who: Principal
    session: ConsoleSession

    @property
    def can_act(self) -> bool:
        """Stewards act on the review pages and admins on theirs; auditors only read."""
        return self.who.role in (Role.STEWARD, Role.ADMIN)


def check_console_role(who: Principal) -> None:
    """Raise unless ``who`` may use the console.

    Raises:
        PolicyViolation: Operators use the API and the client instead.
    """
    if who.role not in CONSOLE_ROLES:
        raise PolicyViolation(
            gettext(
                "The review console is for the data bureau's stewards and auditors (art. 63) "
                "and the platform's admins; operators use the Python client or the API."
            )
        )


def start_page(who: Principal) -> str:
    """Where a viewer lands after sign-in: admins on their pages, the bureau on the queue."""
    return "/console/admin/users" if who.role is Role.ADMIN else "/console/queue"


def get_any_viewer(request: Request) -> Viewer:
    """The viewer of a live session (token and user checked again on every request).

    Raises:
        Unauthenticated: No live session, or its token was revoked or its user deactivated.
        PolicyViolation: Not a role of the console.
    """
    found = store(request).get(request.cookies.get(COOKIE))
    if found is None:
        raise Unauthenticated(gettext("Sign in to the console."))
    session, who = found
    check_console_role(who)
    return Viewer(who, session)


def get_viewer(request: Request) -> Viewer:
    """The viewer of a review page: a steward or auditor (art. 63).

    Raises:
        Unauthenticated: No live session, or its token was revoked or its user deactivated.
        PolicyViolation: Not a steward or auditor (an admin: their own pages only).
    """
    viewer = get_any_viewer(request)
    if viewer.who.role not in REVIEW_ROLES:
        raise PolicyViolation(
            i18n.gettext(
                "the review pages are for the data bureau's stewards and auditors "
                "(art. 63); admins manage organisations, users and tokens under /console/admin"
            )
        )
    return viewer


def get_admin_viewer(request: Request) -> Viewer:
    """The viewer of an admin page: a platform admin.

    Raises:
        Unauthenticated: No live session, or its token was revoked or its user deactivated.
        PolicyViolation: Not an admin (stewards and auditors: the review pages).
    """
    viewer = get_any_viewer(request)
    if viewer.who.role is not Role.ADMIN:
        raise PolicyViolation(
            i18n.gettext(
                "the admin pages are for the platform's admins; stewards and auditors use "
                "the review pages"
            )
        )
    return viewer


ViewerDep = Annotated[Viewer, Depends(get_viewer)]
#: Any signed-in viewer (sign-out).
AnyViewerDep = Annotated[Viewer, Depends(get_any_viewer)]


def check_csrf(viewer: Viewer, token: str) -> None:
    """Raise unless a posted form carries the session's CSRF token.

    Raises:
        PolicyViolation: The token is missing or wrong.
    """
    if not same_secret(token, viewer.session.csrf):
        raise PolicyViolation(
            gettext(
                "The form is stale or did not come from the console (CSRF token missing or "
                "wrong); reload the page and try again."
            )
        )


def get_steward(viewer: ViewerDep, csrf: Annotated[str, Form()] = "") -> Principal:
    """The steward posting a form with a valid CSRF token.

    Raises:
        PolicyViolation: A wrong CSRF token, or an auditor (read-only).
    """
    check_csrf(viewer, csrf)
    if viewer.who.role is not Role.STEWARD:
        raise PolicyViolation(gettext("Auditors read the console; only stewards act (art. 63)."))
    return viewer.who


StewardDep = Annotated[Principal, Depends(get_steward)]
AdminViewerDep = Annotated[Viewer, Depends(get_admin_viewer)]


def get_admin(viewer: AdminViewerDep, csrf: Annotated[str, Form()] = "") -> Principal:
    """The admin posting a form with a valid CSRF token.

    Raises:
        PolicyViolation: A wrong CSRF token, or not an admin.
    """
    check_csrf(viewer, csrf)
    return viewer.who


AdminDep = Annotated[Principal, Depends(get_admin)]


def render(
    request: Request,
    template: str,
    viewer: Viewer | None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """A page from ``templates/``, with the viewer and their CSRF token in its context."""
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "viewer": viewer,
            "csrf": viewer.session.csrf if viewer else "",
            **context,
        },
        status_code=status_code,
    )


def use_language(request: Request) -> str:
    """Serve ``request`` in the language asked for (``?lang=``), remembered (cookie) or the
    default; return it."""
    locale = i18n.choose(request.query_params.get("lang"), request.cookies.get(i18n.LANG_COOKIE))
    i18n.use(locale)
    return locale


def console_error_page(request: Request, status: int, message: str) -> Response:
    """The console's error page with its security headers (``message`` carries no data value).

    ``message`` is translated when the catalog has it (a console message marked with
    :func:`~sandbox.web.console.i18n.N_`); a domain error's English text shows as it is,
    under a translated heading.
    """
    use_language(request)
    message = gettext(message)
    response = TEMPLATES.TemplateResponse(
        request,
        "error.html",
        {"viewer": None, "csrf": "", "status": status, "message": message},
        status_code=status,
    )
    response.headers.update(SECURITY_HEADERS)
    return response


def error_page(request: Request, err: SandboxError) -> Response:
    """A polite page for a domain error (its message carries no data value)."""
    return console_error_page(request, status_of(err), str(err))


class ConsoleRoute(APIRoute):
    """A console route: HTML error pages, a redirect to sign in, security headers on all."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            asked = request.query_params.get("lang")
            locale = use_language(request)
            try:
                response = await original(request)
            except Unauthenticated:
                response = RedirectResponse("/console/login", status_code=303)
            except SandboxError as err:
                response = error_page(request, err)
            except RequestValidationError as err:
                fields = sorted({str(e.get("loc", ("", "?"))[-1]) for e in err.errors()})
                message = gettext("The form or address is incomplete or malformed: %(fields)s")
                response = console_error_page(request, 422, message % {"fields": ", ".join(fields)})
            response.headers.update(SECURITY_HEADERS)
            if asked == locale:
                set_cookie(request, response, i18n.LANG_COOKIE, locale, max_age=365 * 24 * 3600)
            return response

        return handler


# --- refused forms: the page again, the reason at the top, what was typed kept ------------

#: A posted form as typed: field name to its values (several for checkboxes), no CSRF token.
TypedForm = dict[str, list[str]]


async def typed_form(request: Request) -> TypedForm:
    """The posted form's text fields as typed (the form is parsed once per request)."""
    form = await request.form()
    typed: TypedForm = {}
    for name, value in form.multi_items():
        if isinstance(value, str) and name != "csrf":
            typed.setdefault(name, []).append(value)
    return typed


TypedFormDep = Annotated[TypedForm, Depends(typed_form)]
M = TypeVar("M", bound=BaseModel)


def parse_form(model: type[M], typed: TypedForm, labels: Mapping[str, str]) -> M:
    """The posted form checked by ``model``: list fields take every value, others the last;
    a blank field counts as not given (its default applies).

    Args:
        model: A pydantic model of the form's fields (ranges and types).
        typed: The form as typed (:func:`typed_form`).
        labels: Field name to its label's msgid, to name wrong fields in the reader's language.

    Raises:
        InvalidRequest: Fields missing or malformed; the message names them, never their value.
    """
    data: dict[str, object] = {}
    for name, info in model.model_fields.items():
        values = [v for v in typed.get(name, []) if v.strip()]
        if get_origin(info.annotation) is list:
            data[name] = values
        elif values:
            data[name] = values[-1].strip()
    try:
        return model.model_validate(data)
    except ValidationError as err:
        names = dict.fromkeys(str(e["loc"][0]) for e in err.errors() if e["loc"])
        shown = ", ".join(gettext(labels.get(n, n)) for n in names)
        raise InvalidRequest(
            gettext("Please check these fields: %(fields)s") % {"fields": shown}
        ) from err


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refused form: why (shown at the top of its page) and what was typed (kept).

    Attributes:
        heading: What did not happen, translated (``"The grant was not created"``).
        message: Why: a console message (translated) or a domain error's text.
        typed: The form as typed.
        form: Which form of the page was refused (its pages may hold several).
        status: The HTTP status of the page (4xx).
    """

    heading: str
    message: str
    typed: TypedForm = field(default_factory=dict)
    form: str = ""
    status: int = 422

    @classmethod
    def of(cls, err: SandboxError, typed: TypedForm, heading: str, form: str = "") -> Refusal:
        """The refusal of ``err`` (``heading`` a msgid, translated here)."""
        return cls(gettext(heading), gettext(str(err)), typed, form, status_of(err))

    def value(self, name: str, default: object = "") -> object:
        """What was typed in field ``name`` (the last value), else ``default``."""
        values = self.typed.get(name)
        return values[-1] if values else default

    def has(self, name: str, value: object) -> bool:
        """Whether checkbox (or option) ``value`` of field ``name`` was chosen."""
        return str(value) in self.typed.get(name, [])
