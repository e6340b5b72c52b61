"""The privacy-budget ledger: reserve before compute, never refund.

Each job's charge (pure ε, zCDP ρ, δ) is a :class:`LedgerEntry` under one
grant on one dataset. Budget is accounted **per firm × dataset across all the
firm's grants**: the :class:`jobs.dp.accounting.Accountant` of a job under
grant G on dataset D composes every charge of G's firm on D in the current
budget period, under any of its grants (basic composition or zCDP,
whichever is smaller), and a new charge is accepted only if that composed
spend stays within G's own (ε, δ). A second grant with the same totals
therefore brings nothing new, a larger one only the difference: a grant caps
how much of the firm's spend it may take, it is not a fresh budget.

A steward who means a fresh budget (a new year, refreshed data) starts a new
**budget period** for the firm × dataset with an audited reason
(:func:`start_period`); charges of earlier periods no longer count. Identical
queries stay cached across grants and periods (see :mod:`sandbox.jobs.answer_cache`).

Concurrency: reservations lock the firm × dataset row (:class:`FirmBudget`,
``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE``
serializes writers), so concurrent submissions under any of the firm's grants
are checked one after the other and can never overspend. The entry is
inserted in the same transaction as the job row: either both happen or
neither does. Spent budget is never handed back: a job that crashes after its
reservation may already have touched the data.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from jobs.dp.accounting import Accountant, Charge
from policies import budget
from policies.access import check_can_manage_datasets
from policies.airlock import MIN_REASON_LENGTH
from policies.budget import PrivacyBudget, delta_units, epsilon_units
from policies.errors import InvalidRequest, NotFound
from policies.grants import GrantState
from policies.roles import OrgKind, Role
from sandbox.audit import chain as audit
from sandbox.catalog.datasets import get as get_dataset
from sandbox.store.db import Database
from sandbox.store.models import Dataset, FirmBudget, Grant, LedgerEntry, Organisation, utcnow

#: Shortest reason a steward gives for a new budget period (it is audited).
MIN_REASON = MIN_REASON_LENGTH


@dataclass(frozen=True, slots=True)
class DatasetBudget:
    """A grant's budget on one of its datasets, in the current period.

    Attributes:
        dataset: The dataset's name.
        period: The firm × dataset budget period (1 until a steward starts another).
        period_started_at: When the steward started it (None: the first period).
        grant_spent: What this grant's own jobs spent (composed).
        firm_spent: What the firm's jobs under all its grants spent (composed
            against this grant's totals): what counts.
        left: What this grant may still take: its totals less ``firm_spent``.
    """

    dataset: str
    period: int
    period_started_at: dt.datetime | None
    grant_spent: PrivacyBudget
    firm_spent: PrivacyBudget
    left: PrivacyBudget


def lock(session: Session, org_id: int, dataset_ids: Iterable[int]) -> dict[int, FirmBudget]:
    """Lock the firm's budget rows of ``dataset_ids`` until the transaction ends.

    Rows are made on first use (an insert that does nothing if a concurrent
    transaction made the row first) and locked in dataset id order, so two
    submissions over the same datasets cannot deadlock.

    Returns:
        The locked rows by dataset id.
    """
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    rows: dict[int, FirmBudget] = {}
    for dataset_id in sorted(set(dataset_ids)):
        session.execute(
            insert(FirmBudget)
            .values(org_id=org_id, dataset_id=dataset_id, period=1, period_reason="")
            .on_conflict_do_nothing(index_elements=["org_id", "dataset_id"])
        )
        row = session.scalar(
            select(FirmBudget)
            .where(FirmBudget.org_id == org_id, FirmBudget.dataset_id == dataset_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        assert row is not None  # inserted above or by a committed concurrent transaction
        rows[dataset_id] = row
    return rows


def _account(session: Session, org_id: int, dataset_id: int) -> FirmBudget | None:
    return session.scalar(
        select(FirmBudget).where(FirmBudget.org_id == org_id, FirmBudget.dataset_id == dataset_id)
    )


def _charges(
    session: Session, org_id: int, dataset_id: int, period: int, grant_id: int | None = None
) -> list[Charge]:
    """The firm's charges on the dataset in ``period`` (only one grant's, with ``grant_id``)."""
    stmt = (
        select(LedgerEntry)
        .join(Grant, Grant.id == LedgerEntry.grant_id)
        .where(
            Grant.org_id == org_id,
            LedgerEntry.dataset_id == dataset_id,
            LedgerEntry.period == period,
        )
        .order_by(LedgerEntry.id)
    )
    if grant_id is not None:
        stmt = stmt.where(LedgerEntry.grant_id == grant_id)
    return [Charge(e.epsilon, e.rho, e.delta, e.conversion_delta) for e in session.scalars(stmt)]


def _total(grant: Grant) -> PrivacyBudget:
    return PrivacyBudget.from_units(grant.epsilon_total, grant.delta_total)


def _period(session: Session, org_id: int, dataset_id: int) -> int:
    account = _account(session, org_id, dataset_id)
    return account.period if account is not None else 1


def accountant(session: Session, grant: Grant, dataset_id: int) -> Accountant:
    """The accountant of a job under ``grant``: the grant's totals, and every charge its
    firm made on the dataset in the current period under any of its grants."""
    period = _period(session, grant.org_id, dataset_id)
    return Accountant(_total(grant), _charges(session, grant.org_id, dataset_id, period))


def _composed(acc: Accountant, extra: Charge | None = None) -> PrivacyBudget:
    if not acc.charges and extra is None:
        return PrivacyBudget(0.0, 0.0)
    eps, delta = acc.spent(extra)
    if not math.isfinite(eps):
        # No statement keeps δ within this grant's δ (the firm spent more δ under another
        # grant): state the basic composition of the jobs' own (ε, δ) statements instead;
        # :func:`_left` then leaves this grant nothing.
        own = [c.standalone for c in [*acc.charges, *([extra] if extra else [])]]
        eps, delta = math.fsum(e for e, _ in own), math.fsum(d for _, d in own)
    # in ledger units, rounded up: shown as 0.9, not 0.8999999999999999, and never under
    return PrivacyBudget.from_units(
        epsilon_units(min(eps, 1000.0)), delta_units(min(delta, 0.999999))
    )


def spent(session: Session, grant: Grant, dataset_id: int) -> PrivacyBudget:
    """The composed (ε, δ) the grant's firm has spent on one dataset this period."""
    return composed(accountant(session, grant, dataset_id))


