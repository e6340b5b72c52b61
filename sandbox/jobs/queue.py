"""The durable job queue: jobs are rows, workers hold them with leases.

A submitted job is a ``queued`` row. A worker (a thread of ``sandbox serve``,
or of a ``sandbox worker`` process) claims the oldest queued job of the kinds
it runs in one transaction (PostgreSQL ``FOR UPDATE SKIP LOCKED``: concurrent
workers take different rows; SQLite: ``BEGIN IMMEDIATE`` serializes the
claim), moves it to ``running`` with a lease (owner, attempt, expiry) and
renews the lease while the run lasts (:class:`Leases`).

A lease that ends unrenewed (a killed worker, a lost host, a restart) puts
the job back in the queue (:func:`requeue_expired`): it runs again from the
start with the charge it already holds (the budget is charged at submission,
never again, never refunded). The attempt number is the fencing token: only
the worker holding the current attempt may file its output
(:func:`holds`), so one attempt's output at most reaches quarantine review,
and each attempt writes to its own file (:func:`attempt_output`), which a
requeue removes half-written.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from jobs import storage
from policies.airlock import JobStatus
from sandbox.store.db import Database
from sandbox.store.models import AuditEntry, Job, utcnow

log = logging.getLogger(__name__)


#: The audit actions of a job going back to the queue: its lease ended (a worker died)...
REQUEUED = "job.requeue"
#: ...or its worker gave it up when told to stop (SIGTERM).
HANDED_BACK = "job.handback"

#: Owner names of the executors alive in this process (a test may run several).
_LIVE: set[str] = set()


def _host() -> str:
    return socket.gethostname()[:64]


def owner_id() -> str:
    """A name for a worker process's executor, unique across hosts and restarts; it
    counts as alive in this process from now on (:func:`dead_here`).

    >>> a, b = owner_id(), owner_id()
    >>> a != b and a.split(":")[1] == str(os.getpid())
    True
    """
    owner = f"{_host()}:{os.getpid()}:{secrets.token_hex(4)}"
    _LIVE.add(owner)
    return owner


@dataclass(frozen=True, slots=True)
class Lease:
    """One run of one job, held by one worker."""

    job_id: int
    owner: str
    attempt: int


def attempt_output(quarantine: str | Path, job_id: int, attempt: int) -> str:
    """Where attempt ``attempt`` of job ``job_id`` writes its output (a path or a URL).

    >>> attempt_output("s3://bucket/q", 12, 2)
    's3://bucket/q/job-12-a2.parquet'
    """
    return storage.join(quarantine, f"job-{job_id}-a{attempt}.parquet")


def remove_attempt(output: str) -> None:
    """Delete an attempt's files (``job-N-aK.*``: its output whatever the suffix, a
    half-written ``.partial``)."""
    stem = storage.name(output).split(".")[0]
    for leftover in storage.glob(storage.join(storage.parent(output), f"{stem}.*")):
        storage.delete(leftover)


def remove_outputs(quarantine: str | Path, job_id: int, keep: str | None = None) -> int:
    """Delete every attempt's files of ``job_id`` in quarantine but ``keep``'s; how many.

    Covers half-written files (``.partial``), a custom run's ``.zip`` and the
    single ``job-N.*`` name used before leases.
    """
    kept = None if keep is None else storage.name(keep).split(".")[0]
    removed = 0
    for pattern in (f"job-{job_id}-a*", f"job-{job_id}.*"):
        for leftover in storage.glob(storage.join(quarantine, pattern)):
            if kept is not None and storage.name(leftover).split(".")[0] == kept:
                continue
            if not storage.is_remote(leftover) and Path(leftover).is_dir():
                continue  # the runs' own folders are swept by their kind
            storage.delete(leftover)
            removed += 1
    return removed


def next_queued(session: Session, kinds: Iterable[str]) -> Job | None:
    """The oldest queued job of ``kinds``, locked for this transaction; None: none waits.

    PostgreSQL skips rows other workers hold (``SKIP LOCKED``); SQLite's
    ``BEGIN IMMEDIATE`` already gives one writer at a time.
    """
    names = sorted(kinds)
    if not names:
        return None
    query = (
        select(Job)
        .where(Job.status == JobStatus.QUEUED, Job.kind.in_(names))
        .order_by(Job.id)
        .limit(1)
        .with_for_update(skip_locked=True, key_share=True, of=Job)
    )
    return session.scalars(query).first()


def take(job: Job, lease: Lease, lease_s: float, now: dt.datetime) -> None:
    """Record ``lease`` on the claimed ``job`` (its status is moved by the caller)."""
    job.attempt = lease.attempt
    job.lease_owner = lease.owner
    job.lease_expires_at = now + dt.timedelta(seconds=lease_s)


def release(job: Job) -> None:
    """Clear a job's lease (its run ended, or it went back to the queue)."""
    job.lease_owner = None
    job.lease_expires_at = None


def holds(job: Job, lease: Lease) -> bool:
    """Whether ``lease`` is still the job's current run (its output may be filed)."""
    return (
        job.status is JobStatus.RUNNING
        and job.lease_owner == lease.owner
        and job.attempt == lease.attempt
    )


