"""Console pages of the platform's admins: organisations, users and tokens.

The same service functions as the API's ``/v1`` admin routes
(:mod:`sandbox.access.auth`), audited the same way; every form carries the
session's CSRF token. Only admins reach these pages, and admins reach no
review page (:func:`sandbox.web.console.web.get_admin_viewer`). A new token
is shown once, on the page that answers the form, and never again.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from policies.errors import Conflict, InvalidRequest, NotFound, PolicyViolation, SandboxError
from policies.roles import OrgKind, Role
from sandbox.access import auth
from sandbox.service import Sandbox
from sandbox.store.models import ApiToken, Organisation, User
from sandbox.web.console.i18n import N_, gettext
from sandbox.web.console.web import AdminDep, AdminViewerDep, ConsoleRoute, Viewer, render
from sandbox.web.deps import SandboxDep
from sandbox.web.errors import status_of
from sandbox.web.params import IdPath, parse_id

router = APIRouter(prefix="/console/admin", route_class=ConsoleRoute, include_in_schema=False)
#: Tokens the tokens page lists (newest first).
TOKEN_ROWS = 500
#: Notices a redirect may name (never free text from the query string).
NOTICES = {
    "org": N_("Organisation created."),
    "deactivated": N_("User deactivated; their tokens no longer sign in."),
    "revoked": N_("Token revoked; its console sessions ended."),
}
#: How the pages name organisation kinds and roles (translated when shown).
KIND_LABELS = {
    OrgKind.BUREAU.value: N_("data bureau"),
    OrgKind.OPERATOR.value: N_("operator firm"),
    OrgKind.PLATFORM.value: N_("platform"),
}
ROLE_LABELS = {
    Role.ADMIN.value: N_("admin"),
    Role.STEWARD.value: N_("steward"),
    Role.OPERATOR.value: N_("operator"),
    Role.AUDITOR.value: N_("auditor"),
}
#: The token list's filters.
TOKEN_STATES = ("live", "revoked", "")
#: Errors a form answers with on its own page (typed values kept).
_REFUSED = (InvalidRequest, PolicyViolation, NotFound, Conflict)


def _notice(key: str) -> str:
    return gettext(NOTICES[key]) if key in NOTICES else ""


def _page(request: Request, template: str, viewer: Viewer, status: int, **context: Any) -> Response:
    """An admin page: the labels of kinds and roles in its context."""
    return render(
        request,
        template,
        viewer,
        status_code=status,
        kind_label=KIND_LABELS,
        role_label=ROLE_LABELS,
        **context,
    )


def _orgs(session: Session) -> list[Organisation]:
    return list(session.scalars(select(Organisation).order_by(Organisation.name)))


@router.get("")
def admin_home() -> RedirectResponse:
    """The users page is the admins' start page."""
    return RedirectResponse("/console/admin/users", status_code=303)


# --- organisations ------------------------------------------------------------------------