def composed(acc: Accountant) -> PrivacyBudget:
    """The composed (ε, δ) of an :func:`accountant`'s charges: :func:`spent` without a
    second read of the ledger."""
    return _composed(acc)


def left(session: Session, grant: Grant, dataset_id: int) -> PrivacyBudget:
    """What ``grant`` may still take on one dataset: its totals less the firm's spend."""
    return _left(grant, spent(session, grant, dataset_id))


def _left(grant: Grant, used: PrivacyBudget) -> PrivacyBudget:
    # the firm spent more δ than this grant allows: nothing fits (policies.budget.left)
    return budget.left((grant.epsilon_total, grant.delta_total), used.units)


def reserve(session: Session, grant: Grant, dataset_id: int, charge: Charge) -> LedgerEntry:
    """Record ``charge`` if it fits what the firm spent on the dataset under ``grant``'s cap.

    Locks the firm × dataset row first (a no-op when the transaction holds it).
    The grant's ``epsilon_spent`` / ``delta_spent`` keep the most its own jobs
    composed to on one dataset (a record; views compute from the ledger).

    Raises:
        BudgetExhausted: The composed spend would exceed the grant; nothing is recorded.
    """
    account = lock(session, grant.org_id, [dataset_id])[dataset_id]
    acc = Accountant(_total(grant), _charges(session, grant.org_id, dataset_id, account.period))
    acc.check_can_charge(charge)
    own = Accountant(
        _total(grant), _charges(session, grant.org_id, dataset_id, account.period, grant.id)
    )
    entry = LedgerEntry(
        grant_id=grant.id,
        dataset_id=dataset_id,
        period=account.period,
        epsilon=charge.epsilon,
        rho=charge.rho,
        delta=charge.delta,
        conversion_delta=charge.conversion_delta,
    )
    session.add(entry)
    mine = _composed(own, charge)
    grant.epsilon_spent = max(grant.epsilon_spent, epsilon_units(mine.epsilon))
    grant.delta_spent = max(grant.delta_spent, delta_units(mine.delta))
    session.flush()
    return entry


def grant_budgets(session: Session, grant: Grant) -> list[DatasetBudget]:
    """The grant's budget on each of its datasets: its own spend, the firm's, what is left."""
    rows = []
    for dataset in grant.datasets:
        account = _account(session, grant.org_id, dataset.id)
        period = account.period if account is not None else 1
        firm = Accountant(_total(grant), _charges(session, grant.org_id, dataset.id, period))
        own = Accountant(
            _total(grant), _charges(session, grant.org_id, dataset.id, period, grant.id)
        )
        firm_spent = _composed(firm)
        rows.append(
            DatasetBudget(
                dataset=dataset.name,
                period=period,
                period_started_at=account.period_started_at if account is not None else None,
                grant_spent=_composed(own),
                firm_spent=firm_spent,
                left=_left(grant, firm_spent),
            )
        )
    return rows


