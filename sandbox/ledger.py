"""The privacy-budget ledger: reserve before compute, never refund.

Each job's charge (pure ε, zCDP ρ, δ) is a :class:`LedgerEntry` against one
grant × dataset; the :class:`jobs.dp.accounting.Accountant` composes a
grant × dataset's entries as tightly as the theory allows (basic composition
or zCDP, whichever is smaller) and a new charge is accepted only if the
composed spend stays within the grant's (ε, δ).

Concurrency: the caller holds the grant row's lock (``SELECT ... FOR
UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serializes writers), so
concurrent submissions are checked one after the other and can never
overspend. The entry is inserted in the same transaction as the job row:
either both happen or neither does. Spent budget is never handed back: a
job that crashes after its reservation may already have touched the data.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.dp.accounting import Accountant, Charge
from policies.budget import PrivacyBudget, delta_units, epsilon_units
from sandbox.store.models import Grant, LedgerEntry


def accountant(session: Session, grant: Grant, dataset_id: int) -> Accountant:
    """The accountant of one grant × dataset, with every charge recorded so far."""
    entries = session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.grant_id == grant.id, LedgerEntry.dataset_id == dataset_id)
        .order_by(LedgerEntry.id)
    )
    return Accountant(
        PrivacyBudget.from_units(grant.epsilon_total, grant.delta_total),
        [Charge(e.epsilon, e.rho, e.delta, e.conversion_delta) for e in entries],
    )


def spent(session: Session, grant: Grant, dataset_id: int) -> PrivacyBudget:
    """The composed (ε, δ) a grant has spent on one dataset."""
    acc = accountant(session, grant, dataset_id)
    if not acc.charges:
        return PrivacyBudget(0.0, 0.0)
    eps, delta = acc.spent()
    return PrivacyBudget(eps, min(delta, 0.999999))


def reserve(session: Session, grant: Grant, dataset_id: int, charge: Charge) -> LedgerEntry:
    """Record ``charge`` if it fits; the caller holds the grant's row lock.

    The grant's ``epsilon_spent`` / ``delta_spent`` show the most spent on
    any of its datasets (each dataset has the grant's whole budget).

    Raises:
        BudgetExhausted: The composed spend would exceed the grant; nothing is recorded.
    """
    acc = accountant(session, grant, dataset_id)
    acc.check_can_charge(charge)
    entry = LedgerEntry(
        grant_id=grant.id,
        dataset_id=dataset_id,
        epsilon=charge.epsilon,
        rho=charge.rho,
        delta=charge.delta,
        conversion_delta=charge.conversion_delta,
    )
    session.add(entry)
    eps, delta = acc.spent(charge)
    grant.epsilon_spent = max(grant.epsilon_spent, epsilon_units(eps))
    grant.delta_spent = max(grant.delta_spent, delta_units(min(delta, 0.999999)))
    session.flush()
    return entry


def remaining(grant: Grant) -> PrivacyBudget:
    """What the grant has left on its most-used dataset."""
    return PrivacyBudget.from_units(
        max(grant.epsilon_total - grant.epsilon_spent, 0),
        max(grant.delta_total - grant.delta_spent, 0),
    )