def expired(session: Session, now: dt.datetime, me: str | None = None) -> list[Job]:
    """Running jobs whose lease ended (:func:`lease_ended`), locked for this transaction
    (rows another worker is handling are skipped)."""
    host = f"{_host()}:"
    ended = [Job.lease_expires_at.is_(None), Job.lease_expires_at < now]
    if me is not None:
        ended.append(Job.lease_owner.startswith(host, autoescape=True))
    query = (
        select(Job)
        .where(Job.status == JobStatus.RUNNING, or_(*ended))
        .order_by(Job.id)
        .with_for_update(skip_locked=True, key_share=True, of=Job)
    )
    return [j for j in session.scalars(query).all() if lease_ended(j, now, me)]


def lease_ended(job: Job, now: dt.datetime, me: str | None = None) -> bool:
    """Whether running ``job``'s lease ended: it has none (left by a service before
    leases), its time passed, or (``me`` given: this worker's owner name) its owner was a
    process of this host that is gone, so that a restarted service takes its jobs back
    at once instead of after their lease."""
    if job.status is not JobStatus.RUNNING:
        return False
    if job.lease_expires_at is None or _as_utc(job.lease_expires_at) < now:
        return True
    return me is not None and dead_here(job.lease_owner or "", me)


def lost_leases(session: Session, job_id: int) -> int:
    """How many times ``job_id`` went back to the queue because its worker stopped (a
    drain's hand-back does not count: the worker gave it up in order)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == REQUEUED, AuditEntry.subject == f"job:{job_id}")
        )
        or 0
    )


def _as_utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def dead_here(owner: str, me: str) -> bool:
    """Whether ``owner`` names a process of this host that is gone (``me`` is this one).

    A name with this process's pid that none of its executors carries is gone too (a
    container restarted with the same pid 1).

    >>> me = owner_id()
    >>> dead_here(me, me), dead_here(owner_id(), me), dead_here(me.rsplit(":", 1)[0] + ":x", me)
    (False, False, True)
    >>> dead_here("elsewhere:1:abcd", me)
    False
    """
    if owner == me or owner in _LIVE:
        return False
    host, _, rest = owner.partition(":")
    pid_text, _, _ = rest.partition(":")
    if host != _host() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def depth(session: Session) -> tuple[int, dt.datetime | None]:
    """Queued jobs, and when the oldest was submitted."""
    count, oldest = session.execute(
        select(func.count(Job.id), func.min(Job.created_at)).where(Job.status == JobStatus.QUEUED)
    ).one()
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=dt.UTC)
    return int(count), oldest


class Leases:
    """The leases one worker process holds, renewed by one thread.

    Every ``lease_s / 3`` seconds the renewer extends each held lease in one
    statement per lease; a lease that no longer matches (another worker
    requeued the job after this one stalled) is reported lost and its run's
    output will be refused (:func:`holds`).

    Args:
        db: The metadata store.
        lease_s: How long a lease lasts unrenewed.
    """

    def __init__(self, db: Database, lease_s: float) -> None:
        self.db = db
        self.lease_s = lease_s
        self._held: dict[int, Lease] = {}
        self._lost: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, lease: Lease) -> None:
        """Start renewing ``lease``."""
        with self._lock:
            self._held[lease.job_id] = lease
            self._lost.discard(lease.job_id)
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(
                    target=self._renew_loop, name="lease-renewer", daemon=True
                )
                self._thread.start()

    def drop(self, lease: Lease) -> None:
        """Stop renewing ``lease`` (its run ended)."""
        with self._lock:
            if self._held.get(lease.job_id) == lease:
                del self._held[lease.job_id]

    def held(self) -> list[Lease]:
        """The leases held now."""
        with self._lock:
            return list(self._held.values())

    def lost(self, lease: Lease) -> bool:
        """Whether the renewer found ``lease`` taken from this worker."""
        with self._lock:
            return lease.job_id in self._lost

    def renew(self, now: dt.datetime | None = None) -> list[Lease]:
        """Extend every held lease now; the ones found lost (dropped from the held set)."""
        now = now or utcnow()
        until = now + dt.timedelta(seconds=self.lease_s)
        lost: list[Lease] = []
        for lease in self.held():
            with self.db.session() as session:
                result = session.execute(
                    update(Job)
                    .where(
                        and_(
                            Job.id == lease.job_id,
                            Job.status == JobStatus.RUNNING,
                            Job.lease_owner == lease.owner,
                            Job.attempt == lease.attempt,
                        )
                    )
                    .values(lease_expires_at=until)
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount == 0:  # type: ignore[attr-defined]
                    lost.append(lease)
        if lost:
            with self._lock:
                for lease in lost:
                    self._lost.add(lease.job_id)
                    self._held.pop(lease.job_id, None)
            for lease in lost:
                log.warning("job %s: attempt %s lost its lease", lease.job_id, lease.attempt)
        return lost

    def close(self) -> None:
        """Stop the renewer (held leases then expire unless handed back)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            try:
                self.renew()
            except Exception as err:  # a database outage: retry at the next tick
                log.error("lease renewal failed (%s)", type(err).__name__)
