"""Execution of queued jobs: the worker pools, the run, the checks, the report.

A queued job runs in a worker thread: :meth:`Executor.run` starts it (the
grant must still be in force), hands its task to the runner (Ray), checks the
output in a child process (:func:`checked`) and files it for review with its
:class:`RunReport`, or fails it. Job status and errors shown to operators
carry no data. Status changes go through :func:`sandbox.jobs.lifecycle.transition`.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from jobs.kinds import KINDS, JobKind
from jobs.runner import Outcome, Task
from policies.airlock import JobStatus, check_can_transition
from policies.errors import InternalError, SandboxError, redacted_traceback
from policies.grants import GrantState, in_force
from policies.views import operator_sees_failure
from sandbox.catalog.datasets import get as get_dataset
from sandbox.checks import Check, CheckContext
from sandbox.checks.process import ChecksStopped, Limits, run_isolated
from sandbox.jobs.facts import check_context, dataset_facts, grant_facts, min_cell, task
from sandbox.jobs.lifecycle import locked, transition
from sandbox.settings import Settings
from sandbox.store.db import Database, storable
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
    job_id: int, output: Path, context: CheckContext, limits: Limits | None = None
) -> list[Check]:
    """The automatic checks of an output; where they break, one failing check instead.

    They run in a child process within ``limits`` (:mod:`sandbox.checks.process`):
    checking a large output must not slow the API's answers (an operator timing
    them would read what the hidden run did), and a file that defeats a reader
    must not take the service's memory.

    Operator code chooses what its output holds, so an output that breaks a check
    (or stops its process) must not fail the job: a job's failure is visible to the
    operator, and code that wrote a breaking output only when the data held some
    value would signal that value without review. The steward sees the failing
    check and decides. The log names the error's type only (its message may quote
    a value from the output).
    """
    try:
        return run_isolated(output, context, limits or Limits())
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


def output_path(settings: Settings, job_id: int) -> Path:
    """Where a job's output is written in quarantine."""
    return (settings.quarantine_dir / f"job-{job_id}.parquet").resolve()


#: A started job: its task, its kind and its parsed spec.
Started = tuple[Task, JobKind, Any]


