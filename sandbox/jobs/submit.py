"""Submission of jobs: policy, budget and the answer cache, in one transaction.

:func:`submit` checks the grant and the spec, reserves the job's charge and
inserts the job row in one transaction (or returns the answer an identical
query got: no fresh noise). :func:`estimate` runs the same checks without
touching the budget. Everything a kind decides (validation, charge, cost,
estimate, options) is asked of the kind (:data:`jobs.kinds.KINDS`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jobs.dp.accounting import Charge
from jobs.facts import DatasetFacts
from jobs.kinds import KINDS, AnySpec, JobKind, parse_job_spec
from policies.airlock import JobStatus
from policies.budget import PrivacyBudget
from policies.catalog import OpenAttribute, check_grade_allows
from policies.errors import NotFound
from policies.extract import FAILED_EXTRACT_WINDOW, check_failed_extracts, limits_failures
from policies.grants import GrantState, check_can_submit, check_commitment_met
from policies.roles import Role, check_role
from sandbox.access import ledger
from sandbox.access.auth import Principal
from sandbox.access.grants import get as get_grant
from sandbox.audit import chain as audit
from sandbox.catalog.withdraw import check_usable
from sandbox.jobs import answer_cache
from sandbox.jobs.facts import dataset_facts, grant_facts, min_cell
from sandbox.jobs.lifecycle import transition
from sandbox.settings import Settings
from sandbox.store.db import Database
from sandbox.store.faults import crashpoint
from sandbox.store.models import Dataset, Grant, Job, utcnow


@dataclass(frozen=True, slots=True)
class Prepared:
    """A checked submission, before any budget is touched."""

    spec: AnySpec
    kind: JobKind
    grant: Grant
    datasets: list[Dataset]
    facts: tuple[DatasetFacts, ...]
    #: The job's small-cell threshold (grades and grant).
    min_cell: int
    #: What each dataset's budget is charged (DP-free kinds: nothing).
    charge: Charge
    spec_json: dict[str, Any]
    spec_hash: str
    cached: Job | None
    #: Re-issue ``cached``'s released answer under this grant (its own grant ended).
    reissue: bool = False

    @property
    def dataset(self) -> Dataset:
        """The first (for most kinds, the only) dataset."""
        return self.datasets[0]


def prepare(
    session: Session,
    settings: Settings,
    who: Principal,
    grant_id: int,
    spec_data: Any,
    *,
    lock: bool,
) -> Prepared:
    """Every check a submission and an estimate share; no budget is touched.

    Raises:
        PolicyViolation: Not an operator, grant not in force or out of scope (art. 76),
            a conditional dataset whose required commitment the firm has not accepted (art. 34),
            a grade that admits no such product (art. 62), too many failed extracts.
        NotFound: No such grant for the caller's organisation, or no such dataset.
        InvalidJobSpec: Malformed spec or forbidden column use.
        Conflict: An identical query's answer is not released yet and its grant ended, or
            a dataset was withdrawn.
    """
    check_role(who.role, Role.OPERATOR)
    spec = parse_job_spec(spec_data)
    kind = KINDS[spec.kind]
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
    if limits_failures(kind.product):
        check_failed_extracts(failed_runs(session, grant.id, kind))
    # in the grant's scope (checked above), so loaded with it, columns included: no query
    granted = {d.name: d for d in grant.datasets}
    datasets = [granted[name] for name in spec.datasets]
    for row in datasets:
        check_usable(row)
    check_commitment_met(
        grant.id,
        [OpenAttribute(d.open_attribute) for d in datasets],
        grant.commitment_required,
        grant.commitment_accepted,
    )
    facts = tuple(dataset_facts(d) for d in datasets)
    terms = grant_facts(grant)
    # a spec the kind cannot run on these datasets is refused before any budget is spent
    kind.validate(spec, facts, kind.options(terms, facts, settings.secret()))
    for dataset in facts:  # art. 62: the grade × product table (core data: nothing)
        check_grade_allows(dataset.grade, kind.product)
    threshold = min_cell(facts, terms)
    # the operator sees the charge: it may depend on public facts only (never the exact count)
    charge = kind.charge(spec, facts, threshold)
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
    return Prepared(
        spec,
        kind,
        grant,
        datasets,
        facts,
        threshold,
        charge,
        spec_json,
        spec_hash,
        cached,
        reissue,
    )


def failed_runs(session: Session, grant_id: int, kind: JobKind) -> int:
    """The grant's jobs releasing ``kind``'s product that ran and failed within the policy's
    window, and those still queued or running (each may yet fail: a burst must not pass the
    limit)."""
    since = utcnow() - FAILED_EXTRACT_WINDOW
    failed = (Job.status == JobStatus.FAILED) & Job.started_at.is_not(None)
    open_ = Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING))
    same_product = [k.name for k in KINDS if k.product is kind.product]
    return int(
        session.scalar(
            select(func.count())
            .select_from(Job)
            .where(
                Job.grant_id == grant_id,
                Job.kind.in_(same_product),
                (failed & (Job.finished_at >= since)) | open_,
            )
        )
        or 0
    )


def estimate(
    db: Database,
    settings: Settings,
    who: Principal,
    grant_id: int,
    spec_data: Any,
    expected_group_size: int | None = None,
) -> dict[str, Any]:
    """What a job would cost and how accurate it would be, without running it.

    Args:
        db: The metadata store.
        settings: Service settings.
        who: The operator asking.
        grant_id: The grant the job would run under.
        spec_data: The job spec as JSON-like data.
        expected_group_size: Rows the operator expects per group (planning figure);
            ``None``: the steward's band in the catalog, or the kind's default.

    Returns:
        The kind's estimate (for aggregates: ε, δ, per aggregate expected
        absolute error and 95 % interval half-width, the group size assumed and
        small-cell warnings), whether it fits the budget left, and the cached
        job an identical query would return at no cost.

    Raises:
        The same errors as :func:`submit`, except ``BudgetExhausted``.
    """
    with db.session() as session:
        p = prepare(session, settings, who, grant_id, spec_data, lock=False)
        result = p.kind.estimate(
            p.spec, p.facts, p.min_cell, expected_group_size=expected_group_size
        )
        # what the firm spent on the dataset under all its grants: what counts (each
        # accountant reads the ledger: read the first dataset's once)
        first = ledger.accountant(session, p.grant, p.dataset.id)
        accountants = (
            first if d.id == p.dataset.id else ledger.accountant(session, p.grant, d.id)
            for d in p.datasets
        )
        fits = p.cached is not None or all(a.can_charge(p.charge) for a in accountants)
        used = ledger.composed(first)
        total = PrivacyBudget.from_units(p.grant.epsilon_total, p.grant.delta_total)
        return result | {
            "fits": fits,
            "cached_job_id": p.cached.id if p.cached is not None else None,
            "dataset_spent": {"epsilon": used.epsilon, "delta": used.delta},
            "grant_total": {"epsilon": total.epsilon, "delta": total.delta},
        }


def submit(
    db: Database,
    settings: Settings,
    who: Principal,
    grant_id: int,
    spec_data: Any,
    purpose: str = "",
    seed: int | None = None,
) -> tuple[Job, JobKind | None]:
    """Check, reserve and queue a job (a worker claims it: :mod:`sandbox.jobs.queue`).

    ``seed`` fixes the job's noise (tests only; the API never passes one).

    Returns:
        The job, and its kind when it was queued now (to be run); ``None`` when
        an identical query's job answers it (no new run).

    Raises:
        PolicyViolation: Not an operator, grant not active or out of scope (art. 76).
        NotFound: No such grant for the caller's organisation.
        InvalidJobSpec: Malformed spec or forbidden column use.
        BudgetExhausted: Not enough ε left; the ledger is unchanged.
    """
    with db.session() as session:
        p = prepare(session, settings, who, grant_id, spec_data, lock=True)
        spec, grant, charge = p.spec, p.grant, p.charge
        if p.cached is not None:
            # An identical query gets the same noisy answer at no new cost:
            # answering it afresh would let an operator average the noise away.
            if p.reissue:  # its grant ended: the same answer, under this grant
                return answer_cache.reissue(db, session, who, p.cached, grant, purpose), None
            audit.append(
                db, session, who.actor, "job.cache_hit", f"job:{p.cached.id}", grant=grant.id
            )
            return p.cached, None
        cost = PrivacyBudget(*p.kind.cost(spec, charge))
        # Every kind goes through the ledger, also at no ε (extracts, custom code).
        entries = [ledger.reserve(session, grant, d.id, charge) for d in p.datasets]
        eps, delta = cost.units
        job = Job(
            grant_id=grant.id,
            org_id=who.org_id,
            submitted_by=who.user_id,
            kind=spec.kind,
            spec=p.spec_json,
            spec_hash=p.spec_hash,
            purpose=purpose,
            epsilon=eps,
            delta=delta,
            seed=seed,
        )
        epsilon_left = min(ledger.left(session, grant, d.id).epsilon for d in p.datasets)
        transition(
            db,
            session,
            job,
            JobStatus.QUEUED,
            actor=who.actor,
            action="job.submit",
            grant=grant.id,
            kind=spec.kind,
            datasets=spec.datasets,
            epsilon=cost.epsilon,
            delta=cost.delta,
            epsilon_left=epsilon_left,
        )
        for entry in entries:
            entry.job_id = job.id
    crashpoint("after_submit")
    return job, p.kind