@router.get("/orgs")
def orgs_page(
    request: Request,
    viewer: AdminViewerDep,
    sandbox: SandboxDep,
    notice: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """Every organisation with its kind and number of users; the form to create one."""
    return _orgs_page(request, viewer, sandbox, notice=_notice(notice))


def _orgs_page(
    request: Request,
    viewer: Viewer,
    sandbox: Sandbox,
    *,
    notice: str = "",
    error: SandboxError | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    with sandbox.db.session() as session:
        members = dict(
            session.execute(select(User.org_id, func.count()).group_by(User.org_id)).all()
        )
        return _page(
            request,
            "admin_orgs.html",
            viewer,
            status_of(error) if error else 200,
            orgs=_orgs(session),
            members=members,
            kinds=[k.value for k in OrgKind],
            notice=notice,
            error=str(error) if error else "",
            typed=typed or {"name": "", "kind": OrgKind.OPERATOR.value},
        )


@router.post("/orgs")
def create_org(
    request: Request,
    viewer: AdminViewerDep,
    admin: AdminDep,
    sandbox: SandboxDep,
    name: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Create an organisation (``auth.create_org``, audited as ``org.create``)."""
    try:
        if kind not in {k.value for k in OrgKind}:
            raise InvalidRequest(gettext("choose the organisation's kind"))
        with sandbox.db.session() as session:
            auth.create_org(sandbox.db, session, admin.actor, name, OrgKind(kind))
    except _REFUSED as err:
        return _orgs_page(request, viewer, sandbox, error=err, typed={"name": name, "kind": kind})
    return RedirectResponse("/console/admin/orgs?notice=org", status_code=303)


# --- users --------------------------------------------------------------------------------


@router.get("/users")
def users_page(
    request: Request,
    viewer: AdminViewerDep,
    sandbox: SandboxDep,
    notice: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """Every user with role, organisation, state and live tokens; create and deactivate."""
    return _users_page(request, viewer, sandbox, notice=_notice(notice))


def _users_page(
    request: Request,
    viewer: Viewer,
    sandbox: Sandbox,
    *,
    notice: str = "",
    error: SandboxError | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    with sandbox.db.session() as session:
        users = list(session.scalars(select(User).order_by(User.name)))
        live = dict(
            session.execute(
                select(ApiToken.user_id, func.count())
                .where(ApiToken.revoked_at.is_(None))
                .group_by(ApiToken.user_id)
            ).all()
        )
        return _page(
            request,
            "admin_users.html",
            viewer,
            status_of(error) if error else 200,
            users=users,
            live=live,
            orgs=_orgs(session),
            roles=[r.value for r in Role],
            notice=notice,
            error=str(error) if error else "",
            typed=typed or {"name": "", "role": Role.OPERATOR.value, "org_id": ""},
        )


@router.post("/users")
def create_user(
    request: Request,
    viewer: AdminViewerDep,
    admin: AdminDep,
    sandbox: SandboxDep,
    name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=20)] = "",
    org_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Create a user (``auth.create_user``, audited as ``user.create``); their first token is
    shown on the answer, once."""
    typed = {"name": name, "role": role, "org_id": org_id}
    try:
        if role not in {r.value for r in Role}:
            raise InvalidRequest(gettext("choose the user's role"))
        org = parse_id(org_id)
        if org is None:
            raise InvalidRequest(gettext("choose the user's organisation"))
        with sandbox.db.session() as session:
            user, token = auth.create_user(sandbox.db, session, admin.actor, name, Role(role), org)
            shown = _token_view(user, "initial")
    except _REFUSED as err:
        return _users_page(request, viewer, sandbox, error=err, typed=typed)
    return _token_page(request, viewer, shown, token, created=True)


@router.post("/users/{user_id}/deactivate")
def deactivate_user(
    request: Request,
    user_id: IdPath,
    viewer: AdminViewerDep,
    admin: AdminDep,
    sandbox: SandboxDep,
) -> Response:
    """Deactivate a user (``auth.deactivate_user``, audited as ``user.deactivate``)."""
    try:
        with sandbox.db.session() as session:
            auth.deactivate_user(
                sandbox.db, session, admin.actor, user_id, by_user_id=admin.user_id
            )
    except _REFUSED as err:
        return _users_page(request, viewer, sandbox, error=err)
    return RedirectResponse("/console/admin/users?notice=deactivated", status_code=303)


# --- tokens -------------------------------------------------------------------------------


def _token_view(user: User, label: str) -> dict[str, Any]:
    return {"name": user.name, "role": Role(user.role).value, "org": user.org.name, "label": label}


def _token_page(
    request: Request, viewer: Viewer, user: dict[str, Any], token: str, *, created: bool
) -> Response:
    """The one page that shows a new token (``Cache-Control: no-store`` like every page)."""
    return _page(request, "admin_token.html", viewer, 200, user=user, token=token, created=created)


@router.get("/tokens")
def tokens_page(
    request: Request,
    viewer: AdminViewerDep,
    sandbox: SandboxDep,
    user: Annotated[str, Query(max_length=20)] = "",
    state: Annotated[str, Query(max_length=10)] = "live",
    notice: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """Tokens by user, label, creation and revocation (never a token: only hashes are kept);
    the forms to issue and revoke."""
    return _tokens_page(
        request, viewer, sandbox, user=parse_id(user), state=state, notice=_notice(notice)
    )


def _tokens_page(
    request: Request,
    viewer: Viewer,
    sandbox: Sandbox,
    *,
    user: int | None = None,
    state: str = "live",
    notice: str = "",
    error: SandboxError | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    state = state if state in TOKEN_STATES else "live"
    query = select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    if user is not None:
        query = query.where(ApiToken.user_id == user)
    if state == "live":
        query = query.where(ApiToken.revoked_at.is_(None))
    elif state == "revoked":
        query = query.where(ApiToken.revoked_at.is_not(None))
    with sandbox.db.session() as session:
        return _page(
            request,
            "admin_tokens.html",
            viewer,
            status_of(error) if error else 200,
            tokens=list(session.scalars(query.limit(TOKEN_ROWS))),
            users=list(
                session.scalars(select(User).where(User.active.is_(True)).order_by(User.name))
            ),
            all_users=list(session.scalars(select(User).order_by(User.name))),
            selected={"user": user, "state": state},
            limit=TOKEN_ROWS,
            notice=notice,
            error=str(error) if error else "",
            typed=typed or {"user_id": str(user or ""), "label": ""},
        )


@router.post("/tokens")
def issue_token(
    request: Request,
    viewer: AdminViewerDep,
    admin: AdminDep,
    sandbox: SandboxDep,
    user_id: Annotated[str, Form(max_length=20)] = "",
    label: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Issue one more token for a user (``auth.issue_user_token``, audited as
    ``token.issue``); it is shown on the answer, once."""
    try:
        chosen = parse_id(user_id)
        if chosen is None:
            raise InvalidRequest(gettext("choose the user the token is for"))
        with sandbox.db.session() as session:
            user, token = auth.issue_user_token(sandbox.db, session, admin.actor, chosen, label)
            shown = _token_view(user, label.strip())
    except _REFUSED as err:
        return _tokens_page(
            request, viewer, sandbox, error=err, typed={"user_id": user_id, "label": label}
        )
    return _token_page(request, viewer, shown, token, created=False)


@router.post("/tokens/{token_id}/revoke")
def revoke_token(
    request: Request,
    token_id: IdPath,
    viewer: AdminViewerDep,
    admin: AdminDep,
    sandbox: SandboxDep,
) -> Response:
    """Revoke one token (``auth.revoke_token``, audited as ``token.revoke``); the console
    sessions made with it end on every process."""
    try:
        with sandbox.db.session() as session:
            auth.revoke_token(sandbox.db, session, admin.actor, token_id)
    except _REFUSED as err:
        return _tokens_page(request, viewer, sandbox, error=err)
    return RedirectResponse("/console/admin/tokens?notice=revoked", status_code=303)
