"""Execution of queued jobs: the worker pools, the run, the checks, the report.

A queued job runs in a worker thread: :meth:`Executor.run` starts it (the
grant must still be in force), hands its task to the runner (Ray), checks the
output in a child process (:func:`checked`) and files it for review with its
:class:`RunReport`, or fails it. Job status and errors shown to operators
carry no data. Status changes go through :func:`sandbox.jobs.lifecycle.transition`.

This module is long because a run's whole life in a worker (claim, run, checks,
filing, failure, lease expiry, drain) is fenced by one lease: each step's guard
is only right beside the others, so they are read together.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs import storage
from jobs.errors import RunnerStopped
from jobs.kinds import KINDS, JobKind
from jobs.runner import Outcome, Task
from jobs.task import staged
from policies.airlock import JobStatus
from policies.errors import InternalError, SandboxError, redacted_traceback
from policies.grants import GrantState, in_force
from policies.views import operator_sees_failure
from sandbox.catalog.datasets import get as get_dataset
from sandbox.checks import Check, CheckContext
from sandbox.checks.process import ChecksStopped, Limits, Spare, run_isolated
from sandbox.jobs.facts import check_context, dataset_facts, grant_facts, min_cell, task
from sandbox.jobs.lifecycle import locked, transition
from sandbox.jobs.queue import (
    HANDED_BACK,
    REQUEUED,
    Lease,
    Leases,
    attempt_output,
    expired,
    holds,
    lease_ended,
    lost_leases,
    next_queued,
    owner_id,
    release,
    remove_attempt,
    remove_outputs,
    take,
)
from sandbox.settings import Settings
from sandbox.store.db import Database, storable
from sandbox.store.faults import crash_soon, crashpoint
from sandbox.store.models import Job, utcnow

log = logging.getLogger(__name__)


class Runner(Protocol):
    """What executes a task (the Ray runner in the service)."""

    def run(self, task: Task) -> Outcome: ...


class RunReport(BaseModel):
    """What a finished run reports (``Job.report``): counts and verdicts, no data values.

    The kind's own fields (an extract's risk report, a custom run's files and
    problems) are kept beside these, as the run reported them.
    """

    model_config = ConfigDict(extra="allow")

    rows: int
    cells: int = 0
    suppressed_cells: int = 0
    epsilon_spent: int | float = 0.0
    delta_spent: int | float = 0.0
    rho_spent: int | float | None = None
    checks: list[dict[str, Any]] = []

    @classmethod
    def of(cls, outcome: Outcome, checks: list[Check]) -> RunReport:
        """The report of ``outcome`` with its automatic checks' verdicts."""
        return cls.model_validate(
            {
                **outcome.report,
                "rows": outcome.rows,
                "cells": outcome.cells,
                "suppressed_cells": outcome.suppressed_cells,
                "epsilon_spent": outcome.epsilon,
                "delta_spent": outcome.delta,
                "rho_spent": outcome.rho,
                "checks": [c.as_dict() for c in checks],
            }
        )

    def stored(self) -> dict[str, Any]:
        """The report as ``Job.report`` stores it (the kind's fields first, as before)."""
        fields = self.model_dump()
        extra = self.model_extra or {}
        ordered = {k: fields[k] for k in extra} | {k: fields[k] for k in fields if k not in extra}
        stored: dict[str, Any] = storable(ordered)  # NUL that the job's code printed or chose
        return stored


