"""Identical queries across a firm's grants: the earlier noisy answer, never fresh noise.

An identical query (same canonical spec) submitted again by the same firm,
under any of its grants and in any budget period, gets the answer the first
one got, at no cost: answering it afresh would let the firm average the
noise away. A second grant or a new budget period changes nothing there.

The answer is looked up without regard to whether its grant is still in
force (filtering on that would buy fresh noise once a grant ends). When the
earlier job's grant no longer is (terminated, suspended or expired) but the
submitting grant is, the released answer is **re-issued** under the
submitting grant (:func:`reissue`): a new job row pointing at the same
released file, with no new noise, no charge and an audited cache hit, so
the firm can download under the grant now in force what it was already
given. An answer still awaiting review is not re-issued (its review decides).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from policies import grants
from policies.airlock import JobStatus
from policies.errors import Conflict
from policies.grants import GrantState
from sandbox.access.auth import Principal
from sandbox.audit import chain as audit
from sandbox.jobs.lifecycle import transition
from sandbox.store.db import Database
from sandbox.store.models import Grant, Job, utcnow

#: Jobs whose answer an identical query gets: those that have or may yet have one.
CACHEABLE = [
    s.value
    for s in (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.AWAITING_REVIEW, JobStatus.RELEASED)
]
#: Where a re-issued job's report names the job whose answer it carries.
ANSWER_OF = "answer_of"


def in_force(grant: Grant) -> bool:
    """Whether the grant is active and unexpired (art. 76; :func:`policies.grants.in_force`)."""
    return grants.in_force(GrantState(grant.state), grant.expires_at, utcnow())


def lookup(session: Session, grant: Grant, spec_hash: str) -> Job | None:
    """The job whose answer an identical query under ``grant`` gets, if any.

    Among the firm's jobs with this spec: one under ``grant`` itself, else one
    whose grant is in force, else a released one (to re-issue), else the first.
    """
    jobs = list(
        session.scalars(
            select(Job)
            .where(
                Job.org_id == grant.org_id,
                Job.spec_hash == spec_hash,
                Job.status.in_(CACHEABLE),
            )
            .order_by(Job.id)
        )
    )
    for wanted in (
        lambda j: j.grant_id == grant.id,
        lambda j: in_force(j.grant),
        lambda j: j.status == JobStatus.RELEASED.value,
    ):
        found = next((j for j in jobs if wanted(j)), None)
        if found is not None:
            return found
    return jobs[0] if jobs else None


def answer_source(job: Job) -> int:
    """The id of the job whose release ``job`` carries: itself, unless it is a re-issue."""
    source = job.report.get(ANSWER_OF) if job.epsilon == 0 and job.delta == 0 else None
    if not isinstance(source, int):
        return job.id
    # only the firm's own identical query (a report is not trusted to name any job)
    session = object_session(job)
    earlier = session.get(Job, source) if session is not None else None
    if earlier is None or (earlier.org_id, earlier.spec_hash) != (job.org_id, job.spec_hash):
        return job.id
    return earlier.id


def needs_reissue(cached: Job, grant: Grant) -> bool:
    """Whether ``cached`` must be re-issued under ``grant`` for the firm to download it.

    Raises:
        Conflict: Its grant is no longer in force and it has no released answer yet.
    """
    if cached.grant_id == grant.id or in_force(cached.grant) or not in_force(grant):
        return False
    if cached.status != JobStatus.RELEASED.value:
        raise Conflict(
            f"this identical query was already asked under grant {cached.grant_id}, which is "
            f"no longer in force, and its answer (job {cached.id}) is not released yet; an "
            "identical query gets that answer, never a fresh one: submit it again once a "
            f"steward has reviewed job {cached.id}"
        )
    return True


def reissue(
    db: Database, session: Session, who: Principal, cached: Job, grant: Grant, purpose: str
) -> Job:
    """Re-issue ``cached``'s released answer under ``grant``: no new noise, no charge, audited.

    Returns:
        The new job, already released, pointing at the same output file.
    """
    job = Job(
        grant_id=grant.id,
        org_id=cached.org_id,
        submitted_by=who.user_id,
        kind=cached.kind,
        spec=cached.spec,
        spec_hash=cached.spec_hash,
        purpose=purpose,
        epsilon=0,
        delta=0,
        output_path=cached.output_path,
        output_sha256=cached.output_sha256,
        report=dict(cached.report) | {ANSWER_OF: cached.id},
    )
    # created released (started and finished now); the audit entry names the new job,
    # which has its id once created, and is a hit on the answer's job
    transition(db, session, job, JobStatus.RELEASED, actor=who.actor)
    audit.append(
        db,
        session,
        who.actor,
        "job.cache_hit",
        f"job:{cached.id}",
        grant=grant.id,
        reissued_as=job.id,
    )
    return job
