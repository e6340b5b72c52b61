"""Contribution bounding: at most g groups and k rows of any one person.

Sensitivity is a statement about one person, so a person with a thousand
rows must not move a count by a thousand. Before aggregating, each person
(privacy unit) keeps at most ``max_groups_per_unit`` of the groups their
rows fall in and then at most ``max_rows_per_unit`` of their rows (Wilson
et al. 2020, §3: L0 and per-user bounds).

The choice is random but reproducible: groups and rows are ranked by a
salted hash, and the salt comes from the spec, so the same rows are kept
whether a table is evaluated whole or partition by partition (all of a
person's rows live in one partition). Privacy does not rest on the
randomness — any rule that decides from one person's rows alone keeps the
sensitivity — it only keeps the choice free of bias (no "first k rows").

Rows whose privacy unit is null, NaN or a blank string belong to no known
person (:func:`jobs.privacy_unit.known_unit`): they are dropped before
bounding. Kept, they would share one quota as if they were one person, and one
such person with many rows could then displace the rows of the others and move
a sum by twice the sensitivity the noise is sized for.
The catalog records their number at ingest and refuses a dataset whose unit is
mostly null (:func:`policies.catalog.check_privacy_unit_coverage`).

Ties: rows identical on every column the query reads may swap places, which
changes nothing the query computes; group ranks break hash ties on the key
itself, so a person never keeps more than ``g`` groups.

Speed: most people hold no more than the bound, and bounding keeps all of
their rows whatever the salt. One group-by counts each person's rows (and
distinct groups, when groups are bounded); only the people over the bound go
through the hashing, the sort and the ranking, the rest pass untouched. The
choice depends on one person's rows alone, so the result is the same rows as
ranking everyone (a property test compares the two). Stored partitions are
sorted by person; there the aggregate engine finds the people over a bound
from their runs of rows, without this group-by, and ranks only them
(:func:`bound_every_unit`; :mod:`jobs.kinds.aggregate.exact`).

References:
    Wilson, R. J., Zhang, C. Y., Lam, W., Desfontaines, D., Simmons-Marengo,
    D., Gipson, B. (2020). Differentially Private SQL with Bounded User
    Contribution. PoPETs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import polars as pl

from jobs.kinds.aggregate.spec import AggregateSpec
from jobs.privacy_unit import known_unit


def salt(spec: AggregateSpec) -> int:
    """A 63-bit salt derived from the spec: the same query bounds the same way everywhere."""
    canonical = json.dumps(spec.model_dump(mode="json"), sort_keys=True).encode()
    return int.from_bytes(hashlib.sha256(canonical).digest()[:8], "big") >> 1


_HG, _GI, _NU, _N, _G = "__bound_hg", "__bound_gi", "__bound_nu", "__bound_n", "__bound_g"


def _bound_groups(
    frame: pl.LazyFrame, unit: str, keys: Sequence[str], groups_per_unit: int, seed: int
) -> pl.LazyFrame:
    """Keep each unit's first ``g`` groups in (hash, key) order.

    One sort by (unit, group hash, keys) and running counts replace a
    ``rank().over(unit)`` window, which is 2× slower with millions of
    people; the order, and so the choice, is the same.
    """

    def changed(column: str) -> pl.Expr:
        return pl.col(column).ne_missing(pl.col(column).shift(1))

    new_unit = changed(unit).fill_null(True)
    new_group = new_unit
    for column in (_HG, *keys):
        new_group = new_group | changed(column)
    ranked = (
        frame.with_columns(pl.struct([unit, *keys]).hash(seed).alias(_HG))
        .sort([unit, _HG, *keys], nulls_last=True)
        .with_columns(new_group.fill_null(True).cum_sum().alias(_GI), new_unit.alias(_NU))
    )
    first = pl.when(pl.col(_NU)).then(pl.col(_GI)).forward_fill()
    return ranked.filter(pl.col(_GI) - first < groups_per_unit).drop(_HG, _GI, _NU)


def exact_distinct(dtype: pl.DataType) -> bool:
    """Whether ``n_unique`` counts the groups of a key of ``dtype`` exactly as the sort does.

    Floats are left out (NaN and -0.0 may compare, hash and sort apart), and
    so are nested types; for them a person is under the group bound only
    when their rows are (a person's groups never outnumber their rows).
    """
    return (
        dtype.is_integer()
        or dtype.is_temporal()
        or dtype in (pl.Boolean, pl.String)
        or (isinstance(dtype, pl.Categorical | pl.Enum))
    )


def _over_bound(
    frame: pl.LazyFrame,
    unit: str,
    keys: Sequence[str],
    schema: pl.Schema,
    rows_per_unit: int,
    groups_per_unit: int | None,
) -> pl.LazyFrame:
    """The units that bounding may cut: over ``k`` rows, or over ``g`` groups (``None``: no bound).

    Everyone else keeps all their rows under any salt, so this can err only
    towards listing too many (then ranking keeps all of theirs anyway).
    """
    aggs = [pl.len().alias(_N)]
    over = pl.col(_N) > rows_per_unit
    if groups_per_unit is not None:
        if all(exact_distinct(schema[k]) for k in keys):
            distinct = pl.col(keys[0]) if len(keys) == 1 else pl.struct(keys)
            aggs.append(distinct.n_unique().alias(_G))
            over = over | (pl.col(_G) > groups_per_unit)
        else:
            over = pl.col(_N) > groups_per_unit
    return frame.group_by(unit).agg(aggs).filter(over).select(unit)


def _bound_everyone(
    frame: pl.LazyFrame,
    unit: str,
    keys: Sequence[str],
    columns: Sequence[str],
    rows_per_unit: int,
    groups_per_unit: int | None,
    seed: int,
) -> pl.LazyFrame:
    """Hash, sort and rank every row of ``frame`` (known units only): the bound itself."""
    if groups_per_unit is not None:
        frame = _bound_groups(frame, unit, keys, groups_per_unit, seed)
    row_hash = pl.struct(sorted({unit, *keys, *columns})).hash(seed ^ 0x5BD1E995)
    return frame.filter(row_hash.rank("ordinal").over(unit) <= rows_per_unit)


def bound_every_unit(
    frame: pl.LazyFrame,
    unit: str,
    keys: Sequence[str],
    columns: Sequence[str],
    rows_per_unit: int,
    groups_per_unit: int,
    seed: int,
) -> pl.LazyFrame:
    """:func:`bound_contributions` of rows that all belong to known units, ranking every one.

    For a caller that has already picked the people who may be over a bound
    (anyone else keeps all their rows here too); the same arguments.
    """
    groups = _group_bound(keys, rows_per_unit, groups_per_unit)
    return _bound_everyone(frame, unit, keys, columns, rows_per_unit, groups, seed)


def _group_bound(keys: Sequence[str], rows_per_unit: int, groups_per_unit: int) -> int | None:
    """g, or ``None`` where it cuts nothing: no keys, or g >= k (k rows reach k groups)."""
    return groups_per_unit if keys and groups_per_unit < rows_per_unit else None


def bound_contributions(
    frame: pl.LazyFrame,
    unit: str | None,
    keys: Sequence[str],
    columns: Sequence[str],
    rows_per_unit: int,
    groups_per_unit: int,
    seed: int,
) -> pl.LazyFrame:
    """Keep at most ``groups_per_unit`` groups, then ``rows_per_unit`` rows, of each unit.

    Rows without a unit (:func:`known_unit`) are dropped first: they are no one's.
    The rows come back in no particular order.

    Args:
        frame: Rows after the query's filters.
        unit: The privacy-unit column; ``None`` means one row per person (no-op).
        keys: Group-by columns.
        columns: Every column the query reads (the row hash covers them).
        rows_per_unit: k.
        groups_per_unit: g; ignored without keys or when g >= k (k rows reach at most k groups).
        seed: The salt, from :func:`salt`.

    Returns:
        The bounded rows (lazy).
    """
    if unit is None:
        return frame
    schema = frame.collect_schema()
    frame = frame.filter(known_unit(unit, schema[unit]))
    groups = _group_bound(keys, rows_per_unit, groups_per_unit)
    # Collected here, not joined lazily: a join would make polars cache every row in
    # memory (the frame feeds both sides), while a filter on this short list streams.
    # The plan has the same shape whether or not anyone is over the bound.
    over = _over_bound(frame, unit, keys, schema, rows_per_unit, groups).collect().to_series()
    cut = pl.col(unit).is_in(over.implode())
    bounded = bound_every_unit(
        frame.filter(cut), unit, keys, columns, rows_per_unit, groups_per_unit, seed
    )
    return pl.concat([frame.filter(~cut), bounded])
