"""Aggregate jobs: exact clamped aggregates, seeded noise, suppression, and the noise law."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from scipy import stats

from jobs.aggregate import evaluate, exact_aggregates
from jobs.spec import AggregateSpec, parse_job_spec

# city, age and income of six people; income clamped to [0, 100] is 0, 50, 100, 100, 0, 10
# (-5 clamps up to 0, 150 down to 100, a null contributes 0 but is still counted).
FRAME = pl.DataFrame({
    "city": ["A", "A", "A", "B", "B", "C"],
    "age": [20, 30, 40, 50, 60, 70],
    "income": [-5.0, 50.0, 150.0, 100.0, None, 10.0],
})
SUM_0_100 = {"op": "sum", "column": "income", "lower": 0, "upper": 100}


def _spec(**overrides: Any) -> AggregateSpec:
    base: dict[str, Any] = {"kind": "aggregate", "dataset": "d",
                            "aggregates": [{"op": "count"}, SUM_0_100], "epsilon": 1.0}
    return parse_job_spec(base | overrides)


def _exact(spec: AggregateSpec) -> tuple[list[int], list[float]]:
    """Exact (counts, clamped sums) per group, from the sensitive intermediate."""
    exact = exact_aggregates(FRAME.lazy(), spec)
    (sum_column,) = [c for c in exact.columns if c.startswith("__sum:")]
    return exact["__count"].to_list(), exact[sum_column].to_list()


def test_exact_aggregates_when_grouped_then_counts_and_clamped_sums() -> None:
    spec = _spec(group_by=["city"])
    assert exact_aggregates(FRAME.lazy(), spec)["city"].to_list() == ["A", "B", "C"]
    assert _exact(spec) == ([3, 2, 1], [150.0, 100.0, 10.0])


def test_exact_aggregates_when_lower_bound_positive_then_values_clamped_up() -> None:
    spec = _spec(aggregates=[{"op": "sum", "column": "income", "lower": 20, "upper": 60}])
    # 20 + 50 + 60 + 60 + 0 (null) + 20
    assert _exact(spec) == ([6], [210.0])


@pytest.mark.parametrize(("filters", "count", "clamped_sum"), [
    ([{"column": "age", "op": "eq", "value": 40}], 1, 100.0),  # eq: one person
    ([{"column": "age", "op": "ne", "value": 40}], 5, 160.0),  # ne: everyone else
    ([{"column": "age", "op": "lt", "value": 40}], 2, 50.0),  # lt excludes the bound
    ([{"column": "age", "op": "le", "value": 40}], 3, 150.0),  # le includes it
    ([{"column": "age", "op": "gt", "value": 50}], 2, 10.0),  # gt excludes the bound
    ([{"column": "age", "op": "ge", "value": 50}], 3, 110.0),  # ge includes it
    ([{"column": "city", "op": "in", "value": ["A", "C"]}], 4, 160.0),  # in: a set
    ([{"column": "city", "op": "eq", "value": "B"}], 2, 100.0),  # eq on text
    ([{"column": "income", "op": "gt", "value": 60.0}], 2, 200.0),  # raw value, not clamped
    ([{"column": "age", "op": "ge", "value": 30},
      {"column": "city", "op": "eq", "value": "A"}], 2, 150.0),  # filters combine with AND
    ([{"column": "age", "op": "gt", "value": 99}], 0, 0.0),  # nobody left
])
def test_exact_aggregates_when_filtered_then_only_matching_rows(
    filters: list[dict[str, Any]], count: int, clamped_sum: float
) -> None:
    assert _exact(_spec(filters=filters)) == ([count], [clamped_sum])


def _table(spec: AggregateSpec, seed: int, frame: pl.DataFrame = FRAME, min_cell: int = 0
           ) -> pl.DataFrame:
    return evaluate(frame, spec, min_cell=min_cell, max_rows=100, seed=seed).table


def test_evaluate_when_same_seed_then_same_table() -> None:
    spec = _spec(group_by=["city"], aggregates=[
        {"op": "count"}, SUM_0_100, {"op": "mean", "column": "income", "lower": 0, "upper": 100}])
    first = _table(spec, seed=42)
    assert first.columns == ["city", "count", "sum_income", "mean_income"]
    assert_frame_equal(first, _table(spec, seed=42))


def test_evaluate_when_different_seeds_then_tables_differ() -> None:
    spec = _spec(group_by=["city"])
    tables = {_table(spec, seed=seed).write_csv() for seed in range(10)}
    assert len(tables) > 1


def test_evaluate_when_small_groups_then_suppressed_by_noisy_count() -> None:
    # Group sizes 9, 10, 11 and 100; ε = 10 makes the count noise almost always 0.
    sizes = {"a": 9, "b": 10, "c": 11, "d": 100}
    frame = pl.DataFrame({"g": [g for g, n in sizes.items() for _ in range(n)]})
    spec = _spec(group_by=["g"], aggregates=[{"op": "count"}], epsilon=10.0)
    result = evaluate(frame, spec, min_cell=10, max_rows=200, seed=0)
    assert result.table["g"].to_list() == ["b", "c", "d"]
    assert result.table["count"].to_list() == [10, 11, 100]
    assert (result.cells, result.suppressed_cells) == (4, 1)
    assert (result.epsilon, result.delta) == (10.0, 0.0)


@pytest.mark.parametrize("seed", range(20))
def test_evaluate_when_noisy_then_kept_cells_meet_min_cell_and_counts_add_up(seed: int) -> None:
    frame = pl.DataFrame({"g": [i % 13 for i in range(13 * 12)] + [99] * 3})  # 13 × 12 and 3
    spec = _spec(group_by=["g"], aggregates=[{"op": "count"}], epsilon=0.5)
    result = evaluate(frame, spec, min_cell=12, max_rows=200, seed=seed)
    assert result.table["count"].min() >= 12  # type: ignore[operator]
    assert result.cells == 14
    assert result.table.height + result.suppressed_cells == result.cells


def test_evaluate_when_mean_of_tiny_groups_then_clipped_to_bounds() -> None:
    # One or two rows per group and ε = 0.05: the noisy sum / noisy count is wild.
    spec = _spec(group_by=["city"], epsilon=0.05,
                 aggregates=[{"op": "mean", "column": "income", "lower": 10, "upper": 60}])
    means = np.concatenate([_table(spec, seed=s)["mean_income"].to_numpy() for s in range(30)])
    assert means.size >= 45  # groups with a negative noisy count are suppressed
    assert np.all((means >= 10) & (means <= 60))
    assert np.any((means == 10) | (means == 60))  # clipping did happen


# Noise law. A count has sensitivity 1 and gets two-sided geometric noise with
# p = exp(-share), share = ε / (1 + number of distinct sums) (Ghosh et al. 2009);
# scipy's dlaplace(a) is that law with p = exp(-a).
#   count only, ε = 1: share 1,   Var = 2p/(1-p)² = 1.841; a 2× scale (share 0.5) gives 7.835
#   count + sum, ε = 1: share 0.5, Var = 7.835;           a 2× scale (share 0.25) gives 31.5
# With n = 2000 runs the sample variance has sd ≈ 0.097 (share 1) and ≈ 0.40 (share 0.5),
# so a ±20 % band is ≥ 3.8 sd wide for the right law and the 2× law sits > 60 sd outside.
# The mean has sd sqrt(Var / n) ≈ 0.03 and 0.063; the band ±0.25 and ±0.5 is ~8 sd.
RUNS = 2000
N_ROWS = 60  # far above any noise drawn, so clamping at 0 never bites


@pytest.mark.parametrize(("aggregates", "share", "mean_tolerance"), [
    ([{"op": "count"}], 1.0, 0.25),  # count only: the count gets all of ε
    ([{"op": "count"}, {"op": "sum", "column": "x", "lower": 0, "upper": 1}], 0.5, 0.5),  # split
])
def test_evaluate_when_many_seeded_runs_then_count_noise_is_two_sided_geometric(
    aggregates: list[dict[str, Any]], share: float, mean_tolerance: float
) -> None:
    frame = pl.DataFrame({"x": [1.0] * N_ROWS})
    spec = _spec(aggregates=aggregates, epsilon=1.0)
    noise = np.array([_table(spec, seed=s, frame=frame)["count"][0] - N_ROWS
                      for s in range(RUNS)])
    law = stats.dlaplace(share)
    assert math.isclose(law.var(), 2 * math.exp(-share) / (1 - math.exp(-share)) ** 2)
    assert abs(noise.mean()) < mean_tolerance
    assert noise.var(ddof=1) == pytest.approx(law.var(), rel=0.20)
    # Goodness of fit over -3..3 and the two tails.
    edges = np.arange(-3, 4)
    observed = [np.sum(noise < -3)] + [np.sum(noise == k) for k in edges] + [np.sum(noise > 3)]
    expected = [law.cdf(-4)] + [law.pmf(k) for k in edges] + [law.sf(3)]
    _, p_value = stats.chisquare(observed, np.array(expected) * RUNS)
    assert p_value > 1e-3
