"""The airlock: review of quarantined outputs, release with a signed manifest, download.

Nothing but a released product crosses the boundary (art. 37). A steward
of another organisation approves, rejects, or returns the output for changes
(OpenSAFELY's "return to researcher") with a reason the operator reads; an approval
while an automatic check fails needs a written override reason (audited);
outputs of ``important`` data need two different stewards' approvals
(art. 62). Only stewards of the bureau that owns every input dataset review
(art. 63). A release records a manifest (job spec, keyed digests of the
inputs and their public row counts, ε spent, checks, approvers, overrides,
output SHA-256, the audit chain's head) signed with the deployment's key: the
operator receives the manifest, so it carries no plain hash and no exact
count of the inputs (:mod:`sandbox.catalog.facts`). Once the release is
committed, the output is published: copied out of quarantine into
``releases/`` (:func:`sandbox.airlock.releases.publish`, idempotent). A crash between the commit and
the copy leaves a committed release without its file, never a file without a
release; the next start finishes such releases and removes any file in
``releases/`` that no committed release names (:func:`sandbox.airlock.releases.recover_releases`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs import storage
from jobs.kinds import KINDS
from policies.access import can_manage_datasets, check_can_manage_datasets
from policies.airlock import (
    Decision,
    JobStatus,
    approvals_required_for,
    check_can_add_approval,
    check_can_approve,
    check_can_download,
    check_can_review,
    closing_state,
    release_due,
)
from policies.budget import PrivacyBudget
from policies.catalog import Grade, Product
from policies.errors import InternalError
from policies.grants import GrantState, in_force
from policies.roles import Role
from sandbox.access.auth import Principal
from sandbox.airlock.releases import publish, stale
from sandbox.audit import chain as audit
from sandbox.audit import signing
from sandbox.catalog.datasets import get as get_dataset
from sandbox.catalog.facts import DIGEST_ALGORITHM, input_digest
from sandbox.catalog.withdraw import check_usable
from sandbox.checks import blocking
from sandbox.jobs.lifecycle import transition, visible_job
from sandbox.settings import Settings
from sandbox.store.db import Database
from sandbox.store.faults import crashpoint
from sandbox.store.models import (
    Dataset,
    Job,
    Organisation,
    Release,
    Review,
    spec_datasets,
    utcnow,
)

log = logging.getLogger(__name__)


def job_datasets(spec: dict[str, Any]) -> list[str]:
    """The dataset names a stored job spec reads (:func:`sandbox.store.models.spec_datasets`)."""
    return spec_datasets(spec)


def review(
    db: Database,
    settings: Settings,
    who: Principal,
    job_id: int,
    decision: Decision,
    reason: str,
    *,
    override_reason: str = "",
) -> Job:
    """Approve, reject or return a quarantined output.

    A rejection, or a return for changes, by any one steward closes the job without
    release (rejected, or returned: the operator reads the reason, changes the job and
    submits it again); its charge stays spent, as for any job that ran. An approval is
    recorded; the output is released once as many different stewards as the datasets'
    grade requires have approved (one for ``general``, two for ``important`` data;
    :func:`policies.airlock.approvals_required`). An approval while automatic
    checks fail needs ``override_reason``; the overridden checks are recorded
    on the review, in the audit log and in the manifest.

    Args:
        db: The metadata store.
        settings: Where releases go, and the signing key.
        who: The reviewing steward.
        job_id: The job.
        decision: Approve, reject or return.
        reason: Why (shown to the operator, recorded, audited).
        override_reason: Why failing automatic checks do not matter here (approvals only).

    Raises:
        NotFound: No such job.
        PolicyViolation: Not a steward, the steward's own organisation's job,
            an input dataset of another bureau, or ``core`` data.
        Conflict: Not awaiting review, automatic checks fail and no override
            reason, this steward approved the output already, or (an approval) an
            input dataset was withdrawn.
        InvalidRequest: No reason.
    """
    published: str | None = None  # the released file's name, copied once the release commits
    with db.session() as session:
        job = visible_job(session, who, job_id)
        session.refresh(job, with_for_update={"of": Job, "key_share": True})
        datasets = [get_dataset(session, n) for n in job_datasets(job.spec)]
        check_can_manage_datasets(who.role, who.org_id, [d.org_id for d in datasets])
        check_can_review(who.role, who.org_id, job.org_id, JobStatus(job.status), reason)
        closed = closing_state(decision)
        if closed is not None:  # rejected or returned: the output never leaves
            session.add(
                Review(
                    job_id=job.id, reviewer_id=who.user_id, decision=decision.value, reason=reason
                )
            )
            return transition(
                db,
                session,
                job,
                closed,
                actor=who.actor,
                action=f"review.{decision.value}",
                reason=reason,
            )
        for dataset in datasets:  # computed from data its bureau has since withdrawn
            check_usable(dataset)
        required = approvals_required_for(Grade(d.grade) for d in datasets)
        earlier = list(
            session.scalars(
                select(Review)
                .where(Review.job_id == job.id, Review.decision == Decision.APPROVE.value)
                .order_by(Review.id)
            )
        )
        check_can_add_approval(who.user_id, [r.reviewer_id for r in earlier])
        checks = job.report.get("checks", [])
        overrides = check_can_approve(blocking(checks), override_reason)
        recorded = reason if not overrides else f"{reason}\n\nOverride: {override_reason}"
        session.add(
            Review(
                job_id=job.id,
                reviewer_id=who.user_id,
                decision=decision.value,
                reason=recorded,
                overrides=list(overrides),
            )
        )
        approvers = {r.reviewer_id for r in earlier} | {who.user_id}
        due = release_due(required, approvers)
        anchor: dict[str, str] = {}
        if due:
            published, anchor = _release(
                db,
                session,
                settings,
                who,
                job,
                datasets,
                reason,
                earlier,
                overrides,
                override_reason,
            )
        audit.append(
            db,
            session,
            who.actor,
            "review.approve",
            f"job:{job.id}",
            reason=reason,
            overrides=list(overrides),
            override_reason=override_reason if overrides else "",
            approvals=len(approvers),
            approvals_required=required,
            approver_ref=reviewer_ref(settings.secret(), who.user_id),
            released=due,
            output_sha256=job.output_sha256,
            **anchor,
        )
        crashpoint("before_approve_commit")
    crashpoint("after_approve_commit")
    if published is not None:
        try:
            publish(settings, published, job.output_sha256)
        except (OSError, InternalError) as err:
            # committed: the next download or the next start publishes it
            log.error(
                "job %s: released, but its file could not be published yet (%s)",
                job.id,
                type(err).__name__,
            )
    return job


#: Domain label of the reviewer references in signed manifests.
_REVIEWER_LABEL = b"data-sandbox reviewer reference v1"


def reviewer_ref(secret: bytes, user_id: int) -> str:
    """A steward's keyed reference in signed manifests: not their name.

    Manifests reach operators and, exported, trading venues and buyers; they name the
    approving bureau and this reference. The approval's audit entry records the same
    reference beside the steward, so auditors can say who it was.
    """
    key = hmac.new(secret, _REVIEWER_LABEL, hashlib.sha256).digest()
    return "steward-" + hmac.new(key, str(user_id).encode(), hashlib.sha256).hexdigest()[:16]


def _release(
    db: Database,
    session: Session,
    settings: Settings,
    who: Principal,
    job: Job,
    datasets: list[Dataset],
    reason: str,
    earlier: list[Review],
    overrides: tuple[str, ...],
    override_reason: str,
) -> tuple[str, dict[str, str]]:
    """Record the signed manifest of a release; the file is copied after the commit.

    Returns:
        The released file's name (in quarantine and, once published, in
        ``releases/``), and the manifest's SHA-256 and signature for the
        release's audit entry.
    """
    quarantined = job.output_path
    if storage.sha256(quarantined) != job.output_sha256:
        raise InternalError("the quarantined output changed since the job wrote it")
    suffix = Path(storage.name(quarantined)).suffix
    released = storage.join(settings.releases_location, f"job-{job.id}{suffix}")
    spec = job.spec
    cost = PrivacyBudget.from_units(job.epsilon, job.delta)
    secret = settings.secret()
    approvals = [
        {
            "approver": reviewer_ref(secret, r.reviewer_id),
            "reason": r.reason,
            "overrides": r.overrides,
        }
        for r in earlier
    ]
    approvals.append(
        {
            "approver": reviewer_ref(secret, who.user_id),
            "reason": reason,
            "overrides": list(overrides),
        }
    )
    bureau = session.get(Organisation, who.org_id)
    manifest = {
        "version": 1,
        "job_id": job.id,
        "kind": job.kind,
        "spec": spec,
        "purpose": job.purpose,
        "grant_id": job.grant_id,
        "organisation": job.grant.org.name,
        # Keyed digests and public counts only: the operator receives the manifest, and a
        # plain hash with the exact count lets a guessed table be tested against the data.
        "datasets": [
            {
                "name": d.name,
                "digest": input_digest(settings.secret(), d.sha256),
                "digest_algorithm": DIGEST_ALGORITHM,
                "public_rows": d.public_row_count,
                "grade": d.grade,
            }
            for d in datasets
        ],
        "privacy": _privacy_statement(job, cost, datasets[0].privacy_unit),
        # Names and verdicts only: a check's reason can state exact facts of the inputs
        # (how many rows match few records) that the operator, who receives the manifest,
        # may not learn; stewards and auditors read the reasons in the job's report.
        "checks": [
            {"name": c["name"], "verdict": c["verdict"]} for c in job.report.get("checks", [])
        ],
        # the approving bureau, and keyed references of its stewards (reviewer_ref)
        "approving_organisation": bureau.name if bureau is not None else "",
        "approver": reviewer_ref(secret, who.user_id),
        "approval_reason": reason,
        "approvals": approvals,
        "overrides": sorted({name for a in approvals for name in a["overrides"]}),
        "override_reason": override_reason if overrides else "",
        "approved_at": utcnow().isoformat(),
        "output": {"file": storage.name(released), "sha256": job.output_sha256},
        # The newest audit entry when this was signed: `sandbox audit verify` checks
        # that the chain still holds it, so the signed manifest anchors the chain.
        "audit_head": audit.head_record(session, settings.secret()),
    }
    signature = signing.sign(settings.secret(), manifest)
    session.add(Release(job_id=job.id, manifest=manifest, signature=signature))
    # the approval's own audit entry (review.approve) records the release
    transition(db, session, job, JobStatus.RELEASED, actor=who.actor)
    job.output_path = released
    digest = hashlib.sha256(audit.canonical_json(manifest)).hexdigest()
    return storage.name(released), {"manifest_sha256": digest, "manifest_signature": signature}


@dataclass(frozen=True, slots=True)
class Download:
    """A file the caller may receive."""

    path: Path
    sha256: str
    filename: str


def input_owners(session: Session, job: Job) -> list[int]:
    """The owning bureau of each dataset the job reads."""
    return [get_dataset(session, n).org_id for n in job_datasets(job.spec)]


def owns_inputs(session: Session, who: Principal, job: Job) -> bool:
    """Whether ``who`` is a steward of the bureau that owns every input of ``job``
    (:func:`policies.access.can_manage_datasets`): the one who may review and read it."""
    return can_manage_datasets(who.role, who.org_id, input_owners(session, job))


def download(
    db: Database, who: Principal, job_id: int, settings: Settings | None = None
) -> Download:
    """The output of a job, if the caller may have it; audited.

    A released output whose file is not published yet (the approval committed,
    the copy was cut short) is published first when ``settings`` are given.

    Raises:
        NotFound: No such job, or another organisation's job (operators).
        PolicyViolation: Not released (non-stewards), not the grantee organisation, or a
            steward of a bureau that does not own the job's inputs.
    """
    with db.session() as session:
        job = _downloadable(session, who, job_id)
        location, sha256 = job.output_path, job.output_sha256
        publishing = settings is not None and job.status is JobStatus.RELEASED
    republished: str | None = None
    if settings is not None and publishing:
        # outside the transaction: SQLite's write lock is not held during the copy
        republished = stale(settings, storage.name(location), sha256)
        location = publish(settings, storage.name(location), sha256)  # checks quarantine's hash
        if republished is not None:
            log.warning("job %s: released file %s, published again", job_id, republished)
    # an object in object storage is served from a checked local copy (a web server sends files)
    folder = (
        settings.data_dir if settings is not None else Settings.model_fields["data_dir"].default
    )
    cache = Path(folder) / "cache"
    path = storage.cached(location, sha256, cache)
    if path is None:
        raise InternalError("the stored output does not match its recorded hash")
    with db.session() as session:
        job = _downloadable(session, who, job_id)  # the grant may have ended meanwhile
        if republished is not None:
            audit.append(
                db, session, "system", "release.republish", f"job:{job.id}", reason=republished
            )
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


def _downloadable(session: Session, who: Principal, job_id: int) -> Job:
    job = visible_job(session, who, job_id)
    grant = job.grant
    active = in_force(GrantState(grant.state), grant.expires_at, utcnow())
    check_can_download(who.role, who.org_id, job.org_id, JobStatus(job.status), active)
    if who.role is Role.STEWARD:  # a steward reads outputs to review them: its bureau's only
        check_can_manage_datasets(who.role, who.org_id, input_owners(session, job))
    return job


def _privacy_statement(job: Job, cost: PrivacyBudget, unit: str | None) -> dict[str, Any]:
    """What protects the people in a released product (for the manifest): the common
    facts, then the kind's own statement (:meth:`jobs.kinds.base.JobKind.privacy_statement`)."""
    # the person, identified by this column, or one row
    base = {"kind": job.kind, "epsilon": cost.epsilon, "delta": cost.delta, "unit": unit or "row"}
    spec = job.parsed_spec
    return base | KINDS[spec.kind].privacy_statement(spec, job.report)


