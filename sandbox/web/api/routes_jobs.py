"""Jobs: submission, status, review, release and download."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from fastapi.responses import FileResponse, Response
from sqlalchemy import select

from policies.airlock import JobStatus
from policies.errors import NotFound
from policies.roles import Role
from policies.views import ReportAccess, check_can_read_manifest
from sandbox.airlock import review as airlock
from sandbox.airlock.decisions import Decided, decision_of, decisions
from sandbox.airlock.export import export as export_package
from sandbox.jobs.answer_cache import answer_source
from sandbox.jobs.lifecycle import view_of
from sandbox.jobs.service import visible_job
from sandbox.store.faults import crash_soon
from sandbox.store.models import Job, Release
from sandbox.web.api.schemas import (
    JobCreate,
    JobEstimate,
    JobPublic,
    ReleasePublic,
    ReviewCreate,
)
from sandbox.web.deps import Caller, SandboxDep
from sandbox.web.params import IdPath

router = APIRouter(tags=["jobs"])


def _public(
    job: Job, role: Role, *, reviewer: bool = False, decided: Decided | None = None
) -> JobPublic:
    # The run report holds exact facts (how many groups existed) that are not
    # differentially private: stewards and auditors see it, operators and admins never do;
    # what the operator's code printed is for the reviewing stewards only (it may print
    # data): stewards of the bureau owning the job's inputs (``reviewer``).
    # A steward of another bureau reads no exact run facts either (art. 63).
    # The closing review decision (``decided``) is shown to everyone who sees the job.
    public = JobPublic.of(job, with_report=role is not Role.OPERATOR, decided=decided)
    access = view_of(role, job.kind, reviewer=reviewer).report
    if access is ReportAccess.NONE:
        public.report = None
    elif access is ReportAccess.REDACTED and public.report is not None:
        public.report = airlock.for_non_reviewers(public.report, job.kind)
    return public


@router.post("/jobs", status_code=status.HTTP_202_ACCEPTED)
def submit(body: JobCreate, who: Caller, sandbox: SandboxDep) -> JobPublic:
    """Submit a job under a grant; ε is reserved before it runs (409 when it does not fit)."""
    job = sandbox.jobs.submit(who, body.grant_id, body.spec, body.purpose)
    return _public(job, who.role)


@router.post("/jobs/estimate")
def estimate(body: JobEstimate, who: Caller, sandbox: SandboxDep) -> dict[str, Any]:
    """Cost (ε, δ) and expected accuracy of a job, without running it or spending budget."""
    # also the group size assumed and small-cell warnings; ``expected_group_size`` (rows
    # per group) is the operator's planning figure, else the steward's band is used
    return sandbox.jobs.estimate(who, body.grant_id, body.spec, body.expected_group_size)


@router.get("/jobs")
def list_jobs(
    who: Caller,
    sandbox: SandboxDep,
    status_: Annotated[JobStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[JobPublic]:
    """Jobs: an operator sees its organisation's; stewards and auditors all."""
    stmt = select(Job).order_by(Job.id.desc())
    if who.role is Role.OPERATOR:
        # An operator filters on the status it is shown (custom jobs hide their progress).
        stmt = stmt.where(Job.org_id == who.org_id)
        with sandbox.db.session() as session:
            rows = list(session.scalars(stmt.limit(10 * limit)))
            decided = decisions(session, rows)
            shown = (_public(j, who.role, decided=decided.get(j.id)) for j in rows)
            return [j for j in shown if status_ is None or j.status == status_.value][:limit]
    if status_ is not None:
        stmt = stmt.where(Job.status == status_.value)
    with sandbox.db.session() as session:
        rows = list(session.scalars(stmt.limit(limit)))
        decided = decisions(session, rows)
        return [
            _public(
                j,
                who.role,
                reviewer=airlock.owns_inputs(session, who, j),
                decided=decided.get(j.id),
            )
            for j in rows
        ]


@router.get("/jobs/{job_id}")
def get_job(job_id: IdPath, who: Caller, sandbox: SandboxDep) -> JobPublic:
    """One job (another organisation's job is 404 to an operator)."""
    with sandbox.db.session() as session:
        job = visible_job(session, who, job_id)
        reviewer = airlock.owns_inputs(session, who, job)
        return _public(job, who.role, reviewer=reviewer, decided=decision_of(session, job))


@router.post("/jobs/{job_id}/review")
def review(job_id: IdPath, body: ReviewCreate, who: Caller, sandbox: SandboxDep) -> JobPublic:
    """Approve, reject or return for changes a quarantined output (steward of the bureau).

    Failing automatic checks need ``override_reason`` to approve; outputs of
    important data are released on the second different steward's approval. A
    rejection or a return by one steward closes the job; the operator reads the reason
    in the job's ``decision``.
    """
    airlock.review(
        sandbox.db,
        sandbox.settings,
        who,
        job_id,
        body.decision,
        body.reason,
        override_reason=body.override_reason,
    )
    with sandbox.db.session() as session:
        job = visible_job(session, who, job_id)
        # the review passed the bureau's check: the steward reads the report in full
        return _public(job, who.role, reviewer=True, decided=decision_of(session, job))


#: Output media types by suffix (tables, models, custom zips).
_MEDIA_TYPES = {
    ".parquet": "application/vnd.apache.parquet",
    ".json": "application/json",
    ".safetensors": "application/octet-stream",
    ".zip": "application/zip",
}


@router.get("/jobs/{job_id}/output", response_class=FileResponse)
def download(job_id: IdPath, who: Caller, sandbox: SandboxDep) -> FileResponse:
    """The output file: released products for the grantee; quarantined ones for stewards."""
    d = airlock.download(sandbox.db, who, job_id, sandbox.settings)
    crash_soon("during_download", 0.05)  # while the file is being sent
    return FileResponse(
        d.path,
        media_type=_MEDIA_TYPES.get(d.path.suffix, "application/octet-stream"),
        filename=d.filename,
        headers={"X-Content-SHA256": d.sha256},
    )


@router.post("/jobs/{job_id}/export", response_class=Response)
def export(job_id: IdPath, who: Caller, sandbox: SandboxDep) -> Response:
    """A released product packaged for a data trading venue (art. 40), audited: a zip of
    the product, its signed manifest, the public key and its fingerprint, and a README
    (Chinese, English) on checking it offline. Whoever may download the product may export it.
    """
    package = export_package(sandbox.db, sandbox.settings, who, job_id)
    return Response(
        package.content,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{package.filename}"',
            "X-Content-SHA256": package.sha256,
        },
    )


@router.get("/jobs/{job_id}/manifest")
def manifest(job_id: IdPath, who: Caller, sandbox: SandboxDep) -> ReleasePublic:
    """The signed manifest of a released product."""
    with sandbox.db.session() as session:
        job = visible_job(session, who, job_id)
        check_can_read_manifest(who.role, JobStatus(job.status))
        release = session.scalar(select(Release).where(Release.job_id == answer_source(job)))
        if release is None:
            raise NotFound("the job has no release")
        return ReleasePublic(job_id=job.id, manifest=release.manifest, signature=release.signature)
