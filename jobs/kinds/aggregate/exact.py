"""Exact, clamped, contribution-bounded integer measurements per group; no noise.

This is the sensitive intermediate: it never leaves the worker that
computes it. Every column is an Int64 sum over rows, so partial tables of
partitions that split people (all of a person's rows in one partition) merge
by adding them up, exactly, in any order (:func:`combine`).

Two ways to the same table: bound every row, then measure (:func:`_by_rows`);
or, on a partition stored by person (each person's rows one run), measure
everyone's rows, take back the rows of the few over a bound or in several
groups, and add their bounded rows (:func:`_by_runs`, no group-by over
people and no sort of every row). ``tests/unit/jobs/kinds/aggregate/
test_runs_equivalence.py`` compares the two on random frames.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from numpy.typing import NDArray

from jobs.kinds.aggregate.bounding import (
    bound_contributions,
    bound_every_unit,
    exact_distinct,
    salt,
)
from jobs.kinds.aggregate.plan import TREE_DEPTH, Measurement, Plan
from jobs.kinds.aggregate.spec import AggregateSpec
from jobs.privacy_unit import known_unit, person_order

_BIN = "__bin"
_LEN = "__len"
_ONE = "__one"
_START = "__run_start"
# Integers numpy holds (not Int128 / UInt128: a 20-digit ID reads as one)
_NUMPY_INTEGERS = frozenset(
    {pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64}
)
PREFIX = "__m"


def _value(column: str) -> pl.Expr:
    """A measured column as Float64 with NaN read as null."""
    return pl.col(column).cast(pl.Float64).fill_nan(None)


def _between(x: pl.Expr, lower: float, upper: float) -> pl.Expr:
    """``x.clip(lower, upper)`` for non-null, non-NaN values, up to the sign of a zero
    bound (the caller masks the others: polars' horizontal min and max skip nulls and
    NaN), cheaper than ``clip`` (10M rows: about 3 ms against 13, where the raw
    group-by takes 42)."""
    return pl.max_horizontal(pl.min_horizontal(x, pl.lit(upper)), pl.lit(lower))


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
    x = pl.col(str(r.column)).cast(pl.Float64)
    clamped = _between(x, r.lower, r.upper)
    if kind != "sum":
        clamped = clamped - (r.lower + (r.upper - r.lower) / 2)
        if kind == "csq":
            clamped = clamped * clamped - m.offset
    gridded = (clamped * (1.0 / m.grid) + 0.5).floor()  # round half up
    if kind != "sum":  # the float subtraction may round a hair past the bound
        gridded = _between(gridded, -m.bound, m.bound)
    # null and NaN rows (is_not_nan is null on a null: not taken) add nothing
    return pl.when(x.is_not_nan()).then(gridded).sum().alias(m.columns[0])


def _bin(m: Measurement) -> pl.Expr:
    r = m.request
    x = _value(str(r.column))
    if r.kind == "hist":
        interior = pl.Series(r.edges[1:-1], dtype=pl.Float64)
        position: pl.Expr = pl.lit(interior).search_sorted(x, side="right")
        return position.cast(pl.Int64)
    leaves = 1 << TREE_DEPTH
    scaled = (_between(x, r.lower, r.upper) - r.lower) * (leaves / (r.upper - r.lower))
    return scaled.floor().cast(pl.Int64, strict=False).clip(0, leaves - 1)


def _restrict(frame: pl.LazyFrame, plan: Plan) -> pl.LazyFrame:
    """The query's filters and, with a privacy unit, its public-key domains."""
    spec, context = plan.spec, plan.context
    if spec.filters:
        frame = frame.filter(pl.all_horizontal(f.expr() for f in spec.filters))
    if context.privacy_unit is not None:
        # Bound people within the declared domains, so that no one's quota goes to rows
        # outside them. Without a privacy unit there is no quota: the release keeps only
        # declared keys (cheaper than filtering every row).
        for column in plan.public_columns:
            frame = frame.filter(pl.col(column).is_in(list(context.public_keys[column])))
    return frame


def _bound(frame: pl.LazyFrame, plan: Plan) -> pl.LazyFrame:
    """Contribution bounding of rows already restricted (:func:`_restrict`)."""
    return bound_contributions(
        frame,
        plan.context.privacy_unit,
        plan.spec.group_by,
        _measured_columns(plan),
        plan.rows_per_unit,
        plan.groups_per_unit,
        salt(plan.spec),
    )


def exact(frame: pl.LazyFrame, plan: Plan) -> pl.DataFrame:
    """The exact measurement table of ``frame``: group keys, then ``__m*`` Int64 columns.

    With a privacy unit, only per-group scalars (no histogram or quantile) and
    rows stored person by person (the catalog sorts each partition by person,
    :func:`jobs.privacy_unit.person_order`), the table comes from each person's
    run of rows (:func:`_by_runs`); otherwise from the bounded rows
    (:func:`_by_rows`). Both give the same table.
    """
    restricted = _restrict(frame, plan)
    unit = plan.context.privacy_unit
    schema = restricted.collect_schema()
    if unit is not None and _runs_apply(plan, schema):
        # One partition in memory (the catalog bounds its rows), read once.
        columns = sorted({unit, *plan.spec.group_by, *_measured_columns(plan)})
        rows = restricted.filter(known_unit(unit, schema[unit])).select(columns).collect()
        if _stored_by_person(rows, unit):
            return _by_runs(rows, plan, unit)
        restricted = rows.lazy()
    return _by_rows(_bound(restricted, plan), plan)