#: Report fields that hold what operator code printed: it may print data, so only the
#: stewards who review the output read it (auditors read neither outputs nor these).
_STREAMS = frozenset({"stdout", "stderr", "stdout_tail", "stderr_tail"})
#: What a check's reason of a custom job says to anyone but the reviewing stewards.
REVIEWERS_ONLY = "shown to the reviewing stewards only"


def for_non_reviewers(report: dict[str, Any], kind: str) -> dict[str, Any]:
    """``report`` as auditors see it (:attr:`policies.airlock.ReportAccess.REDACTED`): without
    the tails of the run's output streams (at most one level down); for operator code's
    output (:attr:`policies.catalog.Product.PROGRAM_OUTPUT`), whose code chooses its files'
    and columns' names (and could write data into them), with counts for the file lists and
    no check reasons (they quote those names)."""
    shown = {
        k: ({kk: vv for kk, vv in v.items() if kk not in _STREAMS} if isinstance(v, dict) else v)
        for k, v in report.items()
        if k not in _STREAMS
    }
    # a kind no longer registered: redacted as operator code's (the safe side)
    if kind in KINDS and KINDS[kind].product is not Product.PROGRAM_OUTPUT:
        return shown
    for key in ("files", "rejected"):
        if isinstance(shown.get(key), list):
            shown[key] = len(shown[key])
    if isinstance(shown.get("checks"), list):
        shown["checks"] = [
            {"name": c.get("name"), "verdict": c.get("verdict"), "reason": REVIEWERS_ONLY}
            for c in shown["checks"]
        ]
    return shown
