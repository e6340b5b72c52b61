"""Noise once, select partitions, suppress small cells, derive the answers with intervals.

Everything here is post-processing of the noisy integer measurements
except the noise itself, which is added once per measurement to all cells
in one vectorized draw.

Cells. Without group-by there is one cell. With public keys the cells are
the product of the declared domains, all of them, in the catalog's order,
whether or not the data has rows there. With discovered keys the cells are
the groups present in the data, and only those whose noisy count of people
clears the partition-selection threshold are kept (:mod:`jobs.dp.partition`).

Small cells, one at a time. A released count below ``min_cell`` (the
grant's minimum cell size) is suppressed on its own: a row count, or one
histogram bin, is shown as null with its interval, and the rest of the row
stays. A group whose noisy count of people is below ``min_cell`` is small as a
whole: every value of its row is suppressed. A public-key or ungrouped row
stays in the table with null values (its key is public, and hiding the row
would make the table's shape depend on the data); a discovered group that
small is dropped. The :data:`SUPPRESSED` column says, per row, which cells
were suppressed and why, e.g. ``count<10: histogram_age[60, 70)`` or
``people<10: all``: the reason is the public threshold, never a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from jobs.dp import error_bars
from jobs.dp.error_bars import FloatArray
from jobs.dp.mechanisms import IntArray
from jobs.errors import JobFailed
from jobs.kinds.aggregate.plan import Plan, Use
from jobs.kinds.aggregate.quantiles import tree_nodes, tree_quantiles
from jobs.kinds.aggregate.spec import (
    COUNTS,
    SUPPRESSED,
    Count,
    CountDistinct,
    Histogram,
    Mean,
    Median,
    Quantile,
    Sum,
    Variance,
)


@dataclass(frozen=True, slots=True)
class AggregateResult:
    """A noisy table and what it cost.

    Attributes:
        table: Group keys, then for each aggregate its value and the bounds of
            its 95 % interval (``<name>_ci_low``, ``<name>_ci_high``), then
            :data:`SUPPRESSED` (null where nothing in the row was suppressed).
        epsilon: ε charged (as the spec declared).
        delta: δ charged (as the spec declared).
        rho: zCDP ρ of the Gaussian measurements, ``None`` under Laplace noise.
        cells: Groups (rows) released or dropped, suppressed ones included.
        suppressed_cells: Groups with at least one suppressed value.
        threshold: Partition-selection threshold τ, when keys were discovered.
        noise: ``laplace`` or ``gaussian``.
    """

    table: pl.DataFrame
    epsilon: float
    delta: float
    rho: float | None
    cells: int
    suppressed_cells: int
    threshold: int | None = None
    noise: str = "laplace"


def cells(exact: pl.DataFrame, plan: Plan) -> pl.DataFrame:
    """The cells to release with their exact measurements (over the public domain if any)."""
    keys = list(plan.spec.group_by)
    names = [c for m in plan.measurements for c in m.columns]
    if plan.key_mode == "none":
        if exact.height == 0:
            return pl.DataFrame({c: [0] for c in names}, schema=dict.fromkeys(names, pl.Int64))
        return exact.select(names)
    if plan.key_mode == "discovered":
        # Keys outside a public column's declared domain never appear.
        declared = [pl.col(c).is_in(list(plan.context.public_keys[c])) for c in plan.public_columns]
        return (
            exact.filter(*declared).select(*keys, *names)
            if declared
            else exact.select(*keys, *names)
        )
    domain: pl.DataFrame | None = None
    for column in keys:
        values = list(plan.context.public_keys[column])
        try:
            frame = pl.DataFrame({column: pl.Series(values).cast(exact.schema[column])})
        except pl.exceptions.PolarsError:
            raise JobFailed(
                f"the catalog's declared keys for '{column}' do not match the column's type; "
                "the data bureau must correct the catalog"
            ) from None
        domain = frame if domain is None else domain.join(frame, how="cross")
    assert domain is not None
    joined = domain.join(exact, on=keys, how="left", nulls_equal=True, maintain_order="left")
    return joined.with_columns(pl.col(names).fill_null(0).cast(pl.Int64))


def add_noise(table: pl.DataFrame, plan: Plan, rng: np.random.Generator) -> list[IntArray]:
    """One noisy (cells × nodes) integer matrix per measurement, in plan order."""
    noisy: list[IntArray] = []
    n = table.height
    for m in plan.measurements:
        values = table.select(m.columns).to_numpy().astype(np.int64, copy=False).reshape(n, -1)
        if m.request.kind == "tree":
            values = tree_nodes(values)
        noise = m.law.sample(rng, n * m.nodes).reshape(n, m.nodes)
        noisy.append(values + noise)
    return noisy


def release(exact: pl.DataFrame, plan: Plan, rng: np.random.Generator) -> AggregateResult:
    """Add noise to ``exact`` once, select, suppress and derive the answers."""
    _check_size(exact, plan)
    table = cells(exact, plan)
    noisy = add_noise(table, plan, rng)
    units = noisy[plan.units][:, 0]
    if plan.threshold is not None:
        keep = units >= plan.threshold
        table = table.filter(pl.Series(keep))
        noisy = [values[keep] for values in noisy]
        units = units[keep]
    columns: dict[str, pl.Series] = {c: table[c] for c in plan.spec.group_by}
    for use in plan.uses:
        columns.update(_derive(use, plan, noisy))
    out, reasons, small_group = suppress(pl.DataFrame(columns), units, plan)
    touched = np.asarray([bool(r) for r in reasons], dtype=bool)
    out = out.with_columns(pl.Series(SUPPRESSED, reasons, dtype=pl.String))
    if plan.key_mode == "discovered":
        out = out.filter(pl.Series(~small_group))
    return AggregateResult(
        table=out,
        epsilon=plan.spec.epsilon,
        delta=plan.spec.delta,
        rho=plan.rho,
        cells=len(units),
        suppressed_cells=int(touched.sum()),
        threshold=plan.threshold,
        noise=plan.spec.noise,
    )


def suppress(
    out: pl.DataFrame, units: IntArray, plan: Plan
) -> tuple[pl.DataFrame, list[str | None], npt.NDArray[np.bool_]]:
    """Null the values below ``min_cell``, one cell at a time; say which and why per row.

    A histogram's small bins take complementary bins with them (:func:`_complements`),
    so no hidden bin is the row's count minus the bins shown. Post-processing of released
    noisy counts only (a row count, a histogram bin, the count of people), so it costs no
    privacy.

    Returns:
        The table with suppressed values (and their intervals) null, the
        reasons per row (``None``: nothing suppressed) and which groups are
        small as a whole (their count of people is below ``min_cell``).
    """
    threshold = plan.context.min_cell
    n = out.height
    small_group = np.asarray(units < threshold, dtype=bool) if threshold > 0 else np.zeros(n, bool)
    reasons: list[list[str]] = [[] for _ in range(n)]
    if threshold <= 0:
        return out, [None] * n, small_group
    updates: list[pl.Series] = []
    for a in plan.spec.aggregates:
        if not isinstance(a, COUNTS):
            continue
        name = a.output_name
        trio = (name, f"{name}_ci_low", f"{name}_ci_high")
        if isinstance(a, Histogram):
            bins = len(a.bins) - 1  # from the spec: a table without groups has no rows to count
            values = np.asarray(out[name].to_numpy(), dtype=np.int64).reshape(n, bins)
            small = (values < threshold) & ~small_group[:, None]
            labels = [f"{name}[{lo:g}, {hi:g})" for lo, hi in zip(a.bins, a.bins[1:], strict=False)]
            for row, col in zip(*np.nonzero(small), strict=True):
                reasons[row].append(labels[col])
            for row, col in _complements(values, small, threshold):
                small[row, col] = True
                reasons[row].append(f"{labels[col]} (complement)")
            flat = pl.Series(small.reshape(-1))
            for column in trio:
                flat_values = out[column].reshape((-1,))
                hidden = pl.select(pl.when(flat).then(None).otherwise(flat_values)).to_series()
                updates.append(hidden.reshape((n, bins)).alias(column))
            continue
        small = (out[name] < threshold).fill_null(False).to_numpy() & ~small_group
        for row in np.nonzero(small)[0]:
            reasons[row].append(name)
        mask = pl.Series(small)
        updates += [
            pl.select(pl.when(mask).then(None).otherwise(out[c])).to_series().alias(c) for c in trio
        ]
    out = out.with_columns(updates)
    outputs = [c for c in out.columns if c not in plan.spec.group_by]
    whole = pl.Series(small_group)
    out = out.with_columns(pl.when(whole).then(None).otherwise(pl.col(c)).alias(c) for c in outputs)
    shown: list[str | None] = []
    for row, names in enumerate(reasons):
        if small_group[row]:
            shown.append(f"people<{threshold}: all")
        else:
            shown.append(f"count<{threshold}: {', '.join(names)}" if names else None)
    return out, shown, small_group


def _complements(
    values: npt.NDArray[np.int64], small: npt.NDArray[np.bool_], threshold: int
) -> list[tuple[int, int]]:
    """Bins to hide beside the small ones, so that no hidden bin can be worked out.

    A row's bins add up to its released count: one hidden bin is the count minus the
    others, and two small hidden bins give away their small sum. So in every row with a
    small bin, the smallest visible bins are hidden too until at least two are hidden
    and the hidden ones hold at least ``threshold`` together (complementary suppression).

    >>> _complements(np.array([[40, 3, 40, 50]]), np.array([[False, True, False, False]]), 10)
    [(0, 0)]
    >>> _complements(np.array([[40, 3, 4, 50]]), np.array([[False, True, True, False]]), 10)
    [(0, 0)]
    >>> _complements(np.array([[40, 13, 12]]), np.array([[False, False, False]]), 10)
    []
    """
    extra: list[tuple[int, int]] = []
    for row in np.nonzero(small.any(axis=1))[0]:
        hidden = small[row].copy()
        order = np.argsort(values[row], kind="stable")  # smallest first
        for col in order:
            if hidden.sum() >= 2 and values[row][hidden].sum() >= threshold:
                break
            if not hidden[col]:
                hidden[col] = True
                extra.append((int(row), int(col)))
    return extra


def _check_size(exact: pl.DataFrame, plan: Plan) -> None:
    # The integer grids leave room for max_rows rows in a cell; more could overflow a sum.
    units = plan.measurements[plan.units].columns[0]
    largest = exact.select(pl.col(units).max()).item() if exact.height else 0
    if int(largest or 0) > plan.context.max_rows:
        raise JobFailed(
            "the dataset holds more rows than its catalogue entry says; "
            "the data bureau must refresh the entry before jobs can run"
        )


def _columns(
    name: str, value: npt.NDArray[Any], low: npt.NDArray[Any], high: npt.NDArray[Any]
) -> dict[str, pl.Series]:
    return {
        name: pl.Series(name, value),
        f"{name}_ci_low": pl.Series(f"{name}_ci_low", low),
        f"{name}_ci_high": pl.Series(f"{name}_ci_high", high),
    }


def _interval(
    name: str, value: FloatArray, half: FloatArray | float, low: float, high: float
) -> dict[str, pl.Series]:
    v = np.clip(value, low, high).astype(np.float64)
    return _columns(name, v, np.clip(v - half, low, high), np.clip(v + half, low, high))


def _real(values: IntArray, grid: float) -> FloatArray:
    """A one-integer measurement in value units."""
    return values[:, 0].astype(np.float64) * grid


def _derive(use: Use, plan: Plan, noisy: list[IntArray]) -> dict[str, pl.Series]:
    a = use.aggregate
    name = a.output_name
    m = plan.measurements[use.value]
    values = noisy[use.value]
    if isinstance(a, Count | CountDistinct | Histogram):
        hw = error_bars.half_width(m.law)
        shown = np.maximum(values, 0)
        low, high = np.maximum(values - hw, 0), np.maximum(values + hw, 0)
        if isinstance(a, Histogram):
            return _columns(name, shown, low, high)
        return _columns(name, shown[:, 0], low[:, 0], high[:, 0])
    if isinstance(a, Sum):
        total = _real(values, m.grid)
        return _interval(name, total, error_bars.half_width(m.law) * m.grid, -np.inf, np.inf)
    if isinstance(a, Quantile | Median):
        return _columns(name, *tree_quantiles(values, a.q, a.lower, a.upper, m.law))
    assert use.denominator is not None
    d = plan.measurements[use.denominator]
    count = noisy[use.denominator][:, 0].astype(np.float64)
    n = np.maximum(count, 1.0)
    var_n = error_bars.variance(d.law)
    numerator = _real(values, m.grid)
    var_num = error_bars.variance(m.law) * m.grid**2
    if isinstance(a, Mean):
        base = 0.0 if m.request.kind == "sum" else m.offset
        half = error_bars.ratio_half_width(numerator, var_num, count, var_n)
        return _interval(name, base + numerator / n, half, a.lower, a.upper)
    assert isinstance(a, Variance) and use.squares is not None
    s = plan.measurements[use.squares]
    squares = _real(noisy[use.squares], s.grid)
    spread = (a.upper - a.lower) / 2
    value = squares / n + spread * spread / 2 - (numerator / n) ** 2
    half = error_bars.variance_half_width(
        squares, error_bars.variance(s.law) * s.grid**2, numerator, var_num, count, var_n
    )
    return _interval(name, value, half, 0.0, spread * spread)