def spent_by_grant(
    session: Session, at: dt.datetime | None = None
) -> dict[int, tuple[float, float]]:
    """Each live grant's (ε spent, ε total): its own jobs' composed spend on its most-used
    dataset this period (the ``spent`` of :func:`summary`), in one query for all grants.

    Live: active and not expired at ``at`` (default now); grants without a charge in the
    current period are left out (the monitoring figures, :mod:`sandbox.service.metrics`).
    """
    when = at or utcnow()
    period = func.coalesce(FirmBudget.period, 1)
    rows = session.execute(
        select(LedgerEntry, Grant.epsilon_total, Grant.delta_total)
        .join(Grant, Grant.id == LedgerEntry.grant_id)
        .outerjoin(
            FirmBudget,
            (FirmBudget.org_id == Grant.org_id) & (FirmBudget.dataset_id == LedgerEntry.dataset_id),
        )
        .where(
            Grant.state == GrantState.ACTIVE,
            Grant.expires_at > when,
            LedgerEntry.period == period,
        )
        .order_by(LedgerEntry.id)
    ).all()
    charges: dict[tuple[int, int], list[Charge]] = {}
    totals: dict[int, PrivacyBudget] = {}
    for entry, epsilon_total, delta_total in rows:
        totals[entry.grant_id] = PrivacyBudget.from_units(epsilon_total, delta_total)
        charges.setdefault((entry.grant_id, entry.dataset_id), []).append(
            Charge(entry.epsilon, entry.rho, entry.delta, entry.conversion_delta)
        )
    spent: dict[int, float] = {}
    for (grant_id, _dataset), own in charges.items():
        epsilon = _composed(Accountant(totals[grant_id], own)).epsilon
        spent[grant_id] = max(spent.get(grant_id, 0.0), epsilon)
    return {g: (spent[g], totals[g].epsilon) for g in sorted(spent)}


def summary(budgets: list[DatasetBudget], grant: Grant) -> tuple[PrivacyBudget, PrivacyBudget]:
    """(what the grant's own jobs spent on its most-used dataset, what it may still take on
    the dataset where the firm spent most): the one-line figures of a grant."""
    if not budgets:
        return PrivacyBudget(0.0, 0.0), _total(grant)
    return (
        PrivacyBudget(
            max(b.grant_spent.epsilon for b in budgets), max(b.grant_spent.delta for b in budgets)
        ),
        PrivacyBudget(min(b.left.epsilon for b in budgets), min(b.left.delta for b in budgets)),
    )


def start_period(
    db: Database,
    session: Session,
    actor: str,
    user_id: int,
    *,
    steward_org: int,
    org_id: int,
    dataset: str,
    reason: str,
) -> FirmBudget:
    """Start a new budget period for a firm on a dataset: earlier charges stop counting.

    Identical queries keep their cached answers (no fresh noise on a repeat).

    Args:
        db: The metadata store (for the audit lock).
        session: The open transaction.
        actor: Who, for the audit log.
        user_id: The steward's user id.
        steward_org: The steward's bureau, which must own the dataset (art. 63).
        org_id: The operator firm.
        dataset: The dataset's name.
        reason: Why the firm gets a fresh budget (audited).

    Raises:
        InvalidRequest: No reason, or not an operator organisation.
        NotFound: No such organisation or dataset.
        PolicyViolation: The dataset belongs to another bureau.
    """
    if len(reason.strip()) < MIN_REASON:
        raise InvalidRequest(
            f"give a reason of at least {MIN_REASON} characters for the new budget period "
            "(it is audited)"
        )
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound("no such organisation")
    if org.kind != OrgKind.OPERATOR.value:
        raise InvalidRequest("budget periods belong to operator organisations (art. 35)")
    row: Dataset = get_dataset(session, dataset)
    check_can_manage_datasets(Role.STEWARD, steward_org, [row.org_id])
    account = lock(session, org.id, [row.id])[row.id]
    previous = account.period
    charges = len(_charges(session, org.id, row.id, previous))
    account.period = previous + 1
    account.period_started_at = utcnow()
    account.period_started_by = user_id
    account.period_reason = reason
    audit.append(
        db,
        session,
        actor,
        "budget.period",
        f"budget:{org.id}/{row.name}",
        org=org.name,
        dataset=row.name,
        period=account.period,
        previous_period=previous,
        previous_charges=charges,
        reason=reason,
    )
    return account
