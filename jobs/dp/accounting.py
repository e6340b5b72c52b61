"""One privacy accountant for every job kind.

A job's spend is a :class:`Charge` in the forms composition needs: a pure
ε part (Laplace / geometric noise), a zCDP ρ part (Gaussian noise) and an
additive δ part (steps that are only approximately private, such as DP
partition selection, or a model trainer that reports (ε, δ)). The
:class:`Accountant` of one firm × dataset (capped by a grant's totals)
composes charges and states the tightest (ε, δ) guarantee among:

* basic composition of each job's own (ε, δ) statement (Dwork & Roth 2014,
  Thm. 3.16);
* zCDP composition: ρ's add, pure ε-DP is ε²/2-zCDP, δ's of the approximate
  parts add (Bun & Steinke 2016, Props. 1.4, Lemma 1.7, and §8 for
  approximate zCDP), and ρ converts to (ε, δ')-DP with the δ' the budget has
  left by the tighter of Bun & Steinke's ρ + 2√(ρ ln(1/δ')) (Prop. 1.3) and
  Canonne, Kamath & Steinke's conversion (2020, Cor. 13), which allows
  1.2-1.6× more ρ at the same (ε, δ) and so less noise for the same charge.

Gaussian-heavy workloads gain: ρ grows linearly in the number of queries
while the converted ε grows like its square root, so a grant fits many more
Gaussian jobs than the sum of their individual ε's allows.

The ledger itself keeps the (ε, δ) a spec declares (:func:`cost`): that is
what estimate and run both charge, identically.

References:
    Balle, B., Wang, Y.-X. (2018). Improving the Gaussian Mechanism for
    Differential Privacy: Analytical Calibration and Optimal Denoising. ICML
    (the exact privacy profile of the Gaussian mechanism the tests compare with).
    Bun, M., Steinke, T. (2016). Concentrated Differential Privacy:
    Simplifications, Extensions, and Lower Bounds. TCC.
    Dwork, C., Roth, A. (2014). The Algorithmic Foundations of Differential
    Privacy.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from policies.budget import PrivacyBudget, delta_units, epsilon_units
from policies.errors import BudgetExhausted, InvalidRequest

if TYPE_CHECKING:
    from jobs.kinds.aggregate.spec import AggregateSpec

#: Shave ρ by this factor so that float rounding never lets the converted ε exceed its target.
_RHO_SAFETY = 1.0 - 1e-9


#: Where the conversions search the Rényi order α: t = ln(α - 1) in this range, on a grid of
#: this many points, then a golden-section refinement around the best grid point.
_T_RANGE = (-12.0, 40.0)
_T_GRID = 105
_GOLDEN_STEPS = 80
#: Relative slack on each converted ε: float rounding must never make a bound look smaller.
_ROUNDING_SLACK = 1e-12


def bun_steinke_epsilon(rho: float, delta: float) -> float:
    """ρ + 2√(ρ ln(1/δ)): the classical conversion (Bun & Steinke 2016, Prop. 1.3).

    >>> round(bun_steinke_epsilon(0.5, 1e-6), 3)
    5.757
    """
    if rho == 0:
        return 0.0
    if not 0 < delta < 1:
        return math.inf
    return rho + 2 * math.sqrt(rho * math.log(1 / delta))


def _cks_parts(t: float, log_term: float) -> tuple[float, float, float]:
    """At order α = 1 + e^t: (α, the part c of ε_α = αρ + c, |terms| for the rounding slack).

    CKS 2020, Cor. 13: ρ-zCDP gives (ε, δ)-DP with
    δ = exp((α-1)(αρ-ε)) / (α-1) · (1-1/α)^α for every α > 1; solved for ε,
    ε_α = αρ + (ln(1/δ) + α ln(1 - 1/α) - ln(α - 1)) / (α - 1).
    """
    a_minus_1 = math.exp(t)
    alpha = 1.0 + a_minus_1
    shrink = alpha * math.log1p(-1.0 / alpha)
    part = (log_term + shrink - t) / a_minus_1
    return alpha, part, (log_term + abs(shrink) + abs(t)) / a_minus_1


def _best(score: Callable[[float], float]) -> float:
    """The smallest ``score(t)`` found over t = ln(α - 1): a grid, then golden section.

    Every evaluated order gives a valid bound, so a search that misses the exact
    optimum only loses tightness, never validity.
    """
    low, high = _T_RANGE
    step = (high - low) / (_T_GRID - 1)
    grid = [low + i * step for i in range(_T_GRID)]
    values = [score(t) for t in grid]
    best = min(range(_T_GRID), key=values.__getitem__)
    a, b = grid[max(best - 1, 0)], grid[min(best + 1, _T_GRID - 1)]
    ratio = (math.sqrt(5) - 1) / 2
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = score(c), score(d)
    found = min(values[best], fc, fd)
    for _ in range(_GOLDEN_STEPS):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = score(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = score(d)
        found = min(found, fc, fd)
    return found


def cks_epsilon(rho: float, delta: float) -> float:
    """ε of the Canonne–Kamath–Steinke conversion of ρ-zCDP at ``delta`` (rounded up).

    The least ε_α found over orders α > 1 (:func:`_cks_parts`); each is a
    valid ε, and each carries a relative slack for float rounding.

    >>> cks_epsilon(0.5, 1e-6) < bun_steinke_epsilon(0.5, 1e-6)
    True
    """
    if rho == 0:
        return 0.0
    if not 0 < delta < 1:
        return math.inf
    log_term = math.log(1 / delta)

    def score(t: float) -> float:
        alpha, part, size = _cks_parts(t, log_term)
        return alpha * rho + part + (alpha * rho + size) * _ROUNDING_SLACK

    return max(_best(score), 0.0)


@functools.lru_cache(maxsize=4096)
def zcdp_to_dp(rho: float, delta: float) -> float:
    """ε such that ρ-zCDP implies (ε, δ)-DP: the tighter of two valid conversions.

    :func:`cks_epsilon` (Canonne, Kamath & Steinke 2020, Cor. 13) is smaller
    in every regime the engine uses; :func:`bun_steinke_epsilon` stays as a cap.

    >>> round(zcdp_to_dp(0.5, 1e-6), 3)
    5.222
    """
    return min(bun_steinke_epsilon(rho, delta), cks_epsilon(rho, delta))


def dp_to_zcdp(epsilon: float) -> float:
    """ρ = ε²/2: pure ε-DP implies ρ-zCDP (Bun & Steinke 2016, Prop. 1.4)."""
    return epsilon * epsilon / 2


@functools.lru_cache(maxsize=1024)
def rho_for(epsilon: float, delta: float) -> float:
    """The largest ρ whose (ε, δ) conversion (:func:`zcdp_to_dp`) stays within ``epsilon``.

    For each order α the CKS bound is linear in ρ, ε_α = αρ + c(α), so the
    largest ρ it admits is (ε - c(α)) / α; the best order found gives ρ, and
    ρ is shaved until :func:`zcdp_to_dp` confirms it. Bun & Steinke's closed
    form, √ρ = √(L + ε) - √L with L = ln(1/δ), is the floor.

    >>> zcdp_to_dp(rho_for(1.0, 1e-6), 1e-6) <= 1.0
    True
    """
    if epsilon <= 0 or not 0 < delta < 1:
        raise ValueError("epsilon must be > 0 and delta in (0, 1)")
    log_term = math.log(1 / delta)
    # √(L+ε) - √L = ε / (√(L+ε) + √L), without cancellation.
    root = epsilon / (math.sqrt(log_term + epsilon) + math.sqrt(log_term))
    classical = root * root

    def score(t: float) -> float:  # minus the ρ order α admits
        alpha, part, _ = _cks_parts(t, log_term)
        return -(epsilon - part) / alpha

    rho = max(classical, -_best(score)) * _RHO_SAFETY
    while zcdp_to_dp(rho, delta) > epsilon:
        rho *= _RHO_SAFETY
    return rho


@dataclass(frozen=True, slots=True)
class Charge:
    """What one job spends.

    Attributes:
        epsilon: Pure ε-DP part (Laplace / geometric noise).
        rho: zCDP part (Gaussian noise).
        delta: δ of the approximate parts (partition selection, (ε, δ) trainers).
        conversion_delta: δ the job's own (ε, δ) statement spends converting ``rho``.

    Raises:
        InvalidRequest: A part is negative, NaN or infinite.
    """

    epsilon: float = 0.0
    rho: float = 0.0
    delta: float = 0.0
    conversion_delta: float = 0.0

    def __post_init__(self) -> None:
        parts = (self.epsilon, self.rho, self.delta, self.conversion_delta)
        if not all(math.isfinite(p) and p >= 0 for p in parts):
            raise InvalidRequest("a privacy charge must be finite and non-negative")
        if self.rho > 0 and not 0 < self.conversion_delta < 1:
            raise InvalidRequest("a zCDP charge needs a conversion delta in (0, 1)")

    @property
    def standalone(self) -> tuple[float, float]:
        """The job's own (ε, δ)-DP statement."""
        eps = self.epsilon + zcdp_to_dp(self.rho, self.conversion_delta)
        return eps, self.delta + (self.conversion_delta if self.rho > 0 else 0.0)


