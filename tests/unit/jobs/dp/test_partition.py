"""DP partition selection: the threshold keeps a one-person group's chance of showing below δ."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from jobs.dp.error_bars import tail_at_least
from jobs.dp.mechanisms import NoiseLaw, make_rng
from jobs.dp.partition import selection_threshold


@pytest.mark.parametrize(
    ("law", "groups", "delta"),
    [
        (NoiseLaw.discrete_laplace(1, Fraction(1)), 1, 1e-6),  # one group per person
        (NoiseLaw.discrete_laplace(3, Fraction(1, 2)), 3, 1e-8),  # three groups: each gets δ/3
        (NoiseLaw.discrete_laplace(1, Fraction(10)), 1, 1e-4),  # little noise: a low threshold
        (NoiseLaw.discrete_gaussian(1, Fraction(1, 2)), 1, 1e-6),  # σ = 1
        (NoiseLaw.discrete_gaussian(4, Fraction(1, 100)), 4, 1e-9),  # σ ≈ 14, four groups
    ],
)
def test_selection_threshold_when_computed_then_smallest_that_meets_delta(
    law: NoiseLaw, groups: int, delta: float
) -> None:
    tau = selection_threshold(law, groups, delta)
    assert tau >= 2
    assert groups * tail_at_least(law, tau - 1) <= delta  # P(1 + Z >= τ) = P(Z >= τ - 1)
    if tau > 2:
        assert groups * tail_at_least(law, tau - 2) > delta  # one lower would not do


@pytest.mark.parametrize(
    "law",
    [NoiseLaw.discrete_laplace(1, Fraction(1, 2)), NoiseLaw.discrete_gaussian(1, Fraction(1, 8))],
)
def test_selection_threshold_when_simulated_then_lonely_group_shows_at_most_delta(
    law: NoiseLaw,
) -> None:
    delta, draws = 0.01, 200_000  # a large δ so that the rate is measurable
    tau = selection_threshold(law, 1, delta)
    shown = int(np.sum(1 + law.sample(make_rng(5), draws) >= tau))
    # one-sided: the observed rate is not significantly above δ
    assert stats.binomtest(shown, draws, delta, alternative="greater").pvalue > 1e-3


def test_selection_threshold_when_delta_invalid_then_refused() -> None:
    with pytest.raises(ValueError, match="delta"):
        selection_threshold(NoiseLaw.discrete_laplace(1, Fraction(1)), 1, 0.0)


def test_tail_at_least_when_laplace_then_matches_the_pmf() -> None:
    law = NoiseLaw.discrete_laplace(1, Fraction(1, 2))  # scale 2
    p = np.exp(-0.5)
    z = np.arange(3, 400)
    exact = float(np.sum((1 - p) / (1 + p) * p**z))
    assert tail_at_least(law, 3) == pytest.approx(exact, rel=1e-9)
    assert tail_at_least(law, 0) == 1.0
