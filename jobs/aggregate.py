"""Evaluate an aggregate job: exact clamped aggregates, then vetted noise, then suppression.

The privacy unit is one row (add/remove-one-row neighbours). Counts get
two-sided geometric noise, the discrete Laplace (Ghosh et al. 2009); sums get
Mironov's snapping mechanism, which closes the floating-point attack on
the textbook Laplace mechanism (Mironov 2012). Both come from diffprivlib.
A mean is post-processing of a noisy sum and the group's noisy count.

References:
    Ghosh, Roughgarden, Sundararajan (2009). Universally utility-maximizing
    privacy mechanisms. STOC.
    Mironov (2012). On significance of the least significant bits for
    differential privacy. CCS.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from diffprivlib.mechanisms import Geometric, Snapping

from jobs.spec import AggregateSpec, Count, Filter, Mean, Sum

_COMPARE: dict[str, Callable[[pl.Expr, Any], pl.Expr]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
    "in": lambda column, values: column.is_in(values),
}
_COUNT = "__count"


@dataclass(frozen=True, slots=True)
class AggregateResult:
    """A noisy table and what it cost."""

    table: pl.DataFrame
    epsilon: float
    delta: float
    cells: int
    suppressed_cells: int


def _filter_expr(f: Filter) -> pl.Expr:
    return _COMPARE[f.op](pl.col(f.column), f.value)


def _sum_key(a: Sum | Mean) -> str:
    return f"__sum:{a.column}:{a.lower!r}:{a.upper!r}"


def exact_aggregates(frame: pl.LazyFrame, spec: AggregateSpec) -> pl.DataFrame:
    """Per group: the exact row count and each distinct clamped sum; no noise.

    This is the sensitive intermediate. It never leaves the Ray task.
    """
    if spec.filters:
        frame = frame.filter(pl.all_horizontal(_filter_expr(f) for f in spec.filters))
    sums: dict[str, pl.Expr] = {}
    for a in spec.aggregates:
        if isinstance(a, Sum | Mean):
            clamped = pl.col(a.column).cast(pl.Float64).clip(a.lower, a.upper).fill_null(0.0)
            sums[_sum_key(a)] = clamped.sum()
    aggs = [pl.len().alias(_COUNT), *(expr.alias(key) for key, expr in sums.items())]
    if spec.group_by:
        return frame.group_by(spec.group_by).agg(aggs).sort(spec.group_by).collect()
    return frame.select(aggs).collect()


def _random_state(seed: int | None) -> np.random.RandomState | None:
    # None: diffprivlib draws from secrets.SystemRandom (OS randomness).
    return None if seed is None else np.random.RandomState(seed)


def evaluate(
    frame: pl.LazyFrame | pl.DataFrame,
    spec: AggregateSpec,
    *,
    min_cell: int,
    max_rows: int,
    seed: int | None = None,
) -> AggregateResult:
    """Run an aggregate spec on a table and return the noisy, suppressed result.

    Args:
        frame: The dataset (lazy is faster: the group-by runs in the streaming engine).
        spec: The validated job spec; carries ε.
        min_cell: Cells whose noisy count is below this are suppressed.
        max_rows: Public bound on the dataset's size (its catalogued row count);
            bounds a sum for the snapping mechanism.
        seed: For tests only; ``None`` uses OS randomness.

    Returns:
        The result table (group keys, then one column per aggregate) and its cost.
    """
    exact = exact_aggregates(frame.lazy(), spec)
    sum_keys = [c for c in exact.columns if c.startswith("__sum:")]
    share = spec.epsilon / (1 + len(sum_keys))
    rng = _random_state(seed)

    count_mech = Geometric(epsilon=share, sensitivity=1, random_state=rng)
    noisy: dict[str, np.ndarray] = {
        _COUNT: np.array([count_mech.randomise(int(v)) for v in exact[_COUNT]], dtype=np.int64)
    }
    bounds = {_sum_key(a): a for a in spec.aggregates if isinstance(a, Sum | Mean)}
    for key in sum_keys:
        a = bounds[key]
        span = max(abs(a.lower), abs(a.upper))
        mech = Snapping(
            epsilon=share,
            sensitivity=span,
            lower=max_rows * min(a.lower, 0.0) - span,
            upper=max_rows * max(a.upper, 0.0) + span,
            random_state=rng,
        )
        noisy[key] = np.array([mech.randomise(float(v)) for v in exact[key]], dtype=np.float64)

    counts = noisy[_COUNT]
    columns: dict[str, pl.Series] = {c: exact[c] for c in spec.group_by}
    for agg in spec.aggregates:
        if isinstance(agg, Count):
            columns[agg.name] = pl.Series(agg.name, np.maximum(counts, 0))
            continue
        if isinstance(agg, Sum):
            columns[agg.output_name] = pl.Series(agg.output_name, noisy[_sum_key(agg)])
        else:
            mean = np.clip(noisy[_sum_key(agg)] / np.maximum(counts, 1), agg.lower, agg.upper)
            columns[agg.output_name] = pl.Series(agg.output_name, mean)
    keep = counts >= min_cell
    table = pl.DataFrame(columns).filter(pl.Series(keep))
    return AggregateResult(
        table=table,
        epsilon=spec.epsilon,
        delta=spec.delta,
        cells=len(exact),
        suppressed_cells=int((~keep).sum()),
    )
