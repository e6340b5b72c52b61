"""Submission and execution of jobs: policy, budget, Ray, quarantine.

:meth:`JobService.submit` checks the grant and the spec, reserves ε and
inserts the job row in one transaction, then hands the job to a worker
thread that runs it on Ray and files the output in quarantine with its
automatic checks. Job status and errors shown to operators carry no data.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.runner import Outcome, Task
from jobs.spec import AggregateSpec, Count, parse_job_spec, validate_against_schema
from policies.airlock import JobStatus, check_can_see_job, check_can_transition, min_cell_size
from policies.budget import PrivacyBudget
from policies.catalog import ColumnTag, Grade
from policies.errors import NotFound, SandboxError
from policies.grants import GrantState, check_can_submit
from policies.roles import Role, check_role
from sandbox import audit, ledger
from sandbox.auth import Principal
from sandbox.catalog import get as get_dataset
from sandbox.checks import run_checks
from sandbox.grants import get as get_grant
from sandbox.settings import Settings
from sandbox.store.db import Database
from sandbox.store.models import Job, utcnow

log = logging.getLogger(__name__)


class Runner(Protocol):
    """What executes a task (the Ray runner in the service)."""

    def run(self, task: Task) -> Outcome: ...


def _min_cell(grade: str) -> int:
    return min_cell_size(Grade(grade))


class JobService:
    """Submits jobs and runs them in the background.

    Args:
        db: The metadata store.
        settings: Service settings (quarantine folder).
        runner: Executes tasks (Ray).
        workers: Jobs that may run at once.
    """

    def __init__(self, db: Database, settings: Settings, runner: Runner, workers: int = 4) -> None:
        self.db = db
        self.settings = settings
        self.runner = runner
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job")

    def submit(
        self,
        who: Principal,
        grant_id: int,
        spec_data: Any,
        purpose: str = "",
        seed: int | None = None,
    ) -> Job:
        """Check, reserve and queue a job.

        Args:
            who: The operator submitting.
            grant_id: The grant the job runs under.
            spec_data: The job spec as JSON-like data.
            purpose: What this job is for (shown to reviewers).
            seed: For tests only; fixes the noise.

        Raises:
            PolicyViolation: Not an operator, grant not active or out of scope (art. 76).
            NotFound: No such grant for the caller's organisation.
            InvalidJobSpec: Malformed spec or forbidden column use.
            BudgetExhausted: Not enough ε left; the ledger is unchanged.
        """
        check_role(who.role, Role.OPERATOR)
        spec = parse_job_spec(spec_data)
        with self.db.session() as session:
            grant = get_grant(session, grant_id, for_update=True)
            if grant.org_id != who.org_id:
                raise NotFound("no such grant")
            check_can_submit(
                GrantState(grant.state),
                grant.expires_at,
                utcnow(),
                spec.kind,
                grant.kinds,
                spec.datasets,
                [d.name for d in grant.datasets],
            )
            dataset = get_dataset(session, spec.dataset)
            _min_cell(dataset.grade)  # core data: refused before any budget is spent
            validate_against_schema(
                spec,
                {c.name: c.dtype for c in dataset.columns},
                {c.name: ColumnTag(c.tag) for c in dataset.columns},
            )
            cost = PrivacyBudget(spec.epsilon, spec.delta)
            ledger.reserve(session, grant, cost)
            eps, delta = cost.units
            job = Job(
                grant_id=grant.id,
                org_id=who.org_id,
                submitted_by=who.user_id,
                kind=spec.kind,
                spec=spec.model_dump(mode="json"),
                purpose=purpose,
                epsilon=eps,
                delta=delta,
                status=JobStatus.QUEUED.value,
            )
            session.add(job)
            session.flush()
            audit.append(
                self.db,
                session,
                who.actor,
                "job.submit",
                f"job:{job.id}",
                grant=grant.id,
                kind=spec.kind,
                datasets=spec.datasets,
                epsilon=cost.epsilon,
                delta=cost.delta,
                epsilon_left=ledger.remaining(grant).epsilon,
            )
        self._pool.submit(self._run, job.id, seed).add_done_callback(_log_crash)
        return job

    def _run(self, job_id: int, seed: int | None) -> None:
        with self.db.session() as session:
            job = self._transition(session, job_id, JobStatus.RUNNING)
            job.started_at = utcnow()
            spec = parse_job_spec(job.spec)
            dataset = get_dataset(session, spec.dataset)
            task = Task(
                job_id=job.id,
                spec=job.spec,
                inputs={dataset.name: dataset.path},
                row_counts={dataset.name: dataset.row_count},
                output_path=str((self.settings.quarantine_dir / f"job-{job.id}.parquet").resolve()),
                min_cell=_min_cell(dataset.grade),
                seed=seed,
            )
            audit.append(self.db, session, "system", "job.run", f"job:{job.id}")
        try:
            outcome = self.runner.run(task)
            checks = run_checks(Path(outcome.output_path), _count_columns(spec), task.min_cell)
        except SandboxError as err:
            self._fail(job_id, str(err))
            return
        except Exception:
            log.exception("job %s crashed", job_id)
            self._fail(job_id, "the job failed inside the sandbox; the data bureau was told")
            return
        with self.db.session() as session:
            job = self._transition(session, job_id, JobStatus.AWAITING_REVIEW)
            job.finished_at = utcnow()
            job.output_path, job.output_sha256 = outcome.output_path, outcome.output_sha256
            job.report = {
                "rows": outcome.rows,
                "cells": outcome.cells,
                "suppressed_cells": outcome.suppressed_cells,
                "epsilon_spent": outcome.epsilon,
                "delta_spent": outcome.delta,
                "checks": [c.as_dict() for c in checks],
            }
            audit.append(
                self.db,
                session,
                "system",
                "job.finish",
                f"job:{job_id}",
                status=job.status,
                output_sha256=outcome.output_sha256,
                rows=outcome.rows,
                epsilon_spent=outcome.epsilon,
                checks={c.name: c.verdict for c in checks},
            )

    def _fail(self, job_id: int, message: str) -> None:
        with self.db.session() as session:
            job = self._transition(session, job_id, JobStatus.FAILED)
            if job.error:  # failed already (by a restart's recovery): keep the first reason
                return
            job.error, job.finished_at = message, utcnow()
            # The reservation stays charged: the job may have touched the data.
            audit.append(self.db, session, "system", "job.fail", f"job:{job_id}", error=message)

    @staticmethod
    def _transition(session: Session, job_id: int, target: JobStatus) -> Job:
        job = session.get(Job, job_id, with_for_update={"of": Job})
        if job is None:
            raise NotFound("no such job")
        check_can_transition(JobStatus(job.status), target)
        job.status = target.value
        return job

    def recover(self) -> int:
        """Fail jobs a previous process left queued or running; their budget stays spent.

        Returns:
            How many jobs were failed.
        """
        with self.db.session() as session:
            stale = session.scalars(
                select(Job).where(Job.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value]))
            ).all()
            for job in stale:
                job.status, job.error = JobStatus.FAILED.value, "interrupted by a service restart"
                job.finished_at = utcnow()
                audit.append(
                    self.db, session, "system", "job.fail", f"job:{job.id}", error=job.error
                )
            return len(stale)

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking jobs; wait for running ones when ``wait``."""
        self._pool.shutdown(wait=wait, cancel_futures=not wait)


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


def _count_columns(spec: AggregateSpec) -> list[str]:
    return [a.name for a in spec.aggregates if isinstance(a, Count)]


def _log_crash(future: Future[None]) -> None:
    if (err := future.exception()) is not None:
        log.error("job worker crashed", exc_info=err)