def _measured_columns(plan: Plan) -> list[str]:
    return [str(m.request.column) for m in plan.measurements if m.request.column]


def _runs_apply(plan: Plan, schema: pl.Schema) -> bool:
    """Whether :func:`_by_runs` computes this plan: scalars only, unit and keys that group exactly.

    Decided from the plan and the schema alone, never from the values. A float
    or nested key takes the row path: there a group is one only for equal
    values under a rule the runs would not see (NaN, -0.0).
    """
    unit = plan.context.privacy_unit
    scalars = all(m.request.kind not in ("hist", "tree") for m in plan.measurements)
    columns = [unit, *plan.spec.group_by] if unit is not None else []
    return scalars and bool(columns) and all(exact_distinct(schema[c]) for c in columns)


def _by_runs(rows: pl.DataFrame, plan: Plan, unit: str) -> pl.DataFrame:
    """The exact table of rows whose people are runs (each person's rows adjacent).

    Most people hold at most k rows in one group: bounding keeps all their
    rows whatever the salt, so their rows are measured as they are, and each
    adds one to their group's distinct people (at their run's first row). A
    run's length and whether its key changes inside it come from the runs'
    first rows: no group-by over people, no sort, no distinct count per group.
    Only the rows of the others (over k rows, or in several groups) are bounded
    (:func:`bound_every_unit`, which decides from one person's rows alone) and
    measured row by row. The table is every row's measurements, minus those of
    the others' rows, plus those of the others' bounded rows: every column is
    a sum of integers, and the float sums of gridded values are exact in any
    order (:func:`_scalar`), so the sums subtract and add exactly.
    """
    keys = list(plan.spec.group_by)
    starts = _changes(rows[unit])
    first = np.flatnonzero(starts)  # each run's first row
    length = np.diff(first, append=rows.height)
    several = np.zeros(len(first), dtype=bool)  # people whose key changes inside their run
    if keys:
        changed = np.logical_or.reduce([_changes(rows[k]) for k in keys]) & ~starts
        several[np.searchsorted(first, np.flatnonzero(changed), side="right") - 1] = True
    simple = (length <= plan.rows_per_unit) & ~several
    marked = rows.with_columns(pl.Series(_START, starts, dtype=pl.Boolean))

    def measured(m: Measurement) -> pl.Expr:
        if m.request.kind == "units":
            return pl.col(_START).sum().alias(m.columns[0])
        return _scalar(m, unit)

    narrow = plan.measurements

    def table(frame: pl.DataFrame, sign: int = 1) -> pl.DataFrame:
        totals = [measured(m) for m in narrow]
        lazy = frame.lazy()
        out = lazy.group_by(keys).agg(totals) if keys else lazy.select(totals)
        signed = (pl.col(m.columns[0]).cast(pl.Int64) * sign for m in narrow)
        return out.with_columns(signed).collect()

    # The same queries whoever is over a bound, only with more or fewer rows: the run
    # time must not tell whether anyone is (no branch on it, as no second pass on NaN).
    everyone = table(marked)
    others = marked[_rows_of(first[~simple], length[~simple])]
    units = narrow[plan.units].columns[0]
    # Groups only the others reach sum to zero distinct people: they are not in the table.
    simple_people = combine([everyone, table(others, -1)], plan.spec).filter(pl.col(units) > 0)
    # Over k rows in one group: the group bound keeps that group, only rows are ranked.
    in_several = np.repeat(several[~simple], length[~simple])
    bounded = [
        bound_every_unit(
            others.filter(pl.Series(mask, dtype=pl.Boolean)).select(rows.columns).lazy(),
            unit,
            keys,
            _measured_columns(plan),
            plan.rows_per_unit,
            plan.groups_per_unit if groups else plan.rows_per_unit,
            salt(plan.spec),
        )
        for mask, groups in ((in_several, True), (~in_several, False))
    ]
    result = combine([simple_people, _by_rows(pl.concat(bounded), plan)], plan.spec)
    return result.select(*keys, *(m.columns[0] for m in narrow))


def _stored_by_person(rows: pl.DataFrame, unit: str) -> bool:
    """Whether ``rows`` (known units only) are in :func:`person_order`: each person's together."""
    values = rows[unit]
    if values.dtype in _NUMPY_INTEGERS:  # no nulls here
        codes = values.to_numpy()
        return bool(np.all(codes[1:] >= codes[:-1]))
    order = person_order(unit, values.dtype)
    return rows.select((order >= order.shift(1)).all()).item() is not False


def _changes(values: pl.Series) -> NDArray[np.bool_]:
    """True at the first row and wherever a value differs from the row before (null = null)."""
    physical = values.to_physical()
    if physical.dtype in _NUMPY_INTEGERS and not physical.has_nulls():  # the common unit and key
        codes = physical.to_numpy()
        return np.concatenate((codes[:1] == codes[:1], codes[1:] != codes[:-1]))
    differs = values.ne_missing(values.shift(1)).fill_null(True)
    return differs.to_numpy().astype(bool, copy=False)


def _rows_of(first: NDArray[np.int64], length: NDArray[np.int64]) -> NDArray[np.int64]:
    """The row numbers of the runs that start at ``first`` and are ``length`` rows long."""
    ends = np.cumsum(length)
    offsets: NDArray[np.int64] = np.repeat(first - (ends - length), length)
    return np.arange(offsets.size, dtype=np.int64) + offsets


def _by_rows(rows: pl.LazyFrame, plan: Plan) -> pl.DataFrame:
    """The exact table of bounded rows, measured row by row."""
    keys = list(plan.spec.group_by)
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
