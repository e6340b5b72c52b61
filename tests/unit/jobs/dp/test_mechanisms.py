"""Exact samplers: each draws from its law (seeded chi-square and KS tests)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from jobs.dp import mechanisms
from jobs.dp.mechanisms import NoiseLaw, make_rng

DRAWS = 100_000
LAPLACE, GAUSSIAN = NoiseLaw.discrete_laplace, NoiseLaw.discrete_gaussian


def _chi_square_p(draws: np.ndarray, support: np.ndarray, pmf: np.ndarray) -> float:
    """Goodness of fit, pooling outcomes into cells with at least 20 expected draws."""
    expected = pmf * draws.size
    cells: list[tuple[int, int]] = []  # (first, last) outcome index of a pooled cell
    start, mass = 0, 0.0
    for i, e in enumerate(expected):
        mass += e
        if mass >= 20:
            cells.append((start, i))
            start, mass = i + 1, 0.0
    if start < len(support):  # fold the tail into the last cell
        cells[-1] = (cells[-1][0], len(support) - 1)
    lows, highs = support[[a for a, _ in cells]], support[[b for _, b in cells]]
    observed = [np.sum((draws >= lo) & (draws <= hi)) for lo, hi in zip(lows, highs, strict=True)]
    wanted = [expected[a : b + 1].sum() for a, b in cells]
    outside = draws.size - sum(observed)
    assert outside == 0, "draws outside the law's support window"
    wanted = np.array(wanted) * draws.size / np.sum(wanted)
    return float(stats.chisquare(observed, wanted).pvalue)


def _laplace_pmf(scale: float) -> tuple[np.ndarray, np.ndarray]:
    p = math.exp(-1 / scale)
    reach = math.ceil(60 * scale) + 5
    z = np.arange(-reach, reach + 1)
    return z, (1 - p) / (1 + p) * p ** np.abs(z)


def _gaussian_pmf(sigma2: float) -> tuple[np.ndarray, np.ndarray]:
    reach = math.ceil(40 * math.sqrt(sigma2)) + 5
    z = np.arange(-reach, reach + 1)
    w = np.exp(-(z.astype(float) ** 2) / (2 * sigma2))
    return z, w / w.sum()


@pytest.mark.parametrize(
    ("sensitivity", "epsilon"),
    [
        (1, Fraction(1)),  # the geometric mechanism at ε = 1 (p = 1/e)
        (1, Fraction(5)),  # almost always 0: tests the rejected zero's sign
        (3, Fraction(1, 2)),  # scale 6
        (7, Fraction(1, 10)),  # scale 70
    ],
)
def test_discrete_laplace_when_sampled_then_matches_its_pmf(
    sensitivity: int, epsilon: Fraction
) -> None:
    law = NoiseLaw.discrete_laplace(sensitivity, epsilon)
    draws = law.sample(make_rng(11), DRAWS)
    assert draws.dtype == np.int64
    z, pmf = _laplace_pmf(float(law.scale))
    assert _chi_square_p(draws, z, pmf) > 1e-3


def test_discrete_laplace_when_scale_is_huge_then_ks_matches_continuous_laplace() -> None:
    law = NoiseLaw.discrete_laplace(2**24, Fraction(1, 3))  # scale 2^24 · 3: the real-sum regime
    scale = float(law.scale)
    draws = law.sample(make_rng(12), DRAWS)
    assert stats.kstest(draws / scale, "laplace").pvalue > 1e-3


@pytest.mark.parametrize(
    ("l2_squared", "rho"),
    [
        (1, Fraction(1)),  # σ² = 0.5: mostly 0 and ±1
        (1, Fraction(1, 4)),  # σ² = 2
        (4, Fraction(1, 16)),  # σ² = 32
    ],
)
def test_discrete_gaussian_when_sampled_then_matches_its_pmf(
    l2_squared: int, rho: Fraction
) -> None:
    law = NoiseLaw.discrete_gaussian(l2_squared, rho)
    draws = law.sample(make_rng(13), DRAWS)
    z, pmf = _gaussian_pmf(float(law.scale))
    assert _chi_square_p(draws, z, pmf) > 1e-3


def test_discrete_gaussian_when_sigma_needs_big_integers_then_ks_matches_normal() -> None:
    law = NoiseLaw.discrete_gaussian(2**60, Fraction(1, 2))  # σ = 2^30: exponents beyond int64
    draws = law.sample(make_rng(14), 20_000)
    assert stats.kstest(draws / math.sqrt(law.scale), "norm").pvalue > 1e-3


@pytest.mark.parametrize(
    ("law", "nominal"),
    [
        (LAPLACE(1, Fraction(1, 3)), Fraction(3)),  # scale 3 exactly representable
        (LAPLACE(5, Fraction(0.1)), 5 / Fraction(0.1)),  # ε a binary float, not 1/10
        (GAUSSIAN(9, Fraction(1, 7)), Fraction(63, 2)),  # σ² = 31.5
        (GAUSSIAN(2**40, Fraction(3, 1000)), Fraction(2**40 * 1000, 6)),  # a huge σ²
    ],
)
def test_noise_law_when_built_then_scale_rounds_up_by_a_hair(
    law: NoiseLaw, nominal: Fraction
) -> None:
    assert nominal <= law.scale <= nominal * (1 + Fraction(1, 2**22))


@pytest.mark.parametrize(
    "gamma", [Fraction(0), Fraction(3, 10), Fraction(1), Fraction(5, 2), Fraction(7)]
)
def test_bernoulli_exp_when_sampled_then_frequency_is_exp_minus_gamma(gamma: Fraction) -> None:
    n = 200_000
    num = np.full(n, gamma.numerator, dtype=np.int64)
    den = np.full(n, gamma.denominator, dtype=np.int64)
    hits = int(mechanisms._bernoulli_exp(make_rng(15), num, den).sum())
    assert stats.binomtest(hits, n, math.exp(-gamma)).pvalue > 1e-3


def test_uniform_below_when_bound_beyond_int64_then_exact_range_and_uniform() -> None:
    bound = 3 * 2**70 + 1
    values = mechanisms._uniform_below(make_rng(16), np.full(30_000, bound, dtype=object))
    assert all(0 <= v < bound for v in values)
    thirds = np.array([int(v) * 3 // bound for v in values])  # which third of the range
    assert stats.chisquare(np.bincount(thirds, minlength=3)).pvalue > 1e-3


def test_sample_when_same_seed_then_same_draws_and_os_seed_differs() -> None:
    law = NoiseLaw.discrete_laplace(1, Fraction(1, 2))
    assert np.array_equal(law.sample(make_rng(3), 500), law.sample(make_rng(3), 500))
    assert not np.array_equal(law.sample(make_rng(), 500), law.sample(make_rng(), 500))


def test_noise_law_when_sensitivity_zero_then_no_noise() -> None:
    law = NoiseLaw.discrete_laplace(0, Fraction(1))
    assert np.array_equal(law.sample(make_rng(0), 10), np.zeros(10, dtype=np.int64))


@pytest.mark.parametrize("bad", [(-1, Fraction(1)), (1, Fraction(0)), (1, Fraction(-1))])
def test_noise_law_when_parameters_invalid_then_refused(bad: tuple[int, Fraction]) -> None:
    with pytest.raises(ValueError, match="sensitivity"):
        NoiseLaw.discrete_laplace(*bad)
    with pytest.raises(ValueError, match="sensitivity"):
        NoiseLaw.discrete_gaussian(*bad)
