"""Privacy budgets and how they are spent.

A budget is a pair (ε, δ). What a job may spend is decided by the accountant
(:class:`jobs.dp.accounting.Accountant`: basic composition, or zCDP for
Gaussian noise, whichever is tighter), which the ledger asks under its lock
(:mod:`sandbox.access.ledger`); this module holds the values it counts in.

The ledger keeps integers: ε in units of 1e-9 and δ in units of 1e-18, so
that fifty jobs of ε = 0.1 add up to exactly 5 and a concurrent reservation
can be checked in one SQL ``UPDATE ... WHERE spent + cost <= total``
without floating-point drift on any database.

References:
    Dwork, C. and Roth, A. (2014). The Algorithmic Foundations of
    Differential Privacy, Theorem 3.16 (basic composition).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from policies.errors import InvalidRequest

EPSILON_UNIT = 10**9
DELTA_UNIT = 10**18
#: Largest ε one grant may hold; beyond it a "privacy" guarantee means nothing.
MAX_EPSILON = 1000.0


def _units(value: float, unit: int) -> int:
    # The float's shortest decimal form is what the caller wrote (0.1, not
    # 0.1000000000000000055...), so units are exact for such inputs and
    # units(from_units(u)) == u; anything finer rounds up: never under-charge.
    return math.ceil(Decimal(repr(float(value))) * unit)


def epsilon_units(epsilon: float) -> int:
    """ε as ledger units (rounded up, so the ledger never under-charges).

    >>> epsilon_units(0.1) * 10 == epsilon_units(1.0)
    True
    """
    return _units(epsilon, EPSILON_UNIT)


def delta_units(delta: float) -> int:
    """δ as ledger units (rounded up)."""
    return _units(delta, DELTA_UNIT)


@dataclass(frozen=True, slots=True)
class PrivacyBudget:
    """An (ε, δ) pair that validates itself.

    Raises:
        InvalidRequest: ε or δ is NaN, infinite, negative, or δ ≥ 1.

    >>> PrivacyBudget(1.0, 1e-6).epsilon
    1.0
    >>> PrivacyBudget(float("nan"))
    Traceback (most recent call last):
    ...
    policies.errors.InvalidRequest: epsilon must be a finite number between 0 and 1000
    """

    epsilon: float
    delta: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.epsilon) and 0.0 <= self.epsilon <= MAX_EPSILON):
            raise InvalidRequest(f"epsilon must be a finite number between 0 and {MAX_EPSILON:g}")
        if not (math.isfinite(self.delta) and 0.0 <= self.delta < 1.0):
            raise InvalidRequest("delta must be a finite number in [0, 1)")

    @classmethod
    def from_units(cls, epsilon: int, delta: int) -> PrivacyBudget:
        """Build from ledger units."""
        return cls(epsilon / EPSILON_UNIT, delta / DELTA_UNIT)

    @property
    def units(self) -> tuple[int, int]:
        """(ε, δ) in ledger units."""
        return epsilon_units(self.epsilon), delta_units(self.delta)

    def __add__(self, other: PrivacyBudget) -> PrivacyBudget:
        """Basic sequential composition."""
        e1, d1 = self.units
        e2, d2 = other.units
        return PrivacyBudget.from_units(e1 + e2, d1 + d2)


def left(total: tuple[int, int], spent: tuple[int, int]) -> PrivacyBudget:
    """What a grant of ``total`` may still take once ``spent`` is composed (ledger units).

    Nothing at all when the δ spent exceeds the grant's (another of the firm's
    grants spent it): no statement of a new job's cost would keep δ within it.

    >>> left(PrivacyBudget(1.0).units, PrivacyBudget(0.25).units).epsilon
    0.75
    >>> left(PrivacyBudget(1.0).units, PrivacyBudget(1.5).units).epsilon
    0.0
    >>> left(PrivacyBudget(1.0, 1e-6).units, PrivacyBudget(0.1, 2e-6).units)
    PrivacyBudget(epsilon=0.0, delta=0.0)
    """
    (total_e, total_d), (spent_e, spent_d) = total, spent
    if spent_d > total_d:
        return PrivacyBudget(0.0, 0.0)
    return PrivacyBudget.from_units(max(total_e - spent_e, 0), total_d - spent_d)
