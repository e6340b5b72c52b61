"""Retention: outputs no one will receive are deleted from quarantine after a while.

A rejected or returned output never leaves the sandbox (a returned job is changed
and submitted again as a new job) and a failed job's partial output is of no use;
keeping them longer than needed for a complaint or an audit only keeps derived data
at risk. ``SANDBOX_RETENTION_DAYS`` after a rejected, returned or failed job
finished, :func:`sweep` deletes every quarantined file of the job (``job-<id>.*``
and each run's ``job-<id>-a<attempt>.*``: a table, a custom job's archive, a model
and its card), records ``Job.output_deleted_at`` and appends ``job.output_deleted`` to the audit
log (which files, never what they held). The job row, its report and its
ledger charge stay. Released outputs are never touched: their copy in
``releases/`` is what grantees download.

``sandbox admin retention`` runs one sweep; a service runs :func:`sweep_periodically`
in a thread of its workers.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import threading
from pathlib import Path

from sqlalchemy import select

from jobs import storage
from policies.airlock import JobStatus
from sandbox.audit import chain as audit
from sandbox.settings import Settings
from sandbox.store.db import Database
from sandbox.store.models import Job, utcnow

log = logging.getLogger(__name__)

#: Statuses whose output nobody will receive.
EXPIRING = (JobStatus.REJECTED, JobStatus.RETURNED, JobStatus.FAILED)
#: How often :func:`sweep_periodically` sweeps.
SWEEP_INTERVAL_S = 3600.0


def sweep(db: Database, settings: Settings, now: dt.datetime | None = None) -> int:
    """Delete the quarantined outputs of rejected, returned and failed jobs past retention.

    Idempotent: a job whose output was deleted is not looked at again; one
    interrupted between deleting its files and committing is finished by the
    next sweep (its files are gone already, which is what was wanted).

    Args:
        db: The store.
        settings: ``retention_days`` and the quarantine folder.
        now: The time to measure from (default: now, UTC).

    Returns:
        How many jobs' outputs were deleted.
    """
    cutoff = (now or utcnow()) - dt.timedelta(days=settings.retention_days)
    with db.session() as session:
        due = list(
            session.scalars(
                select(Job.id)
                .where(
                    Job.status.in_([s.value for s in EXPIRING]),
                    Job.finished_at.is_not(None),
                    Job.finished_at < cutoff,
                    Job.output_deleted_at.is_(None),
                )
                .order_by(Job.id)
            )
        )
    done = 0
    for job_id in due:
        with db.session() as session:
            job = session.scalar(
                select(Job)
                .where(Job.id == job_id, Job.output_deleted_at.is_(None))
                .with_for_update(of=Job)
            )
            if job is None:  # another sweep got there first
                continue
            removed = _remove_outputs(settings, job)
            job.output_deleted_at = utcnow()
            audit.append(
                db,
                session,
                "system",
                "job.output_deleted",
                f"job:{job.id}",
                status=JobStatus(job.status).value,
                retention_days=settings.retention_days,
                files=removed,
            )
            done += 1
    return done


def sweep_periodically(
    db: Database, settings: Settings, stop: threading.Event, interval_s: float = SWEEP_INTERVAL_S
) -> None:
    """Sweep now and then every ``interval_s`` until ``stop`` is set (a worker's thread).

    A sweep that fails is logged and tried again at the next interval: retention
    must never take a worker down.
    """
    while not stop.is_set():
        try:
            deleted = sweep(db, settings)
            if deleted:
                log.info("retention: %d job outputs deleted", deleted)
        except Exception as err:  # the type only: a driver's message may quote a value
            log.error(
                "retention sweep failed (%s); retrying in %.0f s", type(err).__name__, interval_s
            )
        stop.wait(interval_s)


def _remove_outputs(settings: Settings, job: Job) -> list[str]:
    """Delete the job's files in quarantine; the names removed (no content)."""
    quarantine = settings.quarantine_location
    if storage.is_remote(quarantine):
        return _remove_objects(quarantine, job)
    root = Path(quarantine)
    # job-N.* (a job's first runs) and job-N-a<attempt>.* (each run's own file)
    candidates = set(root.glob(f"job-{job.id}.*")) | set(root.glob(f"job-{job.id}-a*"))
    if job.output_path:
        path = Path(job.output_path).resolve()
        if path.parent == root:  # never a released copy, never outside quarantine
            candidates.add(path)
    removed = []
    for path in sorted(candidates):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists() or path.is_symlink():
            path.unlink(missing_ok=True)
        else:
            continue
        removed.append(path.name)
    return removed


def _remove_objects(quarantine: str, job: Job) -> list[str]:
    """:func:`_remove_outputs` in object storage: the same names, as objects."""
    candidates = set(storage.glob(storage.join(quarantine, f"job-{job.id}.*")))
    candidates |= set(storage.glob(storage.join(quarantine, f"job-{job.id}-a*")))
    if job.output_path and storage.parent(job.output_path) == quarantine:
        candidates.add(job.output_path)  # never a released copy, never outside quarantine
    return [storage.name(c) for c in sorted(candidates) if storage.delete(c)]
