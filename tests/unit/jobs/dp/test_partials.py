"""Partials: evaluate == release ∘ combine ∘ exact partials when partitions split people."""

from __future__ import annotations

from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from jobs.kinds import parse_job_spec
from jobs.kinds.aggregate.engine import (
    DatasetContext,
    combine_partials,
    evaluate,
    exact_partials,
    release,
)

BOUNDED = {"column": "x", "lower": -10.0, "upper": 100.0}
AGGREGATES: list[dict[str, Any]] = [
    {"op": "count"},
    {"op": "count_distinct"},
    {"op": "sum", **BOUNDED},
    {"op": "mean", **BOUNDED},
    {"op": "variance", **BOUNDED},
    {"op": "median", **BOUNDED},
    {"op": "histogram", "column": "x", "bins": [-10, 0, 50, 100]},
]
CITIES = ["A", "B", "C", "D"]


@st.composite
def tables(draw: st.DrawFn) -> tuple[pl.DataFrame, list[int]]:
    """A table of people with 1–6 rows each, and a partition number per person."""
    people = draw(st.integers(1, 25))
    rows: list[tuple[int, str, float | None]] = []
    for person in range(people):
        for _ in range(draw(st.integers(1, 6))):
            x = draw(st.one_of(st.none(), st.floats(-50, 150, allow_nan=False)))
            rows.append((person, draw(st.sampled_from(CITIES)), x))
    parts = draw(st.lists(st.integers(0, 3), min_size=people, max_size=people))
    frame = pl.DataFrame(
        rows, schema={"pid": pl.Int64, "city": pl.String, "x": pl.Float64}, orient="row"
    )
    return frame, parts


@settings(max_examples=40, deadline=None)
@given(
    data=tables(),
    grouped=st.sampled_from(["none", "public", "discovered"]),
    person_column=st.booleans(),
    k=st.integers(1, 4),
    g=st.integers(1, 3),
    aggregates=st.lists(st.sampled_from(AGGREGATES), min_size=1, max_size=4, unique_by=str),
    seed=st.integers(0, 2**32),
)
def test_release_of_combined_partials_when_partitioned_by_person_then_equals_evaluate(
    data: tuple[pl.DataFrame, list[int]],
    grouped: str,
    person_column: bool,
    k: int,
    g: int,
    aggregates: list[dict[str, Any]],
    seed: int,
) -> None:
    frame, parts = data
    spec = parse_job_spec(
        {
            "kind": "aggregate",
            "dataset": "d",
            "epsilon": 2.0,
            "delta": 1e-6 if grouped == "discovered" else 0.0,
            "group_by": [] if grouped == "none" else ["city"],
            "aggregates": aggregates,
            "max_rows_per_unit": k,
            "max_groups_per_unit": g,
        }
    )
    context = DatasetContext(
        privacy_unit="pid" if person_column else None,
        public_keys={"city": CITIES[:3]} if grouped == "public" else {},
        min_cell=3,
        max_rows=1000,
    )
    part_of = pl.Series("part", parts)[frame["pid"]]
    partitions = [frame.filter(part_of == p) for p in range(4)]
    partials = [exact_partials(p.lazy(), spec, context) for p in partitions]

    combined = combine_partials(partials, spec)
    assert_frame_equal(combined, exact_partials(frame, spec, context))  # exact, before noise
    assert_frame_equal(
        release(combined, spec, context, seed=seed).table,
        evaluate(frame, spec, context, seed=seed).table,
    )
