"""Console pages: sign-in, the review queue, an output and its decision."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from policies.airlock import Decision, JobStatus, can_download
from policies.errors import NotFound, TooManyAttempts, Unauthenticated
from policies.roles import Role
from sandbox.access.auth import live_token_id
from sandbox.airlock import review as airlock
from sandbox.airlock.releases import local_output
from sandbox.audit import chain as audit
from sandbox.jobs.service import visible_job
from sandbox.service import Sandbox
from sandbox.store.models import Job
from sandbox.web.console import preview, views
from sandbox.web.console.i18n import N_, gettext
from sandbox.web.console.session import (
    COOKIE,
    LIFETIME,
    LOGIN_COOKIE,
    clear_cookie,
    same_secret,
    set_cookie,
    store,
)
from sandbox.web.console.web import (
    HERE,
    AnyViewerDep,
    ConsoleRoute,
    StewardDep,
    Viewer,
    ViewerDep,
    check_console_role,
    check_csrf,
    render,
    start_page,
)
from sandbox.web.deps import SandboxDep, signed_in
from sandbox.web.params import MAX_ID, IdPath, parse_id

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)
#: The console's static files, read once: name -> (bytes, media type).
_STATIC = {
    name: ((HERE / "static" / name).read_bytes(), media)
    for name, media in (("console.css", "text/css"), ("favicon.svg", "image/svg+xml"))
}
#: Notices a redirect may name (never free text from the query string).
NOTICES = {
    "approved": N_("Approval recorded."),
    "released": N_("Approved and released; the manifest is signed."),
    "rejected": N_("Rejected; the operator sees the reason."),
    "waiting": N_("Approval recorded; a second steward must approve before release."),
    "returned": N_("Returned for changes; the operator sees your comment."),
}


@router.get("/static/{name}")
def static(name: str) -> Response:
    """The style sheet and the icon (a fixed list: no path is read from the request)."""
    if name not in _STATIC:
        raise NotFound(gettext("No such file."))
    body, media = _STATIC[name]
    return Response(body, media_type=media)


@router.get("")
def home(request: Request) -> RedirectResponse:
    """The queue is the bureau's start page; the users page the admins'."""
    found = store(request).get(request.cookies.get(COOKIE))
    return RedirectResponse(start_page(found[1]) if found else "/console/queue", status_code=303)


def _login_form(request: Request, status_code: int = 200, message: str = "") -> Response:
    nonce = secrets.token_urlsafe(32)
    response = render(request, "login.html", None, status_code, login_csrf=nonce, message=message)
    set_cookie(request, response, LOGIN_COOKIE, nonce, max_age=3600)
    return response


@router.get("/login")
def login_page(request: Request) -> Response:
    """The sign-in form."""
    return _login_form(request)


@router.post("/login")
def login(
    request: Request,
    sandbox: SandboxDep,
    token: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Exchange an API token for a console session (stewards and auditors only)."""
    if not same_secret(csrf, request.cookies.get(LOGIN_COOKIE, "")):
        return _login_form(request, 403, gettext("The sign-in form expired; please try again."))
    try:
        who = signed_in(request, sandbox, token.strip() or None)
    except TooManyAttempts as err:
        wait = gettext("Too many failed sign-ins; wait %(seconds)s s.") % {
            "seconds": err.retry_after_s
        }
        refused = _login_form(request, 429, wait)
        refused.headers["Retry-After"] = str(err.retry_after_s)
        return refused
    except Unauthenticated:
        return _login_form(request, 401, gettext("That token is not valid."))
    check_console_role(who)
    token_id = live_token_id(sandbox.db, token.strip())
    # a fresh id at every sign-in (no fixation)
    session = store(request).create(token_id, replacing=request.cookies.get(COOKIE))
    with sandbox.db.session() as db_session:
        audit.append(sandbox.db, db_session, who.actor, "console.login", f"user:{who.user_id}")
    response = RedirectResponse(start_page(who), status_code=303)
    set_cookie(request, response, COOKIE, session.id, max_age=int(LIFETIME))
    clear_cookie(request, response, LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(
    request: Request, viewer: AnyViewerDep, sandbox: SandboxDep, csrf: Annotated[str, Form()] = ""
) -> Response:
    """End the session."""
    check_csrf(viewer, csrf)
    store(request).drop(viewer.session.id)
    with sandbox.db.session() as db_session:
        audit.append(
            sandbox.db, db_session, viewer.who.actor, "console.logout", f"user:{viewer.who.user_id}"
        )
    response = RedirectResponse("/console/login", status_code=303)
    clear_cookie(request, response, COOKIE)
    return response


@router.get("/queue")
def queue(
    request: Request,
    viewer: ViewerDep,
    sandbox: SandboxDep,
    status: Annotated[str, Query(max_length=20)] = "awaiting_review",
    org: Annotated[str, Query(max_length=20)] = "",
    dataset: Annotated[str, Query(max_length=64)] = "",
    kind: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """Outputs to review (or in another state), filtered by organisation, dataset and kind."""
    org_id = parse_id(org)
    with sandbox.db.session() as session:
        rows = views.queue(session, status, org_id, dataset, kind)
        options = views.filter_options(session)
        return render(
            request,
            "queue.html",
            viewer,
            rows=rows,
            options=options,
            selected={"status": status, "org": org_id, "dataset": dataset, "kind": kind},
        )


@router.get("/jobs/{job_id}")
def job(
    request: Request,
    job_id: IdPath,
    viewer: ViewerDep,
    sandbox: SandboxDep,
    notice: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """One output: spec, datasets, budget, checks, preview, error bars, history, decision."""
    with sandbox.db.session() as session:
        shown = visible_job(session, viewer.who, job_id)
        reviewer = _reads_output(session, viewer, shown)
        # exact run facts: auditors and the bureau holding the data, as in the API (art. 63)
        exact = viewer.who.role is Role.AUDITOR or airlock.owns_inputs(session, viewer.who, shown)
        page = views.job_page(
            session,
            shown,
            reviewer=reviewer,
            exact=exact,
            viewer_id=viewer.who.user_id,
            cache=sandbox.settings.data_dir / "cache",
        )
        if reviewer:
            _audit_preview(sandbox, session, viewer, shown)
        return render(
            request,
            "job.html",
            viewer,
            page=page,
            notice=gettext(NOTICES[notice]) if notice in NOTICES else "",
            may_review=reviewer,
        )


def _reads_output(session: Session, viewer: Viewer, job: Job) -> bool:
    """Whether the viewer may read the job's output and run logs here, and review it: a
    steward of the bureau that owns the job's inputs (art. 63), and only where the API would
    let them download it (awaiting review or released; not a rejected one, whose file may
    still lie in quarantine)."""
    return (
        viewer.who.role is Role.STEWARD
        and can_download(viewer.who.role, viewer.who.org_id, job.org_id, JobStatus(job.status))
        and airlock.owns_inputs(session, viewer.who, job)
    )


def _audit_preview(
    sandbox: Sandbox, session: Session, viewer: Viewer, job: Job, **details: Any
) -> None:
    """Record who read a quarantined output, and when (art. 63: access is traceable)."""
    if job.status == JobStatus.AWAITING_REVIEW.value:
        audit.append(
            sandbox.db, session, viewer.who.actor, "output.preview", f"job:{job.id}", **details
        )


@router.get("/jobs/{job_id}/files/{index}.png")
def image(
    job_id: IdPath,
    index: Annotated[int, PathParam(ge=0, le=MAX_ID)],
    viewer: ViewerDep,
    sandbox: SandboxDep,
) -> Response:
    """A PNG image of a custom job's archive, checked by its magic bytes (stewards only)."""
    with sandbox.db.session() as session:
        shown = visible_job(session, viewer.who, job_id)
        if not _reads_output(session, viewer, shown):
            raise NotFound(gettext("Outputs are shown to the reviewing stewards only."))
        location, sha256 = shown.output_path, shown.output_sha256
        _audit_preview(sandbox, session, viewer, shown, file=index)
    path = local_output(sandbox.settings.data_dir / "cache", location, sha256)
    if path is None or path.suffix.lower() != ".zip":
        raise NotFound(gettext("The output has no images."))
    return Response(
        preview.zip_image(path, index),
        media_type="image/png",
        headers={"X-Content-Type-Options": "nosniff", "Content-Disposition": "inline"},
    )


@router.post("/jobs/{job_id}/review")
def review(
    request: Request,
    job_id: IdPath,
    steward: StewardDep,
    sandbox: SandboxDep,
    decision: Annotated[Decision, Form()],
    reason: Annotated[str, Form(max_length=4000)] = "",
    override_reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Approve, reject or return for changes with a reason; failing checks need an override
    reason to approve. A rejection or a return closes the job; the operator reads the reason."""
    decided = airlock.review(
        sandbox.db,
        sandbox.settings,
        steward,
        job_id,
        decision,
        reason,
        override_reason=override_reason,
    )
    if decision is Decision.REJECT:
        notice = "rejected"
    elif decision is Decision.RETURN:
        notice = "returned"
    elif decided.status == "released":
        notice = "released"
    else:
        notice = "waiting"
    return RedirectResponse(f"/console/jobs/{job_id}?notice={notice}", status_code=303)