def checked(
    job_id: int,
    output: Path,
    context: CheckContext,
    limits: Limits | None = None,
    spare: Spare | None = None,
) -> list[Check]:
    """The automatic checks of an output; where they break, one failing check instead.

    They run in a child process within ``limits`` (:mod:`sandbox.checks.process`):
    checking a large output must not slow the API's answers (an operator timing
    them would read what the hidden run did), and a file that defeats a reader
    must not take the service's memory. ``spare`` holds a child started ahead
    (:class:`~sandbox.checks.process.Spare`), so the job waits for no interpreter.

    Operator code chooses what its output holds, so an output that breaks a check
    (or stops its process) must not fail the job: a job's failure is visible to the
    operator, and code that wrote a breaking output only when the data held some
    value would signal that value without review. The steward sees the failing
    check and decides. The log names the error's type only (its message may quote
    a value from the output).
    """
    try:
        crash_soon("during_checks", 0.3)  # while the child process checks
        return run_isolated(output, context, limits or Limits(), spare)
    except (KeyboardInterrupt, SystemExit, InternalError):
        raise  # InternalError: a stored dataset could not be read, whatever the output holds
    except ChecksStopped as err:  # its message is ours: limits and error types, no value
        log.error("job %s: %s", job_id, err)
        return [
            Check(
                "checks", "fail", f"{err}; nothing about it was checked: look at it before deciding"
            )
        ]
    except BaseException as err:  # polars' PanicException is no Exception
        log.error("job %s: the automatic checks broke (%s)", job_id, type(err).__name__)
        reason = (
            f"the automatic checks could not read this output ({type(err).__name__}); "
            "nothing about it was checked: look at it before deciding"
        )
        return [Check("checks", "fail", reason)]


def run_problems(outcome: Outcome) -> list[Check]:
    """A failing ``run`` check for the problems a run reports (a failed or cut-short custom
    run, refused files): the reviewer must read why before anything is approved."""
    problems = outcome.report.get("problems") or []
    if not problems:
        return []
    return [Check("run", "fail", "; ".join(str(p) for p in problems))]


def output_path(settings: Settings, job_id: int, attempt: int = 1) -> str:
    """Where attempt ``attempt`` of a job writes its output in quarantine (a path or a URL)."""
    return attempt_output(settings.quarantine_location, job_id, attempt)


def staged_failure(started: Started, message: str) -> Outcome | None:
    """The reviewable outcome an untimed kind gives for a failure, written into quarantine
    wherever quarantine is (:func:`jobs.task.staged`)."""
    task_, kind, _ = started

    def run(local: Task) -> Outcome:
        outcome = kind.failed_outcome(local, message)
        if outcome is None:
            raise _NoOutcome
        return outcome

    try:
        return staged(task_, run)
    except _NoOutcome:
        return None


class _NoOutcome(Exception):
    """A kind gave no outcome for a failure (staged needs one to store)."""


#: What a job that failed on an unexpected error tells the operator.
_CRASHED = "the job failed inside the sandbox; the data bureau was told"

#: A started job: its task, its kind and its parsed spec.
Started = tuple[Task, JobKind, Any]

#: What :meth:`Executor.claim` returns when it took a job but had nothing to run (its
#: grant ended, so it failed unrun).
ENDED = "ended"