class Executor:
    """Runs queued jobs in worker threads.

    Jobs whose run times the operator does not see (an untimed kind, e.g. custom
    code, which could encode data in how long it runs) have their own workers:
    sharing a pool, an untimed job that held a worker for a data-dependent time
    would delay the start of the operator's next visible job, and that job's
    ``started_at`` would tell the time.

    Args:
        db: The metadata store.
        settings: Service settings (quarantine folder, checks' limits).
        runner: Executes tasks (Ray).
        workers: Jobs with visible timing that may run at once.
        untimed_workers: Jobs without that may run at once.
    """

    def __init__(
        self,
        db: Database,
        settings: Settings,
        runner: Runner,
        workers: int = 4,
        untimed_workers: int = 2,
    ) -> None:
        self.db = db
        self.settings = settings
        self.runner = runner
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job")
        self.untimed = ThreadPoolExecutor(untimed_workers, thread_name_prefix="untimed")
        self.limits = Limits(
            memory_bytes=settings.checks_memory_mb << 20,
            cpu_seconds=settings.checks_cpu_s,
            wall_seconds=settings.checks_wall_s,
        )

    def enqueue(self, job_id: int, kind: JobKind, seed: int | None = None) -> None:
        """Run the queued job ``job_id`` in the background."""
        pool = self.untimed if kind.untimed else self.pool
        pool.submit(self.run, job_id, seed).add_done_callback(_log_crash)

    def run(self, job_id: int, seed: int | None) -> None:
        """Run a queued job to a terminal or reviewable state, whatever fails on the way."""
        output: Path | None = None
        started: Started | None = None
        try:
            started = self.start(job_id, seed)
            if started is None:
                return
            task_, kind, spec = started
            output = Path(task_.output_path)
            outcome = self.runner.run(task_)
            context = check_context(kind, spec, task_)
            checks = checked(job_id, Path(outcome.output_path), context, self.limits)
            self.finish(job_id, outcome, [*checks, *run_problems(outcome)])
        except SandboxError as err:
            self.fail(job_id, str(err), output, started)
        except Exception as err:
            log.error("job %s crashed\n%s", job_id, redacted_traceback(err))
            message = "the job failed inside the sandbox; the data bureau was told"
            self.fail(job_id, message, output, started)

    def start(self, job_id: int, seed: int | None) -> Started | None:
        """Start a queued job: its task, or None when its grant ended (it fails, unrun)."""
        with self.db.session() as session:
            job = locked(session, job_id)
            check_can_transition(JobStatus(job.status), JobStatus.RUNNING)
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
            transition(self.db, session, job, JobStatus.RUNNING, actor="system", action="job.run")
            facts = tuple(dataset_facts(get_dataset(session, n)) for n in spec.datasets)
            terms = grant_facts(grant)
            built = task(
                job.id,
                job.spec,
                facts,
                output_path=output_path(self.settings, job.id),
                # the aggregate engine's threshold; other kinds' checks use the same rule
                min_cell=min_cell(facts, terms),
                options=kind.options(terms, facts, self.settings.secret()),
                seed=seed,
            )
            return built, kind, spec

    def finish(self, job_id: int, outcome: Outcome, checks: list[Check]) -> None:
        """File a run's output for review with its report and checks."""
        with self.db.session() as session:
            job = locked(session, job_id)
            report = RunReport.of(outcome, checks)
            transition(
                self.db,
                session,
                job,
                JobStatus.AWAITING_REVIEW,
                actor="system",
                action="job.finish",
                status=JobStatus.AWAITING_REVIEW.value,
                output_sha256=outcome.output_sha256,
                rows=outcome.rows,
                epsilon_spent=outcome.epsilon,
                checks=storable({c.name: c.verdict for c in checks}),
            )
            job.output_path, job.output_sha256 = outcome.output_path, outcome.output_sha256
            job.report = report.stored()

    def fail(
        self,
        job_id: int,
        message: str,
        output: Path | None = None,
        started: Started | None = None,
    ) -> None:
        """Fail a job (best effort: a database outage leaves it to the next start's recovery).

        A started job whose failure the operator may not see (its code could have
        caused it) goes to review instead, with a failing check that says why.
        """
        if output is not None:  # nothing of a failed job stays in quarantine
            for leftover in output.parent.glob(f"{output.stem}.*"):
                leftover.unlink(missing_ok=True)
        if started is not None and not operator_sees_failure(untimed=started[1].untimed):
            try:
                outcome = started[1].failed_outcome(started[0], message)
                if outcome is None:
                    raise InternalError("an untimed kind gave no reviewable outcome of a failure")
                self.finish(job_id, outcome, run_problems(outcome))
                return
            except Exception as err:
                log.error("job %s could not be sent to review\n%s", job_id, redacted_traceback(err))
        try:
            self.mark_failed(job_id, message)
        except Exception as err:
            log.error("job %s could not be marked failed\n%s", job_id, redacted_traceback(err))

    def mark_failed(self, job_id: int, message: str) -> None:
        """Fail the job with ``message`` unless it ended already (the first reason stays)."""
        with self.db.session() as session:
            job = session.get(Job, job_id, with_for_update={"of": Job})
            if job is None or JobStatus(job.status).is_terminal():
                return  # failed already (e.g. by a restart's recovery): keep the first reason
            # The reservation stays charged: the job may have touched the data.
            transition(
                self.db,
                session,
                job,
                JobStatus.FAILED,
                actor="system",
                action="job.fail",
                error=message,
            )

    def interrupted(self, session: Session, job: Job) -> Started:
        """What a review of an interrupted run needs: where its output goes, its limits."""
        spec = job.parsed_spec
        kind = KINDS[spec.kind]
        try:
            facts = tuple(dataset_facts(get_dataset(session, n)) for n in spec.datasets)
        except SandboxError:  # a dataset gone since: the options come from the grant alone
            facts = ()
        options = kind.options(grant_facts(job.grant), facts, self.settings.secret())
        built = Task(
            job.id, job.spec, {}, {}, str(output_path(self.settings, job.id)), 1, options=options
        )
        return built, kind, spec

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking jobs; wait for running ones when ``wait``."""
        for pool in (self.pool, self.untimed):
            pool.shutdown(wait=wait, cancel_futures=not wait)


def _log_crash(future: Future[None]) -> None:
    if (err := future.exception()) is not None:
        log.error("job worker crashed\n%s", redacted_traceback(err))
