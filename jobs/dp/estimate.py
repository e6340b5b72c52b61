"""What a query will cost and how accurate it will be, before it runs; no data access.

Counts, sums and histogram bins: the figures are exact properties of the
noise law (expected absolute error E|Z| and the 95 % half-width). Means,
variances and quantiles depend on the group, so they are given for a group
of ``group_size`` people and, where the value matters, for the worst case
within the bounds; they use the same approximations as the released
intervals (:mod:`jobs.dp.error_bars`, :mod:`jobs.dp.quantiles`) and assume
values spread evenly over [lower, upper] for quantiles. No figure exceeds
the width of the declared range.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from jobs.dp import error_bars
from jobs.dp.plan import TREE_DEPTH, Plan, Use
from jobs.kinds.aggregate.spec import (
    Count,
    CountDistinct,
    Histogram,
    Mean,
    Median,
    Quantile,
    Sum,
    Variance,
)

#: Group size the figures for means, variances and quantiles assume by default.
DEFAULT_GROUP_SIZE = 100
_ABS_PER_SD = math.sqrt(2 / math.pi)


@dataclass(frozen=True, slots=True)
class AggregateEstimate:
    """Accuracy of one aggregate at the job's budget.

    Attributes:
        name: Output column.
        op: The aggregation.
        expected_abs_error: Expected |released - true| (per bin for a histogram).
        ci_half_width: Half-width of the 95 % interval.
        group_size: Group size the figures assume; ``None`` when they hold for any group.
    """

    name: str
    op: str
    expected_abs_error: float
    ci_half_width: float
    group_size: int | None


@dataclass(frozen=True, slots=True)
class Estimate:
    """Cost and accuracy of a spec on a dataset.

    Attributes:
        epsilon: ε the ledger will charge.
        delta: δ the ledger will charge.
        rho: zCDP ρ under Gaussian noise, else ``None``.
        noise: ``laplace`` or ``gaussian``.
        threshold: Smallest noisy count of people a discovered group needs to
            appear (partition selection), ``None`` with public keys.
        min_cell: Cells with a noisy count of people below this are suppressed.
        aggregates: Per aggregate, in spec order.
    """

    epsilon: float
    delta: float
    rho: float | None
    noise: str
    threshold: int | None
    min_cell: int
    aggregates: tuple[AggregateEstimate, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def estimate_plan(plan: Plan, group_size: int = DEFAULT_GROUP_SIZE) -> Estimate:
    """Cost and per-aggregate accuracy of ``plan``."""
    n = max(1, group_size)
    return Estimate(
        epsilon=plan.spec.epsilon,
        delta=plan.spec.delta,
        rho=plan.rho,
        noise=plan.spec.noise,
        threshold=plan.threshold,
        min_cell=plan.context.min_cell,
        aggregates=tuple(_one(use, plan, n) for use in plan.uses),
    )


def _one(use: Use, plan: Plan, n: int) -> AggregateEstimate:
    a = use.aggregate
    m = plan.measurements[use.value]
    law = m.law

    def result(
        abs_error: float, half: float, size: int | None, cap: float = math.inf
    ) -> AggregateEstimate:
        return AggregateEstimate(a.output_name, a.op, min(abs_error, cap), min(half, cap), size)

    if isinstance(a, Count | CountDistinct | Histogram):
        return result(error_bars.mean_absolute(law), error_bars.half_width(law), None)
    if isinstance(a, Sum):
        return result(
            error_bars.mean_absolute(law) * m.grid, error_bars.half_width(law) * m.grid, None
        )
    width = a.upper - a.lower
    if isinstance(a, Quantile | Median):
        rank_sd = math.sqrt(error_bars.variance(law) * (TREE_DEPTH + 2 * a.q * a.q))
        leaf = width / 2**TREE_DEPTH
        sd = width * rank_sd / n
        return result(_ABS_PER_SD * sd + leaf / 4, error_bars.Z95 * sd + leaf, n, width)
    assert use.denominator is not None
    var_n = error_bars.variance(plan.measurements[use.denominator].law)
    var_value = error_bars.variance(law) * m.grid**2
    if isinstance(a, Mean):
        centre = max(abs(a.lower), abs(a.upper)) if m.request.kind == "sum" else width / 2
        sd = math.sqrt(var_value + centre * centre * var_n) / n
        return result(_ABS_PER_SD * sd, error_bars.Z95 * sd, n, width)
    assert isinstance(a, Variance) and use.squares is not None
    s = plan.measurements[use.squares]
    half_sq = (width / 2) ** 2
    sd = math.sqrt(error_bars.variance(s.law) * s.grid**2 + half_sq * half_sq * var_n) / n
    return result(_ABS_PER_SD * sd, error_bars.Z95 * sd, n, half_sq)
