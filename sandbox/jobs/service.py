"""Submission and execution of jobs: policy, budget, Ray, quarantine.

:meth:`JobService.submit` checks the grant and the spec, reserves ε and
inserts the job row in one transaction, then hands the job to a worker
thread that runs it on Ray and files the output in quarantine with its
automatic checks. Job status and errors shown to operators carry no data.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jobs.dp.accounting import Charge
from jobs.kinds.aggregate.plan import rows_bound
from jobs.kinds.aggregate.engine import DatasetContext
from jobs.kinds.aggregate.engine import charge as aggregate_charge
from jobs.kinds.aggregate.engine import cost as declared_cost
from jobs.kinds.aggregate.engine import estimate as aggregate_estimate
from jobs.runner import Outcome, Task
from jobs.kinds.aggregate.spec import AggregateSpec, Count, CountDistinct, Histogram, validate_against_schema
from jobs.kinds import AnySpec, parse_job_spec
from jobs.kinds.custom.spec import CustomSpec
from jobs.kinds.extract.spec import ExtractSpec
from jobs.kinds.train.spec import TrainSpec
from policies.airlock import (
    JobStatus,
    check_can_see_job,
    check_can_transition,
    min_cell_size,
    operator_sees_failure,
    operator_sees_timing,
)
from policies.budget import PrivacyBudget
from policies.catalog import ColumnTag, Grade, Product
from policies.errors import InternalError, NotFound, SandboxError, redacted_traceback
from policies.extract import FAILED_EXTRACT_WINDOW, check_failed_extracts
from policies.grants import GrantState, check_can_submit
from policies.roles import Role, check_role
from sandbox.access import ledger
from sandbox.access.auth import Principal
from sandbox.access.grants import get as get_grant
from sandbox.audit import chain as audit
from sandbox.catalog.datasets import get as get_dataset
from sandbox.checks import Check, CheckContext
from sandbox.checks.process import ChecksStopped, Limits, run_isolated
from sandbox.jobs import answer_cache
from sandbox.settings import Settings
from sandbox.store.db import Database, storable
from sandbox.store.models import Dataset, Grant, Job, utcnow

log = logging.getLogger(__name__)


class Runner(Protocol):
    """What executes a task (the Ray runner in the service)."""

    def run(self, task: Task) -> Outcome: ...


@dataclass(frozen=True, slots=True)
class _Prepared:
    spec: AnySpec
    grant: Grant
    datasets: list[Dataset]
    #: The DP engine's view of the dataset (aggregates only).
    context: DatasetContext | None
    #: What each dataset's budget is charged (extracts and custom code: nothing).
    charge: Charge
    spec_json: dict[str, Any]
    spec_hash: str
    cached: Job | None
    #: Re-issue ``cached``'s released answer under this grant (its own grant ended).
    reissue: bool = False

    @property
    def dataset(self) -> Dataset:
        """The first (for all kinds but ``custom``, the only) dataset."""
        return self.datasets[0]


def context_for(dataset: Dataset, grant: Grant) -> DatasetContext:
    """The public facts the DP engine needs about a catalogued dataset under a grant.

    The small-cell threshold is the grant's, which may only be stricter than
    the grade's default (10 general, 20 important).

    Raises:
        PolicyViolation: ``core`` data admits no aggregate output (art. 62).
    """
    return DatasetContext(
        privacy_unit=dataset.privacy_unit,
        public_keys=dataset.public_keys,
        min_cell=max(min_cell_size(Grade(dataset.grade)), grant.min_cell or 0),
        # sized from the public count (the estimate's errors reach the operator)
        max_rows=rows_bound(dataset.public_row_count),
        non_null_columns=frozenset(c.name for c in dataset.columns if not c.nullable),
    )


def _checked(
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


def _run_problems(outcome: Outcome) -> list[Check]:
    """A failing ``run`` check for the problems a run reports (a failed or cut-short custom
    run, refused files): the reviewer must read why before anything is approved."""
    problems = outcome.report.get("problems") or []
    if not problems:
        return []
    return [Check("run", "fail", "; ".join(str(p) for p in problems))]


class JobService:
    """Submits jobs and runs them in the background.

    Jobs whose run times the operator does not see (custom code, which could
    encode data in how long it runs) have their own workers: sharing a pool, a
    custom job that held a worker for a data-dependent time would delay the
    start of the operator's next visible job, and that job's ``started_at``
    would tell the time.

    Args:
        db: The metadata store.
        settings: Service settings (quarantine folder).
        runner: Executes tasks (Ray).
        workers: Jobs with visible timing that may run at once.
        untimed_workers: Jobs without (custom code) that may run at once.
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
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job")
        self._untimed = ThreadPoolExecutor(untimed_workers, thread_name_prefix="untimed")
        self._limits = Limits(
            memory_bytes=settings.checks_memory_mb << 20,
            cpu_seconds=settings.checks_cpu_s,
            wall_seconds=settings.checks_wall_s,
        )

    def _prepare(
        self, session: Session, who: Principal, grant_id: int, spec_data: Any, *, lock: bool
    ) -> _Prepared:
        """Every check a submission and an estimate share; no budget is touched."""
        check_role(who.role, Role.OPERATOR)
        spec = parse_job_spec(spec_data)
        grant = get_grant(session, grant_id, for_update=lock)
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
        if isinstance(spec, ExtractSpec):
            check_failed_extracts(self._failed_extracts(session, grant.id))
        datasets = [get_dataset(session, name) for name in spec.datasets]
        context: DatasetContext | None = None
        if isinstance(spec, AggregateSpec):
            dataset = datasets[0]
            validate_against_schema(
                spec,
                {c.name: c.dtype for c in dataset.columns},
                {c.name: ColumnTag(c.tag) for c in dataset.columns},
            )
            # core data is refused here, and a spec the engine cannot run on this
            # dataset is refused before any budget is spent
            context = context_for(dataset, grant)
            charge = aggregate_charge(spec, context)
        else:
            for dataset in datasets:
                kind_module(spec).validate(
                    spec,
                    {c.name: c.dtype for c in dataset.columns},
                    {c.name: ColumnTag(c.tag) for c in dataset.columns},
                    Grade(dataset.grade),
                    self._options(spec, grant, dataset),
                )
            # the operator sees the charge: it may depend on the public (noisy) count only
            charge = kind_charge(spec, datasets[0].public_row_count)  # never the exact count
        spec_json = spec.model_dump(mode="json")
        spec_hash = hashlib.sha256(audit.canonical_json(spec_json)).hexdigest()
        if lock:
            # The firm × dataset rows, before the cache lookup: an identical query submitted
            # at once under another of the firm's grants waits here, then finds this one.
            ledger.lock(session, grant.org_id, [d.id for d in datasets])
        # Across all the firm's grants and budget periods: a second grant, or a new period,
        # must not buy fresh noise on a question already answered (averaging attack).
        cached = answer_cache.lookup(session, grant, spec_hash)
        reissue = cached is not None and answer_cache.needs_reissue(cached, grant)
        return _Prepared(
            spec, grant, datasets, context, charge, spec_json, spec_hash, cached, reissue
        )

    @staticmethod
    def _failed_extracts(session: Session, grant_id: int) -> int:
        """The grant's extracts that ran and failed within the policy's window, and those
        still queued or running (each may yet fail: a burst must not pass the limit)."""
        since = utcnow() - FAILED_EXTRACT_WINDOW
        failed = (Job.status == JobStatus.FAILED.value) & Job.started_at.is_not(None)
        open_ = Job.status.in_((JobStatus.QUEUED.value, JobStatus.RUNNING.value))
        return int(
            session.scalar(
                select(func.count())
                .select_from(Job)
                .where(
                    Job.grant_id == grant_id,
                    Job.kind == "extract",
                    (failed & (Job.finished_at >= since)) | open_,
                )
            )
            or 0
        )

    def _options(self, spec: AnySpec, grant: Grant, dataset: Dataset) -> dict[str, Any]:
        """Kind-specific settings from the grant and the deployment (never from the spec)."""
        if isinstance(spec, ExtractSpec):
            from policies.extract import min_k

            key = hmac.new(
                self.settings.secret(), f"pseudonym/grant/{grant.id}".encode(), hashlib.sha256
            ).hexdigest()
            return {
                "min_k": min_k(Grade(dataset.grade), grant.extract_k),
                "linkage": grant.allow_linkage,
                "pseudonym_key": key,
            }
        if isinstance(spec, CustomSpec):
            return {"limits": dict(grant.limits or {})}
        return {}

    def estimate(self, who: Principal, grant_id: int, spec_data: Any) -> dict[str, Any]:
        """What a job would cost and how accurate it would be, without running it.

        Returns:
            The engine's estimate (ε, δ, per aggregate expected absolute error
            and 95 % interval half-width), whether it fits the budget left, and
            the cached job an identical query would return at no cost.

        Raises:
            The same errors as :meth:`submit`, except ``BudgetExhausted``.
        """
        with self.db.session() as session:
            p = self._prepare(session, who, grant_id, spec_data, lock=False)
            if isinstance(p.spec, AggregateSpec) and p.context is not None:
                result = aggregate_estimate(p.spec, p.context).as_dict()
            else:
                eps, delta = p.charge.standalone
                result = {"kind": p.spec.kind, "epsilon": eps, "delta": delta}
            fits = p.cached is not None or all(
                ledger.accountant(session, p.grant, d.id).can_charge(p.charge) for d in p.datasets
            )
            # what the firm spent on the dataset under all its grants: what counts
            used = ledger.spent(session, p.grant, p.dataset.id)
            total = PrivacyBudget.from_units(p.grant.epsilon_total, p.grant.delta_total)
            return result | {
                "fits": fits,
                "cached_job_id": p.cached.id if p.cached is not None else None,
                "dataset_spent": {"epsilon": used.epsilon, "delta": used.delta},
                "grant_total": {"epsilon": total.epsilon, "delta": total.delta},
            }

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
        with self.db.session() as session:
            p = self._prepare(session, who, grant_id, spec_data, lock=True)
            spec, grant, charge = p.spec, p.grant, p.charge
            spec_json, spec_hash = p.spec_json, p.spec_hash
            if p.cached is not None:
                # An identical query gets the same noisy answer at no new cost:
                # answering it afresh would let an operator average the noise away.
                if p.reissue:  # its grant ended: the same answer, under this grant
                    return answer_cache.reissue(self.db, session, who, p.cached, grant, purpose)
                audit.append(
                    self.db,
                    session,
                    who.actor,
                    "job.cache_hit",
                    f"job:{p.cached.id}",
                    grant=grant.id,
                )
                return p.cached
            if isinstance(spec, AggregateSpec):
                cost = PrivacyBudget(*declared_cost(spec))
            else:
                cost = PrivacyBudget(*charge.standalone)
            # Every kind goes through the ledger, also at no ε (extracts, custom code).
            entries = [ledger.reserve(session, grant, d.id, charge) for d in p.datasets]
            eps, delta = cost.units
            job = Job(
                grant_id=grant.id,
                org_id=who.org_id,
                submitted_by=who.user_id,
                kind=spec.kind,
                spec=spec_json,
                spec_hash=spec_hash,
                purpose=purpose,
                epsilon=eps,
                delta=delta,
                status=JobStatus.QUEUED.value,
            )
            session.add(job)
            session.flush()
            for entry in entries:
                entry.job_id = job.id
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
                epsilon_left=min(ledger.left(session, grant, d.id).epsilon for d in p.datasets),
            )
        pool = self._pool if operator_sees_timing(spec.kind) else self._untimed
        pool.submit(self._run, job.id, seed).add_done_callback(_log_crash)
        return job

    def _run(self, job_id: int, seed: int | None) -> None:
        """Run a queued job to a terminal or reviewable state, whatever fails on the way."""
        output: Path | None = None
        started: tuple[Task, AnySpec] | None = None
        try:
            task, spec = self._start(job_id, seed)
            if task is None:
                return
            started, output = (task, spec), Path(task.output_path)
            outcome = self.runner.run(task)
            checks = _checked(
                job_id, Path(outcome.output_path), check_context(spec, task), self._limits
            )
            self._finish(job_id, outcome, [*checks, *_run_problems(outcome)])
        except SandboxError as err:
            self._fail(job_id, str(err), output, started)
        except Exception as err:
            log.error("job %s crashed\n%s", job_id, redacted_traceback(err))
            message = "the job failed inside the sandbox; the data bureau was told"
            self._fail(job_id, message, output, started)

    def _start(self, job_id: int, seed: int | None) -> tuple[Task | None, AnySpec]:
        with self.db.session() as session:
            job = self._transition(session, job_id, JobStatus.RUNNING)
            spec = parse_job_spec(job.spec)
            grant = job.grant
            if GrantState(grant.state) is not GrantState.ACTIVE or utcnow() >= grant.expires_at:
                # art. 76: a suspended, terminated or expired grant runs nothing more
                job.status, job.finished_at = JobStatus.FAILED.value, utcnow()
                job.error = "the grant is no longer active (art. 76); the job did not run"
                audit.append(
                    self.db, session, "system", "job.fail", f"job:{job.id}", error=job.error
                )
                return None, spec
            job.started_at = utcnow()
            datasets = [get_dataset(session, name) for name in spec.datasets]
            # the aggregate engine's threshold; other kinds' checks use the same small-cell rule
            min_cell = max(
                max(min_cell_size(Grade(d.grade)) for d in datasets), grant.min_cell or 0
            )
            task = Task(
                job_id=job.id,
                spec=job.spec,
                inputs={d.name: str(Path(d.path) / "part-*.parquet") for d in datasets},
                row_counts={d.name: d.row_count for d in datasets},
                public_rows={d.name: d.public_row_count for d in datasets},
                output_path=str((self.settings.quarantine_dir / f"job-{job.id}.parquet").resolve()),
                min_cell=min_cell,
                seed=seed,
                privacy_units={d.name: d.privacy_unit for d in datasets},
                public_keys={
                    d.name: {k: list(v) for k, v in d.public_keys.items()} for d in datasets
                },
                non_null_columns={
                    d.name: sorted(c.name for c in d.columns if not c.nullable) for d in datasets
                },
                columns={
                    d.name: {c.name: {"dtype": c.dtype, "tag": c.tag} for c in d.columns}
                    for d in datasets
                },
                grades={d.name: d.grade for d in datasets},
                options=self._options(spec, grant, datasets[0]),
            )
            audit.append(self.db, session, "system", "job.run", f"job:{job.id}")
            return task, spec

    def _finish(self, job_id: int, outcome: Outcome, checks: list[Check]) -> None:
        with self.db.session() as session:
            job = self._transition(session, job_id, JobStatus.AWAITING_REVIEW)
            job.finished_at = utcnow()
            job.output_path, job.output_sha256 = outcome.output_path, outcome.output_sha256
            job.report = {
                **outcome.report,
                "rows": outcome.rows,
                "cells": outcome.cells,
                "suppressed_cells": outcome.suppressed_cells,
                "epsilon_spent": outcome.epsilon,
                "delta_spent": outcome.delta,
                "rho_spent": outcome.rho,
                "checks": [c.as_dict() for c in checks],
            }
            job.report = storable(job.report)  # NUL that the job's code printed or chose
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
                checks=storable({c.name: c.verdict for c in checks}),
            )

    def _fail(
        self,
        job_id: int,
        message: str,
        output: Path | None = None,
        started: tuple[Task, AnySpec] | None = None,
    ) -> None:
        """Fail a job (best effort: a database outage leaves it to the next start's recovery).

        A started job whose failure the operator may not see (its code could have
        caused it) goes to review instead, with a failing check that says why.
        """
        if output is not None:  # nothing of a failed job stays in quarantine
            for leftover in output.parent.glob(f"{output.stem}.*"):
                leftover.unlink(missing_ok=True)
        if started is not None and not operator_sees_failure(started[1].kind):
            try:
                outcome = kind_module(started[1]).failed_outcome(started[0], message)
                self._finish(job_id, outcome, _run_problems(outcome))
                return
            except Exception as err:
                log.error("job %s could not be sent to review\n%s", job_id, redacted_traceback(err))
        try:
            self._mark_failed(job_id, message)
        except Exception as err:
            log.error("job %s could not be marked failed\n%s", job_id, redacted_traceback(err))

    def _mark_failed(self, job_id: int, message: str) -> None:
        with self.db.session() as session:
            job = session.get(Job, job_id, with_for_update={"of": Job})
            if job is None or JobStatus(job.status).is_terminal():
                return  # failed already (e.g. by a restart's recovery): keep the first reason
            job.status = JobStatus.FAILED.value
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

        A running job whose failure the operator may not see (custom code, which
        could have brought the service down on purpose) goes to review instead,
        failing. Also removes the private folders of custom runs whose process
        was killed on this host (each run sweeps its own worker's host too).

        Returns:
            How many jobs were failed or sent to review.
        """
        from jobs.kinds.custom.engine import sweep_work_folders
        from jobs.kinds.custom.jail import sweep_private_folders

        sweep_work_folders()
        sweep_private_folders()
        message = "interrupted by a service restart"
        hidden: list[tuple[Task, AnySpec]] = []
        with self.db.session() as session:
            stale = session.scalars(
                select(Job).where(Job.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value]))
            ).all()
            for job in stale:
                if job.status == JobStatus.RUNNING.value and not operator_sees_failure(job.kind):
                    hidden.append(self._interrupted(job))
                    continue
                job.status, job.error = JobStatus.FAILED.value, message
                job.finished_at = utcnow()
                audit.append(
                    self.db, session, "system", "job.fail", f"job:{job.id}", error=job.error
                )
            count = len(stale)
        for task, spec in hidden:
            self._fail(task.job_id, message, Path(task.output_path), (task, spec))
        return count

    def _interrupted(self, job: Job) -> tuple[Task, AnySpec]:
        """What a review of an interrupted run needs: where its output goes, its limits."""
        spec = parse_job_spec(job.spec)
        output = (self.settings.quarantine_dir / f"job-{job.id}.parquet").resolve()
        options = {"limits": dict(job.grant.limits or {})}
        task = Task(job.id, job.spec, {}, {}, str(output), min_cell=1, options=options)
        return task, spec

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking jobs; wait for running ones when ``wait``."""
        for pool in (self._pool, self._untimed):
            pool.shutdown(wait=wait, cancel_futures=not wait)


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


def _count_columns(spec: AnySpec) -> tuple[str, ...]:
    """Outputs that are counts of people or rows: the small-cell rule applies to each."""
    if not isinstance(spec, AggregateSpec):
        return ()
    return tuple(
        a.output_name for a in spec.aggregates if isinstance(a, Count | CountDistinct | Histogram)
    )


#: TEMPORARY (helper chk, branch h-chk only): each kind's product and output formats until
#: jobs/kinds/<kind> exposes KIND; at merge the context is built by helper svc's
#: sandbox/jobs/facts.py with CheckContext.build(kind, kind.check_facts(spec, task), ...).
_KIND_CHECKS = {
    "aggregate": (Product.STATISTICS, frozenset({"parquet"})),
    "extract": (Product.RECORDS, frozenset({"parquet"})),
    "train": (Product.MODEL, frozenset({"json", "safetensors"})),
    "custom": (Product.PROGRAM_OUTPUT, frozenset({"zip"})),
}


def check_context(spec: AnySpec, task: Task) -> CheckContext:
    """What the automatic checks need to know about a job's output."""
    extract = spec if isinstance(spec, ExtractSpec) else None
    product, formats = _KIND_CHECKS[spec.kind]
    return CheckContext(
        kind=spec.kind,
        product=product,
        formats=formats,
        min_cell=task.min_cell,
        count_columns=_count_columns(spec),
        public_keys={c: v for keys in task.public_keys.values() for c, v in keys.items()},
        inputs=dict(task.inputs),
        tags={d: {c: v["tag"] for c, v in cols.items()} for d, cols in task.columns.items()},
        k=max(extract.k, int(task.options.get("min_k", 0))) if extract else None,
        pseudonyms=frozenset(extract.pseudonymize) if extract else frozenset(),
        privacy_units={d: u for d, u in task.privacy_units.items() if u},
        max_rows=sum(task.row_counts.values()) if extract else None,
    )


def kind_module(spec: AnySpec) -> Any:
    """The module of a kind other than ``aggregate``: ``validate``, ``charge``, ``run``."""
    import importlib

    return importlib.import_module(f"jobs.{spec.kind}")


def kind_charge(spec: AnySpec, rows: int) -> Charge:
    """The ledger charge of an extract, train or custom job (the same for estimate and submit)."""
    if isinstance(spec, TrainSpec):
        from jobs.kinds.train.engine import charge as train_charge

        return train_charge(spec, rows)
    return Charge()  # extracts and custom code are not DP: they cost no ε, and are reviewed


def _log_crash(future: Future[None]) -> None:
    if (err := future.exception()) is not None:
        log.error("job worker crashed\n%s", redacted_traceback(err))
