"""The job service: submission, execution and recovery behind one object.

:class:`JobService` is what the API, the console and the tests hold; the work
is done in :mod:`sandbox.jobs.submit` (policy, budget, the answer cache),
:mod:`sandbox.jobs.queue` (the durable queue and its leases),
:mod:`sandbox.jobs.execute` (the workers, the run, the checks) and
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
    """Submits jobs to the durable queue; its workers (if any) run them.

    Args:
        db: The metadata store.
        settings: Service settings (quarantine folder, checks' limits, leases, the secret).
        runner: Executes tasks (Ray).
        workers: Jobs with visible timing this process may run at once (default: the
            settings'; 0: none, other processes run them).
        untimed_workers: Jobs of untimed kinds (custom code) this process may run at once.
    """

    def __init__(
        self,
        db: Database,
        settings: Settings,
        runner: Runner,
        workers: int | None = None,
        untimed_workers: int | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.runner = runner
        self.executor = Executor(db, settings, runner, workers, untimed_workers)

    def estimate(
        self,
        who: Principal,
        grant_id: int,
        spec_data: Any,
        expected_group_size: int | None = None,
    ) -> dict[str, Any]:
        """What a job would cost and how accurate it would be; see :func:`submit.estimate`."""
        return submit.estimate(
            self.db, self.settings, who, grant_id, spec_data, expected_group_size
        )

    def submit(
        self,
        who: Principal,
        grant_id: int,
        spec_data: Any,
        purpose: str = "",
        seed: int | None = None,
    ) -> Job:
        """Check, reserve and queue a job; this process's workers (if any) are woken.

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
        job, kind = submit.submit(self.db, self.settings, who, grant_id, spec_data, purpose, seed)
        if kind is not None:
            self.executor.wake()
        return job

    def start(self) -> None:
        """Start this process's workers (they claim queued jobs from the database)."""
        self.executor.start()

    def recover(self) -> int:
        """Requeue jobs a previous process left running; see :func:`lifecycle.recover`."""
        return lifecycle.recover(self.executor)

    def drain(self, grace_s: float | None = None) -> int:
        """Stop as SIGTERM asks; see :meth:`Executor.drain`. How many jobs were handed back."""
        return self.executor.drain(grace_s)

    def shutdown(self, wait: bool = True) -> None:
        """Stop the workers; when ``wait``, first run what is queued (tests)."""
        self.executor.shutdown(wait)
