"""Error bars: exact intervals for counts and sums, approximate ones for ratios, estimates."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import polars as pl
import pytest
from scipy import stats

from jobs.dp import error_bars
from jobs.dp.mechanisms import NoiseLaw
from jobs.kinds.aggregate.engine import DatasetContext, estimate
from jobs.kinds.aggregate.spec import AggregateSpec
from jobs.spec import parse_job_spec
from tests.unit.jobs.dp.helpers import repeated

RUNS = 20_000
FRAME = pl.DataFrame({"x": np.linspace(0.0, 100.0, 400)})  # 400 people, mean 50
CONTEXT = DatasetContext(max_rows=1000)


def _spec(aggregates: list[dict[str, Any]], **overrides: Any) -> AggregateSpec:
    base: dict[str, Any] = {
        "kind": "aggregate",
        "dataset": "d",
        "epsilon": 0.5,
        "aggregates": aggregates,
    }
    return parse_job_spec(base | overrides)


@pytest.mark.parametrize(
    "law",
    [
        NoiseLaw.discrete_laplace(1, Fraction(1)),  # geometric at ε = 1
        NoiseLaw.discrete_laplace(2, Fraction(1, 10)),  # scale 20
        NoiseLaw.discrete_gaussian(1, Fraction(1, 2)),  # σ = 1: summed pmf
        NoiseLaw.discrete_gaussian(1, Fraction(1, 20_000)),  # σ = 100: normal law
    ],
)
def test_half_width_when_computed_then_smallest_m_with_95_percent(law: NoiseLaw) -> None:
    m = error_bars.half_width(law)
    assert error_bars.tail_two_sided(law, m) <= 0.05
    assert m == 0 or error_bars.tail_two_sided(law, m - 1) > 0.05


def test_noise_moments_when_laplace_then_match_scipy_dlaplace() -> None:
    law = NoiseLaw.discrete_laplace(1, Fraction(1, 2))
    reference = stats.dlaplace(0.5)
    assert error_bars.variance(law) == pytest.approx(reference.var())
    assert error_bars.mean_absolute(law) == pytest.approx(reference.expect(abs))


@pytest.mark.parametrize(
    ("aggregate", "column", "truth"),
    [
        ({"op": "count"}, "count", 400),  # exact interval
        ({"op": "sum", "column": "x", "lower": 0, "upper": 100}, "sum_x", 20_000.0),  # exact
    ],
)
def test_intervals_when_noise_exact_then_cover_at_their_computed_rate(
    aggregate: dict[str, Any], column: str, truth: float
) -> None:
    spec = _spec([aggregate])
    table = repeated(FRAME, spec, CONTEXT, RUNS, seed=21)
    covered = ((table[f"{column}_ci_low"] <= truth) & (truth <= table[f"{column}_ci_high"])).sum()
    # Sums lose a grid step or so to rounding; far below the noise scale.
    rate = covered / RUNS
    assert 0.95 <= rate + 3 * np.sqrt(0.05 * 0.95 / RUNS)
    assert rate <= 0.97  # not grossly conservative either


def test_intervals_when_mean_of_large_group_then_delta_method_covers_about_95() -> None:
    spec = _spec([{"op": "mean", "column": "x", "lower": 0, "upper": 100}])
    table = repeated(FRAME, spec, CONTEXT, RUNS, seed=22)
    covered = ((table["mean_x_ci_low"] <= 50) & (50 <= table["mean_x_ci_high"])).mean()
    assert 0.93 <= covered <= 0.975  # type: ignore[operator]


@pytest.mark.parametrize(
    ("aggregate", "column", "truth"),
    [
        ({"op": "count"}, "count", 400),
        ({"op": "sum", "column": "x", "lower": 0, "upper": 100}, "sum_x", 20_000.0),
        ({"op": "mean", "column": "x", "lower": 0, "upper": 100}, "mean_x", 50.0),
    ],
)
def test_estimate_when_compared_with_runs_then_expected_error_is_honest(
    aggregate: dict[str, Any], column: str, truth: float
) -> None:
    spec = _spec([aggregate])
    predicted = estimate(spec, CONTEXT, group_size=400).aggregates[0]
    table = repeated(FRAME, spec, CONTEXT, RUNS, seed=23)
    observed = float(np.mean(np.abs(table[column].to_numpy() - truth)))
    if column == "mean_x":  # a worst case over values within the bounds: at least the truth
        assert observed <= predicted.expected_abs_error * 1.05
    else:
        assert observed == pytest.approx(predicted.expected_abs_error, rel=0.05)
    assert predicted.group_size == (400 if column == "mean_x" else None)


def test_estimate_when_called_then_cost_threshold_and_one_entry_per_aggregate() -> None:
    spec = _spec(
        [
            {"op": "count"},
            {"op": "median", "column": "x", "lower": 0, "upper": 100},
            {"op": "variance", "column": "x", "lower": 0, "upper": 100},
            {"op": "histogram", "column": "x", "bins": [0, 50, 100]},
        ],
        group_by=["g"],
        delta=1e-6,
    )
    est = estimate(spec, DatasetContext(min_cell=10))
    assert (est.epsilon, est.delta, est.noise, est.min_cell) == (0.5, 1e-6, "laplace", 10)
    assert est.threshold is not None and est.threshold > 10
    assert [a.name for a in est.aggregates] == ["count", "median_x", "variance_x", "histogram_x"]
    assert all(a.ci_half_width >= a.expected_abs_error > 0 for a in est.aggregates)
    assert est.aggregates[1].ci_half_width <= 100  # never wider than the range
    assert est.as_dict()["aggregates"][0]["name"] == "count"
