"""The life of a job: the one writer of its status, and what the caller may see.

:func:`transition` is the only code that assigns ``Job.status`` (a test greps
for it): submission, the start and end of a run, a failure, a review, a
release, a re-issued answer and the recovery after a restart all go through
it. It checks the state machine (:mod:`policies.airlock`), sets the run's
timestamps and appends the audit entry, in the caller's transaction.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from sqlalchemy.orm import Session

from jobs.kinds import KINDS
from policies.airlock import JobStatus, check_can_create, check_can_see_job, check_can_transition
from policies.errors import NotFound
from policies.roles import Role
from policies.views import JobView, job_view
from sandbox.access.auth import Principal
from sandbox.audit import chain as audit
from sandbox.store.db import Database
from sandbox.store.models import Job, utcnow


class Requeuer(Protocol):
    """What recovery needs of the executor (:class:`sandbox.jobs.execute.Executor`)."""

    def requeue_expired(self) -> int:
        """Put running jobs whose lease ended back in the queue (or end them); how many."""
        ...


#: States in which a run has ended: the job's ``finished_at`` is set on entering them.
_RUN_ENDED = frozenset({JobStatus.AWAITING_REVIEW, JobStatus.FAILED})


def transition(
    db: Database,
    session: Session,
    job: Job,
    target: JobStatus,
    *,
    actor: str,
    action: str | None = None,
    subject: str | None = None,
    error: str | None = None,
    **details: Any,
) -> Job:
    """Move ``job`` to ``target``: the rule, the timestamps, the audit entry.

    A new job (not yet in the session, no status) is created in ``target``
    (:func:`policies.airlock.check_can_create`) and flushed for its id. A run
    that starts gets ``started_at``; one that ends (to review, or failed) gets
    ``finished_at``; a job created already released (a re-issued answer) gets
    both.

    Args:
        db: The metadata store (the audit chain's lock).
        session: The caller's transaction; the job row should be locked by it.
        job: The job.
        target: Its new status.
        actor: Who moves it, as the audit log names them.
        action: The audit entry's action (``job.run``, ``job.fail``...); None: the
            caller appends its own entry (a review's approval, which says more).
        subject: The audit entry's subject; default ``job:<id>``.
        error: The reason a failed job shows the operator (also audited as ``error``).
        details: The audit entry's other fields.

    Raises:
        Conflict: The state machine forbids the move.
    """
    now = utcnow()
    before = None if job.status is None else JobStatus(job.status).value
    if job.status is None:  # a new job: its first state
        check_can_create(target)
        job.status = target
        if target is not JobStatus.QUEUED:  # created with its answer: no run of its own
            job.started_at = job.finished_at = now
        session.add(job)
        session.flush()
    else:
        check_can_transition(JobStatus(job.status), target)
        job.status = target
        if target is JobStatus.RUNNING:
            job.started_at = now
        elif target in _RUN_ENDED:
            job.finished_at = now
    if error is not None:
        job.error = error
        details = {"error": error, **details}
    if action is not None:
        audit.append(db, session, actor, action, subject or f"job:{job.id}", **details)
    # ids, kind and states only: never a spec, a value or the error; an untimed kind's
    # run time never leaves the database (the operator must not learn it)
    event: dict[str, Any] = {
        "event": "job.transition",
        "job_id": job.id,
        "kind": job.kind,
        "from": before,
    }
    timed = view_of(Role.OPERATOR, job.kind).timing
    if before and target in _RUN_ENDED and job.started_at and timed:
        event["duration_s"] = round((now - job.started_at).total_seconds(), 3)
    logging.getLogger(__name__).info(
        "job %s %s -> %s", job.id, before, target.value, extra={**event, "state": target.value}
    )
    return job


def locked(session: Session, job_id: int) -> Job:
    """The job row, locked until the transaction ends.

    ``FOR NO KEY UPDATE`` on PostgreSQL: rows that reference the job (ledger entries,
    releases) may still be written by others meanwhile (their foreign-key checks take a
    key-share lock, which a plain ``FOR UPDATE`` would block: a deadlock with the audit
    lock under load).

    Raises:
        NotFound: No such job.
    """
    job = session.get(Job, job_id, with_for_update={"of": Job, "key_share": True})
    if job is None:
        raise NotFound("no such job")
    return job


def view_of(role: Role, kind: str, *, reviewer: bool = False) -> JobView:
    """The view ``role`` gets of a job of ``kind`` (:func:`policies.airlock.job_view`).

    A kind no longer registered is seen as untimed (the safe side).
    """
    untimed = kind not in KINDS or KINDS[kind].untimed
    return job_view(role, untimed=untimed, reviewer=reviewer)


def visible_job(session: Session, who: Principal, job_id: int) -> Job:
    """A job the caller may know about.

    Raises:
        NotFound: No such job, or another organisation's job asked by an operator.
    """
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound("no such job")
    check_can_see_job(who.role, who.org_id, job.org_id)
    return job


def recover(executor: Requeuer) -> int:
    """What a starting service does about jobs a previous process left behind.

    Queued jobs simply wait for a worker. Running jobs whose lease ended, or whose
    worker was a process of this host that is gone, go back to the queue and run
    again with the charge they hold (:meth:`Requeuer.requeue_expired`); the others
    are requeued when their lease ends. Also removes the private folders of custom
    runs whose process was killed on this host (each run sweeps its own worker's
    host too).

    Returns:
        How many jobs were requeued or ended.
    """
    from jobs.kinds.custom.engine import sweep_work_folders
    from jobs.kinds.custom.jail import sweep_private_folders

    sweep_work_folders()
    sweep_private_folders()
    return executor.requeue_expired()
