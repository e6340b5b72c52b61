"""What a query will cost and how accurate it will be, before it runs; no data access.

Counts, sums and histogram bins: the figures are exact properties of the
noise law (expected absolute error E|Z| and the 95 % half-width). Means,
variances and quantiles depend on how many rows a group holds; the figures
are given for a :class:`GroupSize` taken, in this order, from the operator's
``expected_group_size``, the steward's group-size band for the query's keys
(:func:`policies.catalog.band_for`), the table's public row count when the
query is not grouped, or :data:`DEFAULT_GROUP_SIZE`. A band gives the figures
at its low end (the worst case) and, in ``ci_half_width_range``, at both ends.

Means and variances use the same delta-method approximations as the released
intervals (:mod:`jobs.dp.error_bars`), at the worst value within the bounds.
Quantiles follow the tree's own error model (:mod:`jobs.kinds.aggregate.quantiles`):
the released interval walks the ranks ``q·n ± S`` down the tree, with
``S = 1.96·sqrt((D + 2q²)·Var(node noise))`` for the depth D and the per-node
noise the plan calibrated, then adds one leaf on each side. ``S`` in rows is
exact (``rank_half_width``); turning it into values needs the data's
spread, which no estimate may read: the figure assumes values spread over
[lower, upper] like a symmetric triangle (most in the middle, fewer toward
the bounds an operator chose to cover nearly all of them). Data much more
concentrated than that get narrower intervals; data piled at one bound, wider.

Small cells: the estimate warns when, at the group size, a count of people,
a row count or a histogram bin (bins assumed evenly filled) falls below the
minimum cell size with a chance above :data:`WARN_PROBABILITY`, so the
operator can widen groups or bins before spending budget.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

from jobs.dp import error_bars
from jobs.facts import DatasetFacts
from jobs.kinds.aggregate.plan import TREE_DEPTH, Plan, Use
from jobs.kinds.aggregate.spec import (
    AggregateSpec,
    Count,
    CountDistinct,
    Histogram,
    Mean,
    Median,
    Quantile,
    Sum,
    Variance,
)
from policies.catalog import band_for

#: Group size the figures for means, variances and quantiles assume when nothing is known.
DEFAULT_GROUP_SIZE = 100
#: The estimate warns when a cell falls below the minimum cell size with a chance above this.
WARN_PROBABILITY = 0.05
_ABS_PER_SD = math.sqrt(2 / math.pi)

Source = Literal["argument", "catalog", "table", "default"]


@dataclass(frozen=True, slots=True)
class GroupSize:
    """How many rows a group is expected to hold, and who said so.

    Attributes:
        low: The smaller size (figures are given here: the worst case).
        high: The larger size (equal to ``low`` unless a band was declared).
        source: ``argument`` (the operator's ``expected_group_size``), ``catalog``
            (the steward's band), ``table`` (an ungrouped query: the public row
            count) or ``default`` (:data:`DEFAULT_GROUP_SIZE`).
    """

    low: int
    high: int
    source: Source

    def __post_init__(self) -> None:
        if not 1 <= self.low <= self.high:
            raise ValueError("a group size needs 1 <= low <= high")


def group_size_for(
    spec: AggregateSpec, dataset: DatasetFacts, expected: int | None = None
) -> GroupSize:
    """The group size a spec's estimate assumes; see the module docstring for the order.

    >>> from jobs.kinds import parse_job_spec
    >>> from policies.catalog import Grade, GroupSizeBand
    >>> spec = parse_job_spec({"kind": "aggregate", "dataset": "d", "epsilon": 1.0,
    ...                        "group_by": ["city"], "aggregates": [{"op": "count"}]})
    >>> facts = DatasetFacts("d", "", Grade.GENERAL, 0, 5000,
    ...                      group_size_bands={"city": GroupSizeBand(200, 2000)})
    >>> group_size_for(spec, facts)
    GroupSize(low=200, high=2000, source='catalog')
    >>> group_size_for(spec, facts, 300)
    GroupSize(low=300, high=300, source='argument')
    """
    if expected is not None:
        return GroupSize(max(1, expected), max(1, expected), "argument")
    if not spec.group_by:
        rows = max(1, dataset.public_row_count)
        return GroupSize(rows, rows, "table")
    domains = {c: len(v) for c, v in dataset.public_keys.items()}
    band = band_for(dataset.group_size_bands, spec.group_by, domains)
    if band is not None:
        return GroupSize(band.low, band.high, "catalog")
    return GroupSize(DEFAULT_GROUP_SIZE, DEFAULT_GROUP_SIZE, "default")


@dataclass(frozen=True, slots=True)
class AggregateEstimate:
    """Accuracy of one aggregate at the job's budget.

    Attributes:
        name: Output column.
        op: The aggregation.
        expected_abs_error: Expected |released - true| (per bin for a histogram).
        ci_half_width: Half-width of the 95 % interval (at the low group size).
        group_size: Group size the figures assume; ``None`` when they hold for any group.
        ci_half_width_range: (at the high group size, at the low one) when they differ.
        rank_half_width: Quantiles: the interval's half-width in rows (exact).
    """

    name: str
    op: str
    expected_abs_error: float
    ci_half_width: float
    group_size: int | None
    ci_half_width_range: tuple[float, float] | None = None
    rank_half_width: float | None = None


@dataclass(frozen=True, slots=True)
class SmallCellWarning:
    """Cells likely to be suppressed, said before the budget is spent.

    Attributes:
        aggregate: The output column concerned; ``None``: whole groups.
        probability: Chance that one such cell is released below the threshold.
        message: Chinese first, English second; public figures only.
    """

    aggregate: str | None
    probability: float
    message: str


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
        min_cell: Counts (and bins) released below this are suppressed, cell by cell.
        aggregates: Per aggregate, in spec order.
        group_size: What the figures assume.
        warnings: Cells likely to fall under ``min_cell`` (or groups under ``threshold``).
    """

    epsilon: float
    delta: float
    rho: float | None
    noise: str
    threshold: int | None
    min_cell: int
    aggregates: tuple[AggregateEstimate, ...]
    group_size: GroupSize | None = None
    warnings: tuple[SmallCellWarning, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def estimate_plan(plan: Plan, group_size: int | GroupSize | None = None) -> Estimate:
    """Cost, per-aggregate accuracy and small-cell warnings of ``plan``.

    ``group_size``: rows per group (``None``: :data:`DEFAULT_GROUP_SIZE`).
    """
    if group_size is None:
        size = GroupSize(DEFAULT_GROUP_SIZE, DEFAULT_GROUP_SIZE, "default")
    elif isinstance(group_size, int):
        size = GroupSize(max(1, group_size), max(1, group_size), "argument")
    else:
        size = group_size
    aggregates = []
    for use in plan.uses:
        worst = _one(use, plan, size.low)
        if size.high > size.low and worst.group_size is not None:
            best = _one(use, plan, size.high)
            worst = _with_range(worst, (best.ci_half_width, worst.ci_half_width))
        aggregates.append(worst)
    return Estimate(
        epsilon=plan.spec.epsilon,
        delta=plan.spec.delta,
        rho=plan.rho,
        noise=plan.spec.noise,
        threshold=plan.threshold,
        min_cell=plan.context.min_cell,
        aggregates=tuple(aggregates),
        group_size=size,
        warnings=tuple(small_cell_warnings(plan, size.low)),
    )


def _with_range(a: AggregateEstimate, span: tuple[float, float]) -> AggregateEstimate:
    return AggregateEstimate(
        a.name, a.op, a.expected_abs_error, a.ci_half_width, a.group_size, span, a.rank_half_width
    )


def small_cell_warnings(plan: Plan, n: int) -> list[SmallCellWarning]:
    """Cells a group of ``n`` rows (one person each) likely loses to suppression or selection.

    >>> from jobs.kinds import parse_job_spec
    >>> from jobs.kinds.aggregate.plan import DatasetContext, make_plan
    >>> spec = parse_job_spec({"kind": "aggregate", "dataset": "d", "epsilon": 1.0,
    ...     "aggregates": [{"op": "histogram", "column": "x", "bins": [0, 1, 2, 3, 4]}]})
    >>> plan = make_plan(spec, DatasetContext(min_cell=10))
    >>> [w.aggregate for w in small_cell_warnings(plan, 1000)]
    []
    >>> [w.aggregate for w in small_cell_warnings(plan, 50)]
    ['histogram_x']
    """
    warnings: list[SmallCellWarning] = []
    units = plan.measurements[plan.units].law
    if plan.threshold is not None:
        p = error_bars.below(units, n, plan.threshold)
        if p > WARN_PROBABILITY:
            warnings.append(
                SmallCellWarning(
                    None,
                    p,
                    f"每组约 {n:,} 人时，约 {p:.0%} 的组达不到公开分组门槛 {plan.threshold}，"
                    f"不会出现在结果中。 With groups of about {n:,} people, {p:.0%} of groups "
                    f"fall below the partition-selection threshold {plan.threshold} and are "
                    "left out.",
                )
            )
    cut = plan.context.min_cell
    if cut <= 0:
        return warnings
    p = error_bars.below(units, n, cut)
    if p > WARN_PROBABILITY:
        warnings.append(
            SmallCellWarning(
                None,
                p,
                f"每组约 {n:,} 人时，约 {p:.0%} 的组人数低于最小单元格 {cut}，整行将被隐藏。"
                f" With groups of about {n:,} people, {p:.0%} of groups count fewer than the "
                f"minimum cell size {cut} and are suppressed whole.",
            )
        )
    for use in plan.uses:
        a = use.aggregate
        law = plan.measurements[use.value].law
        if isinstance(a, Count):
            expected, what_zh, what_en = float(n), "计数", "the count"
        elif isinstance(a, Histogram):
            bins = len(a.bins) - 1
            expected = n / bins
            what_zh, what_en = (
                f"每个区间（均匀分布时约 {expected:,.0f} 行）",
                (f"a bin (about {expected:,.0f} rows if values spread evenly over {bins} bins)"),
            )
        else:
            continue
        p = error_bars.below(law, expected, cut)
        if p > WARN_PROBABILITY:
            warnings.append(
                SmallCellWarning(
                    a.output_name,
                    p,
                    f"{a.output_name}：{what_zh}有约 {p:.0%} 的可能低于最小单元格 {cut} 而被隐藏；"
                    f"可合并分组或区间。 {a.output_name}: {what_en} falls below the minimum "
                    f"cell size {cut} and is suppressed with a chance of about {p:.0%}; use "
                    "coarser groups or bins.",
                )
            )
    return warnings


def _triangle_quantile(p: float) -> float:
    """The p-quantile of a symmetric triangular law on [0, 1]."""
    p = min(max(p, 0.0), 1.0)
    return math.sqrt(p / 2) if p <= 0.5 else 1.0 - math.sqrt((1.0 - p) / 2)


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
        # the release's rank spread, in rows (jobs.kinds.aggregate.quantiles.tree_quantiles)
        rank = error_bars.Z95 * math.sqrt(error_bars.variance(law) * (TREE_DEPTH + 2 * a.q * a.q))
        leaf = width / 2**TREE_DEPTH
        share = rank / n
        low = max(0.0, _triangle_quantile(a.q - share) * width - leaf)
        high = min(width, _triangle_quantile(a.q + share) * width + leaf)
        half = (high - low) / 2
        spread = max(half - leaf, 0.0)
        return AggregateEstimate(
            a.output_name,
            a.op,
            min(_ABS_PER_SD * spread / error_bars.Z95 + leaf / 4, width / 2),
            half,
            n,
            rank_half_width=rank,
        )
    assert use.denominator is not None
    var_n = error_bars.variance(plan.measurements[use.denominator].law)
    var_value = error_bars.variance(law) * m.grid**2
    if isinstance(a, Mean):
        centre = max(abs(a.lower), abs(a.upper)) if m.request.kind == "sum" else width / 2
        sd = math.sqrt(var_value + centre * centre * var_n) / n
        # the released interval is clipped to [lower, upper]: never wider than half of it
        return result(_ABS_PER_SD * sd, error_bars.Z95 * sd, n, width / 2)
    assert isinstance(a, Variance) and use.squares is not None
    s = plan.measurements[use.squares]
    half_sq = (width / 2) ** 2
    sd = math.sqrt(error_bars.variance(s.law) * s.grid**2 + half_sq * half_sq * var_n) / n
    return result(_ABS_PER_SD * sd, error_bars.Z95 * sd, n, half_sq / 2)  # clipped to [0, h²]
