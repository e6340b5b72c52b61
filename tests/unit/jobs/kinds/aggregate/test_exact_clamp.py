"""The measurements' clamps (polars' horizontal min and max, nulls and NaN masked) give
the table ``clip`` gave, on random values with nulls, NaN, infinities and extremes."""

from __future__ import annotations

import math
from typing import Any
from unittest import mock

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from jobs.kinds import parse_job_spec
from jobs.kinds.aggregate import exact
from jobs.kinds.aggregate.engine import DatasetContext, exact_partials
from jobs.kinds.aggregate.plan import TREE_DEPTH, Measurement


def _value(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.Float64).fill_nan(None)


def _clip_scalar(m: Measurement, unit: str | None) -> pl.Expr:
    """The measurement as it was written with ``clip`` (commit 8665964)."""
    r = m.request
    if r.kind in ("units", "rows", "nonnull"):
        return _scalar(m, unit)
    x = _value(str(r.column))
    clamped = x.clip(r.lower, r.upper)
    if r.kind != "sum":
        clamped = clamped - (r.lower + (r.upper - r.lower) / 2)
        if r.kind == "csq":
            clamped = clamped * clamped - m.offset
    gridded = (clamped * (1.0 / m.grid) + 0.5).floor()
    if r.kind != "sum":
        gridded = gridded.clip(-m.bound, m.bound)
    return gridded.sum().alias(m.columns[0])


def _clip_bin(m: Measurement) -> pl.Expr:
    r = m.request
    if r.kind == "hist":
        return _bin(m)
    x = _value(str(r.column))
    leaves = 1 << TREE_DEPTH
    scaled = (x.clip(r.lower, r.upper) - r.lower) * (leaves / (r.upper - r.lower))
    return scaled.floor().cast(pl.Int64, strict=False).clip(0, leaves - 1)


_scalar, _bin = exact._scalar, exact._bin

VALUES = st.one_of(
    st.none(),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0, 1e308, -1e308, 5e-324]),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.integers(-1000, 1000).map(float),
)
BOUNDS = st.tuples(st.floats(-1e4, 1e4), st.floats(1e-3, 2e4)).map(lambda b: (b[0], b[0] + b[1]))


@st.composite
def _cases(draw: st.DrawFn) -> tuple[pl.DataFrame, dict[str, Any]]:
    rows = draw(st.lists(st.tuples(st.sampled_from("ABC"), VALUES), max_size=40))
    frame = pl.DataFrame(rows, schema={"city": pl.String, "x": pl.Float64}, orient="row")
    dtype = draw(st.sampled_from([pl.Float64, pl.Float32, pl.Int64, pl.Int16, pl.UInt64]))
    if dtype != pl.Float64:  # measured as doubles, whatever the column's type
        low = 0 if dtype == pl.UInt64 else -30_000
        integral = dtype != pl.Float32
        x = pl.col("x").fill_nan(None) if integral else pl.col("x")
        frame = frame.with_columns(x.clip(low, 30_000).cast(dtype))
    lower, upper = draw(BOUNDS)
    bounded = {"column": "x", "lower": lower, "upper": upper}
    ops = draw(
        st.lists(st.sampled_from(["sum", "mean", "variance", "median"]), min_size=1, unique=True)
    )
    spec = {
        "kind": "aggregate",
        "dataset": "d",
        "epsilon": 1.0,
        "group_by": draw(st.sampled_from([[], ["city"]])),
        "aggregates": [{"op": "count"}, *({"op": op, **bounded} for op in ops)],
    }
    return frame, spec


@settings(max_examples=300, deadline=None)
@given(case=_cases())
def test_exact_partials_when_random_values_then_the_table_clip_gave(
    case: tuple[pl.DataFrame, dict[str, Any]],
) -> None:
    frame, raw = case
    spec = parse_job_spec(raw)
    context = DatasetContext(public_keys={"city": ["A", "B", "C"]}, max_rows=100)
    new = exact_partials(frame, spec, context)
    with (
        mock.patch.object(exact, "_scalar", _clip_scalar),
        mock.patch.object(exact, "_bin", _clip_bin),
    ):
        old = exact_partials(frame, spec, context)
    assert_frame_equal(new, old, check_exact=True)


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.sampled_from([math.inf, -math.inf, 0.0, -0.0, 1e308, -1e308, 2.0**53 + 2]),
            st.floats(allow_nan=False),
        ),
        max_size=30,
    ),
    bounds=BOUNDS,
)
def test_between_when_values_beyond_the_bounds_then_clip_up_to_the_sign_of_zero(
    values: list[float], bounds: tuple[float, float]
) -> None:
    # every value is cut somewhere here, unlike in the table test, where the ±bound of
    # the gridded values leaves slack
    lower, upper = bounds
    frame = pl.DataFrame({"x": values}, schema={"x": pl.Float64})
    got = frame.select(
        new=exact._between(pl.col("x"), lower, upper), old=pl.col("x").clip(lower, upper)
    )
    assert got["new"].to_list() == got["old"].to_list()  # -0.0 == 0.0
