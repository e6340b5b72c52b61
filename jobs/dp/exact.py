"""Exact, clamped, contribution-bounded integer measurements per group; no noise.

This is the sensitive intermediate: it never leaves the worker that
computes it. Every column is an Int64 sum over rows, so partial tables of
partitions that split people (all of a person's rows in one partition) merge
by adding them up, exactly, in any order (:func:`combine`).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from jobs.dp.bounding import bound_contributions, salt
from jobs.dp.plan import TREE_DEPTH, Measurement, Plan
from jobs.kinds.aggregate.spec import AggregateSpec

_BIN = "__bin"
_LEN = "__len"
_ONE = "__one"
PREFIX = "__m"


def _value(column: str) -> pl.Expr:
    """A measured column as Float64 with NaN read as null."""
    return pl.col(column).cast(pl.Float64).fill_nan(None)


def _scalar(m: Measurement, unit: str | None) -> pl.Expr:
    """The per-group aggregate of a one-integer measurement (a float sum for the real kinds).

    Real values are rounded to the grid row by row (γ is a power of two, so
    the scaling is exact) and summed as doubles: every addend and partial sum
    is an integer below 2^53 (the plan sizes γ for it), so the double sum is
    exact in any order, and cheaper than converting each row to Int64.
    """
    r = m.request
    kind = r.kind
    if kind == "units":
        return (pl.col(unit).n_unique() if unit is not None else pl.len()).alias(m.columns[0])
    if kind == "rows":
        return pl.len().alias(m.columns[0])
    if kind == "nonnull":
        return _value(str(r.column)).is_not_null().sum().alias(m.columns[0])
    x = _value(str(r.column))
    clamped = x.clip(r.lower, r.upper)
    if kind != "sum":
        clamped = clamped - (r.lower + (r.upper - r.lower) / 2)
        if kind == "csq":
            clamped = clamped * clamped - m.offset
    gridded = (clamped * (1.0 / m.grid) + 0.5).floor()  # round half up
    if kind != "sum":  # the float subtraction may round a hair past the bound
        gridded = gridded.clip(-m.bound, m.bound)
    return gridded.sum().alias(m.columns[0])  # nulls are skipped: they add 0


def _bin(m: Measurement) -> pl.Expr:
    r = m.request
    x = _value(str(r.column))
    if r.kind == "hist":
        interior = pl.Series(r.edges[1:-1], dtype=pl.Float64)
        position: pl.Expr = pl.lit(interior).search_sorted(x, side="right")
        return position.cast(pl.Int64)
    leaves = 1 << TREE_DEPTH
    scaled = (x.clip(r.lower, r.upper) - r.lower) * (leaves / (r.upper - r.lower))
    return scaled.floor().cast(pl.Int64, strict=False).clip(0, leaves - 1)


def prepare(frame: pl.LazyFrame, plan: Plan) -> pl.LazyFrame:
    """Filters, public-key domains and contribution bounding, lazily."""
    spec, context = plan.spec, plan.context
    if spec.filters:
        frame = frame.filter(pl.all_horizontal(f.expr() for f in spec.filters))
    if context.privacy_unit is not None:
        # Bound people within the declared domains, so that no one's quota goes to rows
        # outside them. Without a privacy unit there is no quota: the release keeps only
        # declared keys (cheaper than filtering every row).
        for column in plan.public_columns:
            frame = frame.filter(pl.col(column).is_in(list(context.public_keys[column])))
    columns = [str(m.request.column) for m in plan.measurements if m.request.column]
    return bound_contributions(
        frame,
        context.privacy_unit,
        spec.group_by,
        columns,
        plan.rows_per_unit,
        plan.groups_per_unit,
        salt(spec),
    )


def exact(frame: pl.LazyFrame, plan: Plan) -> pl.DataFrame:
    """The exact measurement table of ``frame``: group keys, then ``__m*`` Int64 columns."""
    keys = list(plan.spec.group_by)
    rows = prepare(frame, plan)
    narrow = [m for m in plan.measurements if m.request.kind not in ("hist", "tree")]
    wide = [m for m in plan.measurements if m.request.kind in ("hist", "tree")]

    # One pass whatever the data: NaN reads as null in every measurement (a second pass
    # on meeting a NaN would let the run time tell whether the filtered rows hold one).
    scalars = [_scalar(m, plan.context.privacy_unit) for m in narrow]
    queries = [rows.group_by(keys).agg(scalars) if keys else rows.select(scalars)]
    for m in wide:
        x = _value(str(m.request.column))
        binned = rows.filter(x.is_not_null()).with_columns(_bin(m).alias(_BIN))
        queries.append(binned.group_by([*keys, _BIN]).agg(pl.len().cast(pl.Int64).alias(_LEN)))
    collected = pl.collect_all(queries)
    table = collected[0]
    table = table.with_columns(pl.col(c.columns[0]).cast(pl.Int64) for c in narrow)
    for m, counts in zip(wide, collected[1:], strict=True):
        table = _attach_wide(table, counts, m, keys)
    return table.sort(keys, nulls_last=True) if keys else table


def _attach_wide(
    table: pl.DataFrame, counts: pl.DataFrame, m: Measurement, keys: list[str]
) -> pl.DataFrame:
    """Pivot (keys, bin, count) to one column per bin and join it to ``table``."""
    names = m.columns
    index = keys or [_ONE]
    if not keys:
        counts = counts.with_columns(pl.lit(1).alias(_ONE))
    wide = (
        counts.pivot(on=_BIN, index=index, values=_LEN) if counts.height else (counts.select(index))
    )
    present = {str(c) for c in wide.columns} - set(index)
    wide = wide.select(
        *index,
        *(
            pl.col(str(j)).alias(name) if str(j) in present else pl.lit(0, pl.Int64).alias(name)
            for j, name in enumerate(names)
        ),
    )
    if not keys:
        if wide.height == 0:
            return table.with_columns(pl.lit(0, pl.Int64).alias(n) for n in names)
        return pl.concat([table, wide.select(names).fill_null(0)], how="horizontal")
    joined = table.join(wide, on=keys, how="left", nulls_equal=True)
    return joined.with_columns(pl.col(names).fill_null(0).cast(pl.Int64))


def combine(parts: Sequence[pl.DataFrame], spec: AggregateSpec) -> pl.DataFrame:
    """Add up exact partial tables of partitions that split people.

    Raises:
        ValueError: No parts.
    """
    if not parts:
        raise ValueError("combine needs at least one partial table")
    keys = list(spec.group_by)
    stacked = pl.concat(parts, how="vertical_relaxed")
    sums = pl.col(f"^{PREFIX}.*$").sum().cast(pl.Int64)
    if not keys:
        return stacked.select(sums)
    return stacked.group_by(keys).agg(sums).sort(keys, nulls_last=True)
