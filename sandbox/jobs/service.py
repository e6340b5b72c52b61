"""The job service: submission, execution and recovery behind one object.

:class:`JobService` is what the API, the console and the tests hold; the work
is done in :mod:`sandbox.jobs.submit` (policy, budget, the answer cache),
:mod:`sandbox.jobs.execute` (worker pools, the run, the checks) and
:mod:`sandbox.jobs.lifecycle` (the one writer of a job's status, recovery).
"""

from __future__ import annotations

from typing import Any

from sandbox.access.auth import Principal
from sandbox.jobs import lifecycle, submit
from sandbox.jobs.execute import Executor, Runner
from sandbox.jobs.lifecycle import visible_job
from sandbox.settings import Settings
from sandbox.store.db import Database
from sandbox.store.models import Job

__all__ = ["JobService", "Runner", "visible_job"]


class JobService:
    """Submits jobs and runs them in the background.

    Args:
        db: The metadata store.
        settings: Service settings (quarantine folder, checks' limits, the secret).
        runner: Executes tasks (Ray).
        workers: Jobs with visible timing that may run at once.
        untimed_workers: Jobs of untimed kinds (custom code) that may run at once.
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
        self.executor = Executor(db, settings, runner, workers, untimed_workers)

    def estimate(self, who: Principal, grant_id: int, spec_data: Any) -> dict[str, Any]:
        """What a job would cost and how accurate it would be; see :func:`submit.estimate`."""
        return submit.estimate(self.db, self.settings, who, grant_id, spec_data)

    def submit(
        self,
        who: Principal,
        grant_id: int,
        spec_data: Any,
        purpose: str = "",
        seed: int | None = None,
    ) -> Job:
        """Check, reserve and queue a job, then run it in the background.

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
        job, kind = submit.submit(self.db, self.settings, who, grant_id, spec_data, purpose)
        if kind is not None:
            self.executor.enqueue(job.id, kind, seed)
        return job

    def recover(self) -> int:
        """Fail jobs a previous process left queued or running; see :func:`lifecycle.recover`."""
        return lifecycle.recover(self.db, self.executor)

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking jobs; wait for running ones when ``wait``."""
        self.executor.shutdown(wait)