class Executor:
    """Runs queued jobs in worker threads that claim them from the database.

    Workers claim jobs with leases (:mod:`sandbox.jobs.queue`), so several
    processes share one queue and a job whose worker died runs again. Jobs
    whose run times the operator does not see (an untimed kind, e.g. custom
    code, which could encode data in how long it runs) have their own workers:
    sharing them, an untimed job that held a worker for a data-dependent time
    would delay the start of the operator's next visible job, and that job's
    ``started_at`` would tell the time.

    Workers start on :meth:`start` (or the first :meth:`wake`); :meth:`drain`
    stops them as SIGTERM asks: no new claim, running jobs finish within a
    grace period, the rest go back to the queue.

    Args:
        db: The metadata store.
        settings: Service settings (quarantine folder, checks' limits, leases).
        runner: Executes tasks (Ray).
        workers: Jobs with visible timing that may run at once (default: the settings').
        untimed_workers: Jobs without that may run at once (default: the settings').
        owner: This process's name on its leases (default: host, pid and a random part).
    """

    def __init__(
        self,
        db: Database,
        settings: Settings,
        runner: Runner,
        workers: int | None = None,
        untimed_workers: int | None = None,
        owner: str | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.runner = runner
        self.workers = settings.workers if workers is None else workers
        self.untimed_workers = (
            settings.untimed_workers if untimed_workers is None else untimed_workers
        )
        self.owner = owner or owner_id()
        self.leases = Leases(db, settings.lease_s)
        self.limits = Limits(
            memory_bytes=settings.checks_memory_mb << 20,
            cpu_seconds=settings.checks_cpu_s,
            wall_seconds=settings.checks_wall_s,
        )
        # A checks' process started ahead of each output: starting one took most of a
        # small job's time to review (issue 18). The first is started by the first job's
        # checks (a process that runs no job, as most tests' services, starts none).
        self.spare = Spare(self.limits)
        self._threads: list[threading.Thread] = []
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._last_requeue = 0.0
        self._busy = 0

    # --- the worker threads ------------------------------------------------------------

    def start(self) -> None:
        """Start the worker threads (once; none after :meth:`drain`)."""
        with self._lock:
            if self._threads or self._stopping.is_set():
                return
            pools = [(False, self.workers), (True, self.untimed_workers)]
            for untimed, count in pools:
                for i in range(count):
                    name = f"{'untimed' if untimed else 'job'}-worker-{i}"
                    thread = threading.Thread(
                        target=self._loop, args=(untimed,), name=name, daemon=True
                    )
                    self._threads.append(thread)
                    thread.start()

    def wake(self) -> None:
        """Tell idle workers that a job was queued (other processes find it when they poll)."""
        self.start()
        self._wakeup.set()

    def _loop(self, untimed: bool) -> None:
        while not self._stopping.is_set():
            try:
                self._requeue_now_and_then()
                if not self._stopping.is_set() and self.run_next(untimed):
                    continue
            except Exception as err:  # a database outage: the next poll tries again
                log.error("job worker: %s\n%s", type(err).__name__, redacted_traceback(err))
            if self._wakeup.wait(self.settings.poll_s):
                self._wakeup.clear()

    def _requeue_now_and_then(self) -> None:
        """Requeue expired leases, at most every third of a lease per process."""
        now = time.monotonic()
        with self._lock:
            if now - self._last_requeue < self.settings.lease_s / 3:
                return
            self._last_requeue = now
        self.requeue_expired()

    def run_next(self, untimed: bool) -> bool:
        """Claim one queued job (of untimed kinds or of the others) and run it.

        Returns:
            Whether a job was claimed (False: the queue had none for this worker).
        """
        kinds = [k.name for k in KINDS if k.untimed == untimed]
        with self._lock:
            self._busy += 1
        try:
            claimed = self.claim(kinds)
            if claimed is None:
                return False
            if claimed != ENDED:
                assert not isinstance(claimed, str)
                self.run(*claimed)
            return True
        finally:
            with self._lock:
                self._busy -= 1

    # --- one job ---------------------------------------------------------------------

    def claim(self, kinds: list[str]) -> tuple[Started, Lease] | str | None:
        """Claim the oldest queued job of ``kinds``: its task and lease; :data:`ENDED` when
        it ended unrun (its grant ended, or it could not be started); None when none waits.

        A job that cannot be started (a stored spec an upgrade no longer reads, a dataset
        gone) fails in the claim's transaction: left queued, it would be the oldest job
        again at every poll and hold up every job behind it.
        """
        with self.db.session() as session:
            job = next_queued(session, kinds)
            if job is None:
                return None
            lease = Lease(job.id, self.owner, job.attempt + 1)
            try:
                with session.begin_nested():  # a failed start leaves the row as it was
                    started = self.start_job(session, job, lease)
            except SandboxError as err:
                self._fail_unstarted(session, job, str(err))
                return ENDED
            except Exception as err:
                log.error("job %s could not start\n%s", job.id, redacted_traceback(err))
                self._fail_unstarted(session, job, _CRASHED)
                return ENDED
        if started is None:
            return ENDED
        self.leases.add(lease)
        crashpoint("after_claim")
        if self._stopping.is_set():  # claimed while a drain read the held leases
            self.hand_back(lease)
            return ENDED
        return started, lease

    def _end_lease(self, session: Session, job: Job, target: JobStatus, **audit: Any) -> None:
        """End the run the job's lease held: clear the lease, move the job to ``target``
        (to review, failed, or back to the queue) with its audit entry."""
        release(job)
        transition(self.db, session, job, target, actor="system", **audit)

    def _fail_unstarted(self, session: Session, job: Job, message: str) -> None:
        """Fail a queued job that could not start (nothing ran: no code chose this)."""
        session.refresh(job)
        transition(
            self.db,
            session,
            job,
            JobStatus.FAILED,
            actor="system",
            action="job.fail",
            error=message,
        )

    def start_job(self, session: Session, job: Job, lease: Lease) -> Started | None:
        """Start a claimed job under ``lease``: its task, or None when its grant ended (it
        fails, unrun)."""
        grant = job.grant
        if not in_force(GrantState(grant.state), grant.expires_at, utcnow()):
            # art. 76: a suspended, terminated or expired grant runs nothing more
            transition(
                self.db,
                session,
                job,
                JobStatus.FAILED,
                actor="system",
                action="job.fail",
                error="the grant is no longer active (art. 76); the job did not run",
            )
            return None
        spec = job.parsed_spec
        kind = KINDS[spec.kind]
        take(job, lease, self.settings.lease_s, utcnow())
        # a run after a lost lease says which attempt it is; a first run says nothing new
        again: dict[str, Any] = {"attempt": lease.attempt} if lease.attempt > 1 else {}
        transition(
            self.db, session, job, JobStatus.RUNNING, actor="system", action="job.run", **again
        )
        facts = tuple(dataset_facts(get_dataset(session, n)) for n in spec.datasets)
        terms = grant_facts(grant)
        built = task(
            job.id,
            job.spec,
            facts,
            output_path=output_path(self.settings, job.id, lease.attempt),
            # the aggregate engine's threshold; other kinds' checks use the same rule
            min_cell=min_cell(facts, terms),
            options=kind.options(terms, facts, self.settings.secret()),
            seed=job.seed,
        )
        return built, kind, spec

    def run(self, started: Started, lease: Lease) -> None:
        """Run a claimed job to a terminal or reviewable state, whatever fails on the way."""
        task_, kind, spec = started
        output = task_.output_path
        try:
            crash_soon("during_run", 0.5)
            outcome = self.runner.run(task_)
            crashpoint("after_output")
            context = check_context(kind, spec, task_)
            with storage.local_copy(outcome.output_path) as local:  # checks read a local file
                checks = checked(lease.job_id, local, context, self.limits, self.spare)
            self.finish(lease, outcome, [*checks, *run_problems(outcome)])
        except RunnerStopped:  # stopping: handed back by the drain, or its lease expires
            log.info("job %s: the runner stopped under attempt %s", lease.job_id, lease.attempt)
        except SandboxError as err:
            self.fail(lease, str(err), output, started)
        except Exception as err:
            log.error("job %s crashed\n%s", lease.job_id, redacted_traceback(err))
            self.fail(lease, _CRASHED, output, started)
        finally:
            self.leases.drop(lease)

    def finish(self, lease: Lease, outcome: Outcome, checks: list[Check]) -> bool:
        """File a run's output for review with its report and checks.

        Returns:
            False when ``lease`` is no longer the job's run (it went back to the queue,
            or another worker runs it now): its output is removed, the job untouched.
        """
        filed = outcome.output_path
        with self.db.session() as session:
            job = locked(session, lease.job_id)
            current = holds(job, lease) and not self.leases.lost(lease)
            if current:
                report = RunReport.of(outcome, checks)
                self._end_lease(
                    session,
                    job,
                    JobStatus.AWAITING_REVIEW,
                    action="job.finish",
                    status=JobStatus.AWAITING_REVIEW.value,
                    output_sha256=outcome.output_sha256,
                    rows=outcome.rows,
                    epsilon_spent=outcome.epsilon,
                    checks=storable({c.name: c.verdict for c in checks}),
                )
                job.output_path, job.output_sha256 = outcome.output_path, outcome.output_sha256
                job.report = report.stored()
        if not current:
            log.warning(
                "job %s: attempt %s no longer holds the job; its output is discarded",
                lease.job_id,
                lease.attempt,
            )
            remove_attempt(filed)
            return False
        # earlier attempts' files (a run cut short, a late writer): only this one is reviewed
        remove_outputs(self.settings.quarantine_location, lease.job_id, keep=filed)
        return True

    def fail(
        self,
        lease: Lease,
        message: str,
        output: str | None = None,
        started: Started | None = None,
    ) -> None:
        """Fail a job (best effort: a database outage leaves it to lease expiry).

        A started job whose failure the operator may not see (its code could have
        caused it) goes to review instead, with a failing check that says why.
        """
        if output is not None:  # nothing of a failed attempt stays in quarantine
            remove_attempt(output)
        if started is not None and not operator_sees_failure(untimed=started[1].untimed):
            try:
                outcome = staged_failure(started, message)
                if outcome is None:
                    raise InternalError("an untimed kind gave no reviewable outcome of a failure")
                self.finish(lease, outcome, run_problems(outcome))
                return
            except Exception as err:
                log.error(
                    "job %s could not be sent to review\n%s", lease.job_id, redacted_traceback(err)
                )
        try:
            self.mark_failed(lease, message)
        except Exception as err:
            log.error(
                "job %s could not be marked failed\n%s", lease.job_id, redacted_traceback(err)
            )

    def mark_failed(self, lease: Lease, message: str) -> None:
        """Fail the job with ``message`` if ``lease`` still holds it (the first reason stays)."""
        with self.db.session() as session:
            job = session.get(Job, lease.job_id, with_for_update={"of": Job, "key_share": True})
            if job is None or not holds(job, lease):
                return  # ended already, or back in the queue for another attempt
            # The reservation stays charged: the job may have touched the data.
            self._end_lease(
                session,
                job,
                JobStatus.FAILED,
                action="job.fail",
                error=message,
            )

    # --- leases that ended -----------------------------------------------------------

    def requeue_expired(self) -> int:
        """Put running jobs whose lease ended back in the queue; how many were handled.

        Each job in its own transaction: one that cannot be handled is logged and left
        for the next tick, without holding up the others. A job whose worker stopped
        :attr:`Settings.max_attempts` times fails instead (its charge stays; a drain's
        hand-back does not count); one whose failure the operator may not see (an
        untimed kind's: its code could have killed its workers on purpose) goes to
        review, failing.
        """
        with self.db.session() as session:
            ids = [job.id for job in expired(session, utcnow(), self.owner)]
        handled = 0
        for job_id in ids:
            try:
                handled += self._requeue(job_id)
            except Exception as err:
                log.error(
                    "job %s: its ended lease was not handled (%s)", job_id, type(err).__name__
                )
        if handled:
            log.warning("%d jobs whose worker stopped were handled (requeued or ended)", handled)
        return handled

    def _requeue(self, job_id: int) -> int:
        """Handle one job whose lease ended (1), unless another worker did already (0)."""
        message = (
            f"the job's worker stopped {self.settings.max_attempts} times before it finished; "
            "it was not run again"
        )
        hidden: tuple[Started, Lease] | None = None
        with self.db.session() as session:
            job = locked(session, job_id)
            if not lease_ended(job, utcnow(), self.owner):
                return 0
            remove_outputs(self.settings.quarantine_location, job.id)  # half-written attempts
            if lost_leases(session, job.id) + 1 < self.settings.max_attempts:
                self._end_lease(
                    session,
                    job,
                    JobStatus.QUEUED,
                    action=REQUEUED,
                    reason="lease expired",
                    attempt=job.attempt,
                )
            elif not operator_sees_failure(
                untimed=job.kind not in KINDS or KINDS[job.kind].untimed
            ):
                # a run of its own (a new attempt: a stalled old worker's files differ)
                lease = Lease(job.id, self.owner, job.attempt + 1)
                take(job, lease, self.settings.lease_s, utcnow())
                hidden = (self.interrupted(session, job), lease)
            else:
                self._end_lease(
                    session,
                    job,
                    JobStatus.FAILED,
                    action="job.fail",
                    error=message,
                )
        if hidden is not None:
            started, lease = hidden
            self.fail(lease, message, started[0].output_path, started)
        return 1

    def interrupted(self, session: Session, job: Job) -> Started:
        """What a review of an interrupted run needs: where its output goes, its limits."""
        spec = job.parsed_spec
        kind = KINDS[spec.kind]
        try:
            facts = tuple(dataset_facts(get_dataset(session, n)) for n in spec.datasets)
        except SandboxError:  # a dataset gone since: the options come from the grant alone
            facts = ()
        options = kind.options(grant_facts(job.grant), facts, self.settings.secret())
        path = output_path(self.settings, job.id, max(job.attempt, 1))
        built = Task(job.id, job.spec, {}, {}, path, 1, options=options)
        return built, kind, spec

    # --- stopping --------------------------------------------------------------------

    def drain(self, grace_s: float | None = None) -> int:
        """Stop as SIGTERM asks: claim nothing more, let running jobs finish within
        ``grace_s`` (default the settings'), hand the rest back to the queue.

        Returns:
            How many running jobs were handed back.
        """
        grace = self.settings.drain_grace_s if grace_s is None else grace_s
        self._stopping.set()
        self._wakeup.set()
        deadline = time.monotonic() + grace
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        handed = 0
        for lease in self.leases.held():
            try:
                handed += self.hand_back(lease)
            except Exception as err:  # its lease expires instead
                log.error("job %s could not be handed back (%s)", lease.job_id, type(err).__name__)
        self.leases.close()
        self.spare.close()
        if handed:
            log.warning("%d running jobs handed back to the queue at shutdown", handed)
        return handed

    def hand_back(self, lease: Lease) -> int:
        """Put a job this worker runs back in the queue (1), unless it ended meanwhile (0)."""
        with self.db.session() as session:
            job = locked(session, lease.job_id)
            if not holds(job, lease):
                return 0
            self._end_lease(
                session,
                job,
                JobStatus.QUEUED,
                action=HANDED_BACK,
                reason="worker stopped",
                attempt=lease.attempt,
            )
        self.leases.drop(lease)
        return 1

    def wait_idle(self, timeout_s: float = 300.0) -> bool:
        """Wait until no job this process could claim is queued or running here (tests).

        Returns:
            Whether it became idle within ``timeout_s``.
        """
        self.start()
        deadline = time.monotonic() + timeout_s
        kinds = {k.name: k.untimed for k in KINDS}
        pools = {False: self.workers > 0, True: self.untimed_workers > 0}
        while time.monotonic() < deadline:
            with self.db.session() as session:
                waiting = session.scalars(
                    select(Job.kind).where(Job.status == JobStatus.QUEUED)
                ).all()
            claimable = [k for k in waiting if k in kinds and pools[kinds[k]]]
            with self._lock:
                busy = self._busy
            if not claimable and not busy and not self.leases.held():
                return True
            self._wakeup.set()
            time.sleep(0.02)
        return False

    def shutdown(self, wait: bool = True) -> None:
        """Stop the workers; when ``wait``, first run what is queued (tests); else drain."""
        if wait:
            self.wait_idle()
        self.drain(self.settings.drain_grace_s if wait else 0.0)
