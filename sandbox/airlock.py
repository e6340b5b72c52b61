"""The airlock: review of quarantined outputs, release with a signed manifest, download.

Nothing but a released product crosses the boundary (art. 37). A steward
of another organisation approves or rejects with a reason; an approval is
refused while an automatic check fails. A release copies the output out of
quarantine and records a manifest (job spec, dataset hashes, ε spent,
checks, approver, output SHA-256) signed with the deployment's key.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from jobs.runner import sha256_file
from policies.airlock import Decision, JobStatus, check_can_download, check_can_review
from policies.budget import PrivacyBudget
from policies.errors import Conflict, InternalError
from policies.grants import GrantState
from sandbox import audit, signing
from sandbox.auth import Principal
from sandbox.catalog import get as get_dataset
from sandbox.checks import blocking
from sandbox.job_service import visible_job
from sandbox.settings import Settings
from sandbox.store.db import Database
from sandbox.store.models import Job, Release, Review, utcnow


def review(
    db: Database, settings: Settings, who: Principal, job_id: int, decision: Decision, reason: str
) -> Job:
    """Approve or reject a quarantined output.

    Raises:
        NotFound: No such job.
        PolicyViolation: Not a steward, or the steward's own organisation's job.
        Conflict: Not awaiting review, or an automatic check fails (approval only).
        InvalidRequest: No reason.
    """
    with db.session() as session:
        job = visible_job(session, who, job_id)
        session.refresh(job, with_for_update={"of": Job})
        check_can_review(who.role, who.org_id, job.org_id, JobStatus(job.status), reason)
        session.add(
            Review(job_id=job.id, reviewer_id=who.user_id, decision=decision.value, reason=reason)
        )
        if decision is Decision.REJECT:
            job.status = JobStatus.REJECTED.value
            audit.append(db, session, who.actor, "review.reject", f"job:{job.id}", reason=reason)
            return job
        failing = blocking(job.report.get("checks", []))
        if failing:
            raise Conflict(
                f"automatic checks fail ({', '.join(failing)}); the output cannot be approved "
                "as it is: reject it, and the operator can resubmit a coarser query"
            )
        quarantined = Path(job.output_path)
        if sha256_file(quarantined) != job.output_sha256:
            raise InternalError("the quarantined output changed since the job wrote it")
        settings.releases_dir.mkdir(parents=True, exist_ok=True)
        released = settings.releases_dir / f"job-{job.id}{quarantined.suffix}"
        tmp = released.with_suffix(".partial")
        shutil.copyfile(quarantined, tmp)
        os.replace(tmp, released)
        spec = job.spec
        names = [spec["dataset"]]
        datasets = [get_dataset(session, n) for n in names]
        cost = PrivacyBudget.from_units(job.epsilon, job.delta)
        manifest = {
            "version": 1,
            "job_id": job.id,
            "kind": job.kind,
            "spec": spec,
            "purpose": job.purpose,
            "grant_id": job.grant_id,
            "organisation": job.grant.org.name,
            "datasets": [
                {"name": d.name, "sha256": d.sha256, "rows": d.row_count, "grade": d.grade}
                for d in datasets
            ],
            "privacy": {
                "epsilon": cost.epsilon,
                "delta": cost.delta,
                "noise": spec.get("noise", "laplace"),
                # the person, identified by this column (bounded contributions), or one row
                "unit": datasets[0].privacy_unit or "row",
                "max_rows_per_unit": spec.get("max_rows_per_unit"),
                "max_groups_per_unit": spec.get("max_groups_per_unit"),
                "accounting": "pure epsilon, or zCDP for Gaussian noise (Bun & Steinke 2016)",
            },
            "checks": job.report.get("checks", []),
            "approver": who.name,
            "approval_reason": reason,
            "approved_at": utcnow().isoformat(),
            "output": {"file": released.name, "sha256": job.output_sha256},
        }
        signature = signing.sign(settings.secret(), manifest)
        session.add(Release(job_id=job.id, manifest=manifest, signature=signature))
        job.status = JobStatus.RELEASED.value
        job.output_path = str(released.resolve())
        audit.append(
            db,
            session,
            who.actor,
            "review.approve",
            f"job:{job.id}",
            reason=reason,
            output_sha256=job.output_sha256,
        )
        return job


@dataclass(frozen=True, slots=True)
class Download:
    """A file the caller may receive."""

    path: Path
    sha256: str
    filename: str


def download(db: Database, who: Principal, job_id: int) -> Download:
    """The output of a job, if the caller may have it; audited.

    Raises:
        NotFound: No such job, or another organisation's job (operators).
        PolicyViolation: Not released (non-stewards), or not the grantee organisation.
    """
    with db.session() as session:
        job = visible_job(session, who, job_id)
        grant = job.grant
        active = grant.state == GrantState.ACTIVE.value and utcnow() < grant.expires_at
        check_can_download(who.role, who.org_id, job.org_id, JobStatus(job.status), active)
        path = Path(job.output_path)
        if sha256_file(path) != job.output_sha256:
            raise InternalError("the stored output does not match its recorded hash")
        audit.append(
            db,
            session,
            who.actor,
            "output.download",
            f"job:{job.id}",
            status=job.status,
            sha256=job.output_sha256,
        )
        return Download(path, job.output_sha256, f"job-{job.id}{path.suffix}")
