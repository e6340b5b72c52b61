"""Estimates: the group size they assume, quantiles from the tree, small-cell warnings."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobs.facts import DatasetFacts
from jobs.kinds import parse_job_spec
from jobs.kinds.aggregate import KIND
from jobs.kinds.aggregate.engine import DatasetContext, estimate, evaluate
from jobs.kinds.aggregate.estimate import DEFAULT_GROUP_SIZE, GroupSize, group_size_for
from jobs.kinds.aggregate.spec import AggregateSpec
from policies.catalog import Grade, GroupSizeBand

MEDIAN = {"op": "median", "column": "x", "lower": 0, "upper": 1000}
MEAN = {"op": "mean", "column": "x", "lower": 0, "upper": 1000}
HIST = {"op": "histogram", "column": "x", "bins": [0, 250, 500, 750, 1000]}


def _spec(aggregates: list[dict[str, Any]], **overrides: Any) -> AggregateSpec:
    data = {"kind": "aggregate", "dataset": "d", "aggregates": aggregates, "epsilon": 1.0}
    spec = parse_job_spec(data | overrides)
    assert isinstance(spec, AggregateSpec)
    return spec


def _facts(**overrides: Any) -> DatasetFacts:
    fields: dict[str, Any] = {
        "name": "d",
        "parts": "",
        "grade": Grade.GENERAL,
        "row_count": 0,
        "public_row_count": 5000,
        "public_keys": {"city": ("a", "b"), "sex": ("f", "m")},
        "group_size_bands": {"city": GroupSizeBand(200, 2000)},
    }
    return DatasetFacts(**(fields | overrides))


GROUP_SIZES = [
    # the operator's figure wins over everything
    ({"group_by": ["city"]}, 300, GroupSize(300, 300, "argument")),
    # the steward's band for the query's keys
    ({"group_by": ["city"]}, None, GroupSize(200, 2000, "catalog")),
    # a band spread over another key's declared domain (two sexes)
    ({"group_by": ["city", "sex"]}, None, GroupSize(100, 1000, "catalog")),
    # ungrouped: the table itself, at its public size
    ({}, None, GroupSize(5000, 5000, "table")),
    # a key without band or domain: the documented default
    ({"group_by": ["sex"], "delta": 1e-6}, None, GroupSize(100, 100, "default")),
]


@pytest.mark.parametrize(("overrides", "expected", "size"), GROUP_SIZES)
def test_group_size_for_when_sources_differ_then_argument_band_table_default_in_order(
    overrides: dict[str, Any], expected: int | None, size: GroupSize
) -> None:
    assert group_size_for(_spec([MEAN], **overrides), _facts(), expected) == size


def test_estimate_when_band_then_figures_at_its_low_end_and_a_range_to_its_high_end() -> None:
    spec = _spec([{"op": "count"}, MEAN, MEDIAN], group_by=["city"])
    est = KIND.estimate(spec, [_facts()], 10)
    assert est["group_size"] == {"low": 200, "high": 2000, "source": "catalog"}
    count, mean, median = est["aggregates"]
    assert count["ci_half_width_range"] is None and count["group_size"] is None
    for a in (mean, median):
        best, worst = a["ci_half_width_range"]
        assert best < worst == a["ci_half_width"] and a["group_size"] == 200
    planned = KIND.estimate(spec, [_facts()], 10, expected_group_size=2000)
    assert planned["aggregates"][1]["ci_half_width"] == mean["ci_half_width_range"][0]


@given(small=st.integers(1, 5000), factor=st.integers(2, 50))
def test_estimate_when_groups_grow_then_mean_and_quantile_errors_never_grow(
    small: int, factor: int
) -> None:
    spec = _spec([MEAN, MEDIAN])
    a = estimate(spec, DatasetContext(), group_size=small).aggregates
    b = estimate(spec, DatasetContext(), group_size=small * factor).aggregates
    for before, after in zip(a, b, strict=True):
        assert after.ci_half_width <= before.ci_half_width
        assert before.ci_half_width <= 500  # the released interval lies in [0, 1000]


def test_estimate_when_quantile_then_rank_error_is_the_trees_and_values_follow_it() -> None:
    # 20,000 values spread like a triangle over [0, 1000] (the estimate's assumption):
    # the estimate and the released interval agree closely.
    rng = np.random.default_rng(5)
    frame = pl.DataFrame({"x": rng.triangular(0, 500, 1000, 20_000)})
    spec = _spec([MEDIAN], epsilon=1.0)
    est = estimate(spec, DatasetContext(max_rows=100_000), group_size=20_000).aggregates[0]
    assert est.rank_half_width is not None and est.rank_half_width > 0
    halves = []
    for seed in range(20):
        t = evaluate(frame, spec, DatasetContext(max_rows=100_000), seed=seed).table
        halves.append((t["median_x_ci_high"][0] - t["median_x_ci_low"][0]) / 2)
    assert 0.5 <= est.ci_half_width / float(np.median(halves)) <= 2.0
    # more noise per node (lower ε) widens the rank error by the tree's own law
    wider = estimate(_spec([MEDIAN], epsilon=0.5), DatasetContext(), group_size=20_000)
    assert wider.aggregates[0].rank_half_width == pytest.approx(2 * est.rank_half_width, rel=0.01)


def test_estimate_when_groups_are_large_then_no_warning() -> None:
    spec = _spec([{"op": "count"}, HIST], group_by=["city"])
    est = estimate(spec, DatasetContext(public_keys={"city": ["a"]}, min_cell=10), group_size=5000)
    assert est.warnings == ()


def test_estimate_when_bins_would_be_small_then_warns_for_the_histogram_only() -> None:
    spec = _spec([{"op": "count"}, HIST], group_by=["city"])
    est = estimate(spec, DatasetContext(public_keys={"city": ["a"]}, min_cell=10), group_size=48)
    assert [w.aggregate for w in est.warnings] == ["histogram_x"]  # 12 rows a bin, 48 a group
    warning = est.warnings[0]
    assert 0.05 < warning.probability < 1
    assert "最小单元格 10" in warning.message and "minimum cell size 10" in warning.message
    assert warning.message.index("最小") < warning.message.index("minimum")  # Chinese first


def test_estimate_when_groups_are_tiny_then_warns_whole_rows_and_counts() -> None:
    spec = _spec([{"op": "count"}, MEAN], group_by=["city"])
    est = estimate(spec, DatasetContext(public_keys={"city": ["a"]}, min_cell=20), group_size=8)
    assert [w.aggregate for w in est.warnings] == [None, "count"]
    assert all(w.probability > 0.9 for w in est.warnings)


def test_estimate_when_keys_are_discovered_then_warns_of_groups_under_the_threshold() -> None:
    spec = _spec([{"op": "count"}], group_by=["town"], delta=1e-6)
    est = estimate(spec, DatasetContext(), group_size=5)
    assert est.threshold is not None and est.threshold > 5
    assert "threshold" in est.warnings[0].message and est.warnings[0].aggregate is None


def test_estimate_when_no_min_cell_then_no_small_cell_warning() -> None:
    est = estimate(_spec([HIST]), DatasetContext(min_cell=0), group_size=4)
    assert est.warnings == ()
    assert est.group_size == GroupSize(4, 4, "argument")
    assert estimate(_spec([HIST]), DatasetContext()).group_size == GroupSize(
        DEFAULT_GROUP_SIZE, DEFAULT_GROUP_SIZE, "default"
    )
