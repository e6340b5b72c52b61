"""Evaluate an aggregate query on a local frame, exactly: for developing against dummy data.

This mirrors the service's output shape (group keys, then per aggregate its
value and ``_ci_low`` / ``_ci_high`` columns, then ``suppressed``; every
declared public key in the catalog's order) and drops rows without a privacy unit and reads NaN as
null as the engine does, but adds no noise, bounds no contributions and
suppresses no small cells, so its numbers are not what a release would
show. The interval columns are null. It must never be pointed at real data:
that is what submitting a job is for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from jobs.kinds.aggregate.spec import (
    SUPPRESSED,
    AnyAggregate,
    Count,
    CountDistinct,
    Histogram,
    Mean,
    Median,
    Quantile,
    Sum,
    Variance,
)
from jobs.privacy_unit import known_unit
from jobs.spec import Filter
from policies.errors import InvalidJobSpec


def _measure(a: AnyAggregate, privacy_unit: str | None) -> tuple[pl.Expr, pl.DataType]:
    """The exact aggregate and its result dtype."""
    name = a.output_name
    if isinstance(a, Count):
        return pl.len().cast(pl.Int64).alias(name), pl.Int64()
    if isinstance(a, CountDistinct):
        unit = pl.col(privacy_unit).n_unique() if privacy_unit else pl.len()
        return unit.cast(pl.Int64).alias(name), pl.Int64()
    if isinstance(a, Histogram):
        edges = a.bins
        x = pl.col(a.column).cast(pl.Float64).fill_nan(None)
        index = pl.sum_horizontal([(x >= e).cast(pl.Int64) for e in edges[1:-1]])
        index = pl.when(x.is_null()).then(None).otherwise(index)
        dtype = pl.Array(pl.Int64, len(edges) - 1)
        counts = [(index == b).sum().cast(pl.Int64) for b in range(len(edges) - 1)]
        return pl.concat_list(counts).cast(dtype).alias(name), dtype
    assert isinstance(a, Sum | Mean | Variance | Quantile | Median)
    # NaN reads as null, as in the engine (the exact partials): it is skipped.
    x = pl.col(a.column).cast(pl.Float64).fill_nan(None).clip(a.lower, a.upper)
    if isinstance(a, Sum):
        value = x.sum()
    elif isinstance(a, Mean):
        value = x.mean()
    elif isinstance(a, Variance):
        value = x.var(ddof=0)
    else:
        value = x.quantile(a.q, interpolation="linear")
    return value.cast(pl.Float64).alias(name), pl.Float64()


def evaluate(
    frame: pl.DataFrame,
    *,
    filters: Sequence[Filter],
    group_by: Sequence[str],
    aggregates: Sequence[AnyAggregate],
    privacy_unit: str | None = None,
    public_keys: Mapping[str, Sequence[Any]] | None = None,
) -> pl.DataFrame:
    """The query's exact answer on ``frame``, shaped like a released table.

    Raises:
        InvalidJobSpec: ``frame`` lacks a column the query uses.
    """
    used = {f.column for f in filters} | set(group_by)
    used |= {a.column for a in aggregates if hasattr(a, "column")}
    if privacy_unit and any(isinstance(a, CountDistinct) for a in aggregates):
        used.add(privacy_unit)
    missing = sorted(used - set(frame.columns))
    if missing:
        raise InvalidJobSpec(
            f"the frame lacks {', '.join(missing)}; run the query on ds.dummy(n) "
            "or a frame with the dataset's schema"
        )
    measured = [_measure(a, privacy_unit) for a in aggregates]
    rows = frame.lazy().filter(*[f.expr() for f in filters]) if filters else frame.lazy()
    if privacy_unit and privacy_unit in frame.columns:
        # The engine drops rows that belong to no known person; so does this.
        rows = rows.filter(known_unit(privacy_unit, frame.schema[privacy_unit]))
    keys = list(group_by)
    domains = public_keys or {}
    if not keys:
        out = rows.select([e for e, _ in measured]).collect()
    else:
        present = [k for k in keys if domains.get(k)]
        if present:
            rows = rows.filter(*[pl.col(k).is_in(list(domains[k])) for k in present])
        out = rows.group_by(keys).agg([e for e, _ in measured]).collect()
        if len(present) == len(keys):
            out = _over_domain(out, keys, domains, frame.schema, aggregates)
        else:
            out = out.sort(keys, nulls_last=True)
    columns: list[pl.Expr] = [pl.col(k) for k in keys]
    for a, (_, dtype) in zip(aggregates, measured, strict=True):
        name = a.output_name
        columns += [
            pl.col(name),
            pl.lit(None, dtype=dtype).alias(f"{name}_ci_low"),
            pl.lit(None, dtype=dtype).alias(f"{name}_ci_high"),
        ]
    # nothing is suppressed here: the column is for the release's shape
    return out.select(*columns, pl.lit(None, dtype=pl.String).alias(SUPPRESSED))


def _over_domain(
    out: pl.DataFrame,
    keys: list[str],
    domains: Mapping[str, Sequence[Any]],
    schema: pl.Schema,
    aggregates: Sequence[AnyAggregate],
) -> pl.DataFrame:
    """Every declared key (the product of the domains, in the catalog's order), as released."""
    grid: pl.DataFrame | None = None
    for k in keys:
        part = pl.DataFrame({k: pl.Series(list(dict.fromkeys(domains[k]))).cast(schema[k])})
        grid = part if grid is None else grid.join(part, how="cross")
    assert grid is not None
    joined = grid.join(out, on=keys, how="left", nulls_equal=True, maintain_order="left")
    zero = [a.output_name for a in aggregates if isinstance(a, Count | CountDistinct | Sum)]
    return joined.with_columns(pl.col(zero).fill_null(0)) if zero else joined
