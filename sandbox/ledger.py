"""The privacy-budget ledger: reserve before compute, never refund.

A reservation is one conditional ``UPDATE`` in the caller's transaction, the
same transaction that inserts the job row: either both happen or neither
does. The database applies the ``WHERE spent + cost <= total`` test to the
row version it locks, so concurrent submissions can never overspend, on
PostgreSQL (row lock, READ COMMITTED re-check) as on SQLite (database lock).
Spent budget is never handed back: a job that crashes after its reservation
may already have touched the data.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from policies.budget import PrivacyBudget, check_can_spend_units
from policies.errors import InternalError
from sandbox.store.models import Grant


def remaining(grant: Grant) -> PrivacyBudget:
    """What the grant has left."""
    return PrivacyBudget.from_units(
        grant.epsilon_total - grant.epsilon_spent, grant.delta_total - grant.delta_spent
    )


def reserve(session: Session, grant: Grant, cost: PrivacyBudget) -> None:
    """Charge ``cost`` to ``grant`` atomically.

    Raises:
        BudgetExhausted: The grant cannot pay; nothing was charged.
    """
    eps, delta = cost.units
    result = session.execute(
        update(Grant)
        .where(
            Grant.id == grant.id,
            Grant.epsilon_spent + eps <= Grant.epsilon_total,
            Grant.delta_spent + delta <= Grant.delta_total,
        )
        .values(epsilon_spent=Grant.epsilon_spent + eps, delta_spent=Grant.delta_spent + delta)
        .execution_options(synchronize_session=False)
    )
    session.refresh(grant)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        # Raises with the figures; the rule is the UPDATE's, on the same integers.
        check_can_spend_units(
            (grant.epsilon_total, grant.delta_total),
            (grant.epsilon_spent, grant.delta_spent),
            (eps, delta),
        )
        raise InternalError("the budget reservation failed; try again")