def cost(spec: AggregateSpec) -> tuple[float, float]:
    """(ε, δ) the ledger charges for ``spec``: exactly what it declares.

    The engine spends at most this (:mod:`jobs.dp.plan` splits it), so the
    estimate and the run charge the same amount.
    """
    return spec.epsilon, spec.delta


@dataclass
class Accountant:
    """Composes the charges against one budget (a firm × dataset under one grant's totals).

    Args:
        budget: The grant's total (ε, δ).

    Example:
        >>> acc = Accountant(PrivacyBudget(1.0, 1e-6))
        >>> acc.charge(Charge(epsilon=0.5))
        >>> acc.can_charge(Charge(epsilon=0.6))
        False
    """

    budget: PrivacyBudget
    charges: list[Charge] = field(default_factory=list)

    def spent(self, extra: Charge | None = None) -> tuple[float, float]:
        """The tightest (ε, δ) statement for the charges (plus ``extra``) within the budget's δ.

        Returns:
            (ε, δ); ε is ``inf`` when no statement keeps δ within the budget.
        """
        charges = [*self.charges, *([extra] if extra else [])]
        statements = [self._basic(charges), *self._zcdp(charges)]
        fitting = [s for s in statements if delta_units(s[1]) <= delta_units(self.budget.delta)]
        return min(fitting, default=(math.inf, math.inf))

    @staticmethod
    def _basic(charges: list[Charge]) -> tuple[float, float]:
        standalone = [c.standalone for c in charges]
        return math.fsum(e for e, _ in standalone), math.fsum(d for _, d in standalone)

    def _zcdp(self, charges: list[Charge]) -> list[tuple[float, float]]:
        approx = math.fsum(c.delta for c in charges)
        left = self.budget.delta - approx
        rho = math.fsum(c.rho for c in charges)
        pure = [c.epsilon for c in charges]
        if rho == 0:
            return [(math.fsum(pure), approx)]
        if left <= 0:
            return []
        all_rho = rho + math.fsum(dp_to_zcdp(e) for e in pure)
        return [
            (math.fsum(pure) + zcdp_to_dp(rho, left), self.budget.delta),
            (zcdp_to_dp(all_rho, left), self.budget.delta),
        ]

    def check_can_charge(self, charge: Charge) -> None:
        """Raise unless ``charge`` fits in what the budget leaves.

        Raises:
            BudgetExhausted: No composition statement fits within the budget.
        """
        if charge == Charge():
            # Spends nothing (extracts, custom code): fits even when the firm spent past
            # this grant's totals under another grant (the ledger still records it).
            return
        eps, delta = self.spent(charge)
        if not math.isfinite(eps):
            raise BudgetExhausted(
                "this job's delta does not fit in what the grant has left; "
                "lower the job's delta or ask the data bureau for more budget"
            )
        total_e, total_d = self.budget.units
        if epsilon_units(eps) <= total_e and delta_units(min(delta, 0.999)) <= total_d:
            return
        spent_e, spent_d = self.spent() if self.charges else (0.0, 0.0)
        own_e, own_d = charge.standalone
        raise BudgetExhausted(
            f"this job costs epsilon={own_e:g}, delta={own_d:g}, but the grant has "
            f"epsilon={max(self.budget.epsilon - spent_e, 0.0):g}, "
            f"delta={max(self.budget.delta - spent_d, 0.0):g} left on this dataset (what your "
            "organisation spent on it under any of its grants counts); lower the job's "
            "epsilon or delta, or ask the data bureau for more budget"
        )

    def can_charge(self, charge: Charge) -> bool:
        """Whether ``charge`` fits; see :meth:`check_can_charge`."""
        try:
            self.check_can_charge(charge)
        except BudgetExhausted:
            return False
        return True

    def charge(self, charge: Charge) -> None:
        """Record ``charge`` if it fits.

        Raises:
            BudgetExhausted: It does not fit; nothing is recorded.
        """
        self.check_can_charge(charge)
        self.charges.append(charge)
