"""Empirical privacy loss on neighbouring tables, and the same check catching broken mechanisms.

D and D' differ by one person who has 50 rows at the upper bound, so only
contribution bounding keeps the sensitivity at k = 2 rows; in a second pair
the person has no ID (a null privacy unit), so only dropping such rows keeps
them from sharing, and displacing, another ID-less person's quota. Each statistic is
released many times on both tables (one vectorized release per table); for
threshold events E = {X ≥ t} and {X < t} over the pooled quantiles, a
Clopper–Pearson lower confidence bound on ln(P_D(E) / P_D'(E)) (both ways,
Bonferroni over all events) is a lower bound on the true privacy loss, so it
must not exceed what the plan claims for that statistic: ε / m per noisy
measurement it is computed from (m measurements share the job's ε). The
same check must flag a mechanism whose bounding is switched off and one
whose sensitivity is under-stated by 2×. Neighbour-probability checks of
this kind follow diffprivlib's and OpenDP's test suites.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
import polars as pl
import pytest
from scipy import stats

from jobs.dp.mechanisms import NoiseLaw
from jobs.kinds import parse_job_spec
from jobs.kinds.aggregate import exact
from jobs.kinds.aggregate.engine import DatasetContext, plan
from jobs.kinds.aggregate.spec import AggregateSpec
from tests.unit.jobs.dp.helpers import repeated

EPSILON = 1.0
K = 2
RUNS = 60_000
ALPHA = 1e-3
CONTEXT = DatasetContext(privacy_unit="pid", max_rows=10_000)


def _neighbours() -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(2024)
    people = 300
    rows = rng.integers(1, 4, people)
    base = pl.DataFrame(
        {
            "pid": np.repeat(np.arange(people), rows),
            "income": rng.uniform(0, 100, int(rows.sum())),
        }
    )
    heavy = pl.DataFrame({"pid": [10_000] * 50, "income": [100.0] * 50})
    return base, pl.concat([base, heavy])


NEIGHBOURS = _neighbours()
CASES = {
    "count": ({"op": "count"}, "count"),
    "sum": ({"op": "sum", "column": "income", "lower": 0, "upper": 100}, "sum_income"),
    "mean": ({"op": "mean", "column": "income", "lower": 0, "upper": 100}, "mean_income"),
}


def _spec(aggregate: dict[str, Any]) -> AggregateSpec:
    return parse_job_spec(
        {
            "kind": "aggregate",
            "dataset": "d",
            "epsilon": EPSILON,
            "max_rows_per_unit": K,
            "aggregates": [aggregate],
        }
    )


def claimed_epsilon(spec: AggregateSpec) -> float:
    """ε the plan spends on the measurements the (single) aggregate is computed from."""
    job = plan(spec, CONTEXT)
    (use,) = job.uses
    used = {use.value, use.denominator, use.squares} - {None}
    return EPSILON * len(used) / len(job.measurements)


def observed_epsilon(a: np.ndarray, b: np.ndarray) -> float:
    """A lower confidence bound (level 1 - ALPHA) on max over events of |ln P_a(E)/P_b(E)|."""
    n = a.size
    cuts = np.unique(np.quantile(np.concatenate([a, b]), np.linspace(0.002, 0.998, 80)))
    tests = 2 * 2 * len(cuts)  # two tails per cut, two directions per tail
    level = ALPHA / (2 * tests)  # each ratio uses two one-sided bounds
    best = 0.0
    for cut in cuts:
        for in_a, in_b in ((a >= cut, b >= cut), (a < cut, b < cut)):
            for hits, other in ((in_a.sum(), in_b.sum()), (in_b.sum(), in_a.sum())):
                if hits == 0:
                    continue
                low = stats.beta.ppf(level, hits, n - hits + 1)
                high = stats.beta.ppf(1 - level, other + 1, n - other) if other < n else 1.0
                best = max(best, math.log(low / high))
    return best


def _loss(case: str, seed: int) -> tuple[float, float]:
    aggregate, column = CASES[case]
    spec = _spec(aggregate)
    d, d_prime = NEIGHBOURS
    a = repeated(d, spec, CONTEXT, RUNS, seed)[column].to_numpy()
    b = repeated(d_prime, spec, CONTEXT, RUNS, seed + 1)[column].to_numpy()
    return observed_epsilon(a, b), claimed_epsilon(spec)


@pytest.mark.parametrize("case", list(CASES))
def test_privacy_loss_when_person_has_many_rows_then_within_claimed_epsilon(case: str) -> None:
    observed, claimed = _loss(case, seed=100)
    assert observed <= claimed
    if case != "mean":  # a count or a sum alone is tight: the check has the power to see it
        assert observed >= 0.8 * claimed


def _null_unit_neighbours() -> tuple[pl.DataFrame, pl.DataFrame]:
    """D holds one person without an ID (2 rows at the lower bound); D' adds another (50 rows).

    Pooled under one null "unit", the newcomer's rows would displace the first
    person's within one quota of k rows: a sum over [-100, 100] would move by
    2 · k · 100, twice the sensitivity k · 100 the noise is sized for.
    """
    base, _ = NEIGHBOURS
    pid = base.schema["pid"]
    first = pl.DataFrame({"pid": pl.Series([None, None], dtype=pid), "income": [-100.0, -101.0]})
    newcomer = pl.DataFrame(
        {"pid": pl.Series([None] * 50, dtype=pid), "income": [100.0 + i for i in range(50)]}
    )
    d = pl.concat([base, first])
    return d, pl.concat([d, newcomer])


def test_privacy_loss_when_neighbours_differ_by_a_person_without_id_then_within_claimed() -> None:
    spec = _spec({"op": "sum", "column": "income", "lower": -100, "upper": 100})
    d, d_prime = _null_unit_neighbours()
    a = repeated(d, spec, CONTEXT, RUNS, 400)["sum_income"].to_numpy()
    b = repeated(d_prime, spec, CONTEXT, RUNS, 401)["sum_income"].to_numpy()
    assert observed_epsilon(a, b) <= claimed_epsilon(spec)


@pytest.fixture
def bounding_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Break the engine: keep every row of every person (noise still calibrated for k)."""
    monkeypatch.setattr(exact, "bound_contributions", lambda frame, *args, **kwargs: frame)
    monkeypatch.setattr(exact, "bound_every_unit", lambda frame, *args, **kwargs: frame)


@pytest.mark.usefixtures("bounding_off")
@pytest.mark.parametrize("case", list(CASES))
def test_privacy_loss_when_bounding_disabled_then_the_check_catches_it(case: str) -> None:
    observed, claimed = _loss(case, seed=200)
    assert observed > claimed


@pytest.fixture
def sensitivity_halved(monkeypatch: pytest.MonkeyPatch) -> None:
    """Break the engine: calibrate the Laplace noise to half the true sensitivity."""
    honest = NoiseLaw.discrete_laplace.__func__  # type: ignore[attr-defined]

    def understated(cls: type[NoiseLaw], sensitivity: int, epsilon: Fraction) -> NoiseLaw:
        return honest(cls, Fraction(sensitivity, 2), epsilon)  # type: ignore[no-any-return]

    monkeypatch.setattr(NoiseLaw, "discrete_laplace", classmethod(understated))


@pytest.mark.usefixtures("sensitivity_halved")
@pytest.mark.parametrize("case", ["count", "sum"])
def test_privacy_loss_when_sensitivity_understated_then_the_check_catches_it(case: str) -> None:
    observed, claimed = _loss(case, seed=300)
    assert observed > claimed
