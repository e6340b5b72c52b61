"""Bounding only the people over the bound keeps exactly the rows that ranking everyone kept.

:func:`bound_contributions` skips the hashing, sort and ranking for people
with at most k rows and g groups. ``_reference`` below is the implementation
it replaced (every row sorted by person and ranked), kept verbatim so that the
shortcut is checked against it on random frames: null, NaN and blank units,
float / string / categorical / boolean keys with nulls and NaN, duplicated
rows, several keys and any k and g, for the same salt.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from jobs.kinds.aggregate.bounding import bound_contributions
from jobs.privacy_unit import known_unit

_HG, _GI, _NU = "__bound_hg", "__bound_gi", "__bound_nu"


def _reference_groups(
    frame: pl.LazyFrame, unit: str, keys: Sequence[str], groups_per_unit: int, seed: int
) -> pl.LazyFrame:
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


def _reference(
    frame: pl.LazyFrame,
    unit: str,
    keys: Sequence[str],
    columns: Sequence[str],
    rows_per_unit: int,
    groups_per_unit: int,
    seed: int,
) -> pl.LazyFrame:
    """``bound_contributions`` as of commit e77c03d: every row sorted and ranked."""
    frame = frame.filter(known_unit(unit, frame.collect_schema()[unit]))
    if keys and groups_per_unit < rows_per_unit:
        frame = _reference_groups(frame, unit, keys, groups_per_unit, seed)
    row_hash = pl.struct(sorted({unit, *keys, *columns})).hash(seed ^ 0x5BD1E995)
    return frame.filter(row_hash.rank("ordinal").over(unit) <= rows_per_unit)


NAN = float("nan")
# (dtype, the values a column draws from); few values, so people and groups repeat
UNITS: dict[str, tuple[Any, list[Any]]] = {
    "int": (pl.Int64, [None, 0, 1, 2, 3, 4, 5, -7]),
    "float": (pl.Float64, [None, NAN, 0.0, -0.0, 1.5, 2.0, 3.0, 1e300]),  # NaN: no one
    "str": (pl.String, [None, "", " ", "\u3000", "a", "b", "c", "d"]),  # blanks: no one
    "cat": (pl.Categorical, [None, "", "\t", "a", "b", "c", "d", "e"]),
}
KEYS: dict[str, tuple[Any, list[Any]]] = {
    "int": (pl.Int64, [None, 0, 1, 2]),
    "str": (pl.String, [None, "", "x", "y"]),
    "float": (pl.Float64, [None, NAN, 0.0, -0.0, 1.0]),
    "cat": (pl.Categorical, [None, "p", "q", "r"]),
    "bool": (pl.Boolean, [None, True, False]),
    "enum": (pl.Enum(["u", "v", "w"]), [None, "u", "v", "w"]),
}
VALUES = [None, NAN, 1.0, 2.0, -3.0]


@st.composite
def frames(
    draw: st.DrawFn, units: dict[str, tuple[Any, list[Any]]] = UNITS, max_keys: int = 3
) -> tuple[pl.DataFrame, list[str]]:
    """A frame of ``pid`` (a unit kind of ``units``), keys ``k0``… and ``x``, and its keys."""
    unit_kind = draw(st.sampled_from(sorted(units)))
    key_kinds = draw(st.lists(st.sampled_from(sorted(KEYS)), max_size=max_keys))
    keys = [f"k{i}" for i in range(len(key_kinds))]
    schema = {"pid": units[unit_kind][0]}
    schema |= {k: KEYS[t][0] for k, t in zip(keys, key_kinds, strict=True)}
    schema["x"] = pl.Float64
    pools = [units[unit_kind][1], *(KEYS[t][1] for t in key_kinds), VALUES]
    row = st.tuples(*(st.sampled_from(pool) for pool in pools))
    rows = draw(st.lists(row, max_size=60))
    rows += rows[: draw(st.integers(0, len(rows)))]  # exact duplicates
    return pl.DataFrame(rows, schema=schema, orient="row"), keys


@st.composite
def _cases(draw: st.DrawFn) -> tuple[pl.DataFrame, list[str], int, int, int]:
    frame, keys = draw(frames())
    k, g = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    return frame, keys, k, g, draw(st.integers(0, 2**63 - 1))


def _sorted(frame: pl.LazyFrame) -> pl.DataFrame:
    collected = frame.collect()
    return collected.sort(collected.columns, nulls_last=True)


@settings(max_examples=400, deadline=None)
@given(case=_cases())
def test_bound_contributions_when_random_frames_then_same_rows_as_ranking_everyone(
    case: tuple[pl.DataFrame, list[str], int, int, int],
) -> None:
    frame, keys, k, g, seed = case
    new = bound_contributions(frame.lazy(), "pid", keys, ["x"], k, g, seed)
    old = _reference(frame.lazy(), "pid", keys, ["x"], k, g, seed)
    assert_frame_equal(_sorted(new), _sorted(old), check_exact=True)


def test_bound_contributions_when_many_people_under_the_bound_then_same_rows() -> None:
    # a larger frame: most people under the bound, some far over it, one key, k = 8, g = 1
    frame = pl.DataFrame(
        {
            "pid": [p // 3 if p % 50 else p % 13 for p in range(20_000)],
            "city": [f"c{(p // 6) % 4}" for p in range(20_000)],
            "x": [float(p % 17) for p in range(20_000)],
        }
    )
    for k, g in ((8, 1), (3, 2), (1, 1)):
        new = bound_contributions(frame.lazy(), "pid", ["city"], ["x"], k, g, 11)
        old = _reference(frame.lazy(), "pid", ["city"], ["x"], k, g, 11)
        assert_frame_equal(_sorted(new), _sorted(old), check_exact=True)
