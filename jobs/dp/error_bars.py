"""Error bars: what the noise law says about the error of each released value.

For a noisy count, sum or histogram bin the error *is* the noise (a sum
also carries its grid rounding, at most half a grid step per row, far below
the noise), so the 95 % interval is exact: the half-width is the smallest integer m with
P(|Z| > m) <= 5 % under the law the sampler used. For the discrete Laplace
with p = exp(-1/b), P(|Z| > m) = 2 p^(m+1) / (1 + p) (Ghosh et al. 2009).
For the discrete Gaussian the tail is summed from the probability mass
function when σ is small and taken from the normal law (with a continuity
correction) when σ > 64, where the two agree to far below a rounding error
(Canonne et al. 2020: the discrete Gaussian's variance approaches σ²
exponentially fast in σ²).

Ratios (mean, variance) and quantiles are post-processing of several noisy
values; their intervals are approximations, documented at each function:
the delta method for ratios, a normal rank error for quantiles.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from jobs.dp.mechanisms import NoiseLaw

FloatArray = npt.NDArray[np.float64]
#: Two-sided 95 % normal quantile.
Z95 = 1.959963984540054
_LEVEL = 0.95
_SMALL_SIGMA = 64.0


def _laplace_p(law: NoiseLaw) -> float:
    return math.exp(-1.0 / float(law.scale)) if law.scale > 0 else 0.0


@lru_cache(maxsize=256)
def _gaussian_pmf(sigma2: float) -> tuple[FloatArray, FloatArray]:
    """(support, pmf) of a small-σ discrete Gaussian, truncated where mass < 1e-300."""
    sigma = math.sqrt(sigma2)
    reach = math.ceil(40 * sigma) + 2
    z = np.arange(-reach, reach + 1, dtype=np.float64)
    weights = np.exp(-(z * z) / (2 * sigma2))
    return z, weights / weights.sum()


def variance(law: NoiseLaw) -> float:
    """Var(Z) of the noise, in integer units."""
    if law.scale == 0:
        return 0.0
    if law.kind == "laplace":
        p = _laplace_p(law)
        return 2 * p / (1 - p) ** 2
    sigma2 = float(law.scale)
    if math.sqrt(sigma2) > _SMALL_SIGMA:
        return sigma2
    z, pmf = _gaussian_pmf(sigma2)
    return float(np.sum(z * z * pmf))


def mean_absolute(law: NoiseLaw) -> float:
    """E|Z| of the noise, in integer units."""
    if law.scale == 0:
        return 0.0
    if law.kind == "laplace":
        p = _laplace_p(law)
        return 2 * p / (1 - p * p)
    sigma2 = float(law.scale)
    if math.sqrt(sigma2) > _SMALL_SIGMA:
        return math.sqrt(sigma2) * math.sqrt(2 / math.pi)
    z, pmf = _gaussian_pmf(sigma2)
    return float(np.sum(np.abs(z) * pmf))


def tail_two_sided(law: NoiseLaw, m: int) -> float:
    """P(|Z| > m)."""
    if law.scale == 0:
        return 0.0
    if law.kind == "laplace":
        p = _laplace_p(law)
        return 2 * p ** (m + 1) / (1 + p)
    sigma2 = float(law.scale)
    sigma = math.sqrt(sigma2)
    if sigma > _SMALL_SIGMA:
        return math.erfc((m + 0.5) / (sigma * math.sqrt(2)))
    z, pmf = _gaussian_pmf(sigma2)
    return float(pmf[np.abs(z) > m].sum())


def half_width(law: NoiseLaw, level: float = _LEVEL) -> int:
    """Smallest integer m with P(|Z| <= m) >= ``level``: the exact interval half-width.

    >>> from fractions import Fraction
    >>> half_width(NoiseLaw.discrete_laplace(1, Fraction(1)))  # geometric noise at ε = 1
    3
    """
    alpha = 1 - level
    if law.scale == 0:
        return 0
    if law.kind == "laplace":
        p = _laplace_p(law)
        guess = max(0, math.ceil(math.log(alpha * (1 + p) / 2) / math.log(p)) - 1) if p > 0 else 0
    else:
        guess = max(0, math.ceil(Z95 * math.sqrt(float(law.scale)) - 0.5))
    m = guess
    while m > 0 and tail_two_sided(law, m - 1) <= alpha:
        m -= 1
    while tail_two_sided(law, m) > alpha:
        m += 1
    return m


def below(law: NoiseLaw, expected: float, threshold: int) -> float:
    """P(expected + Z < threshold): how likely a count of ``expected`` is released below it.

    Exact for the symmetric integer laws (``expected`` is rounded down to a whole count):
    P(Z <= t - 1 - n) = P(Z >= n - t + 1), and P(Z >= m) = P(|Z| > m - 1) / 2 for m >= 1.

    >>> from fractions import Fraction
    >>> law = NoiseLaw.discrete_laplace(1, Fraction(1))
    >>> round(below(law, 10, 10), 3), below(law, 30, 10) < 1e-9
    (0.269, True)
    """
    m = math.floor(expected) - threshold + 1
    if law.scale == 0:
        return 0.0 if m >= 1 else 1.0
    if m >= 1:
        return tail_two_sided(law, m - 1) / 2
    return 1.0 - tail_two_sided(law, -m) / 2


def tail_at_least(law: NoiseLaw, m: int) -> float:
    """An upper bound on P(Z >= m) for m >= 1, as partition selection needs.

    Discrete Laplace: exactly p^m / (1 + p). Discrete Gaussian: the
    sub-Gaussian bound exp(-m² / (2σ²)): the discrete Gaussian is σ²-sub-Gaussian
    (Canonne et al. 2020).
    """
    if m <= 0:
        return 1.0
    if law.scale == 0:
        return 0.0
    if law.kind == "laplace":
        p = _laplace_p(law)
        return p**m / (1 + p)
    return math.exp(-(m * m) / (2 * float(law.scale)))


def ratio_half_width(
    numerator: FloatArray, var_num: float, denominator: FloatArray, var_den: float
) -> FloatArray:
    """95 % half-width of numerator / denominator by the delta method.

    Approximation: treats both noises as normal and independent and uses the
    noisy values in place of the true ones, Var(a/n) ≈ (Var a + (a/n)² Var n) / n²;
    good once the noisy denominator is several noise scales above zero, too
    narrow for tiny groups (which suppression usually hides).
    """
    n = np.maximum(denominator, 1.0)
    ratio = numerator / n
    return np.asarray(Z95 * np.sqrt(var_num + ratio * ratio * var_den) / n, dtype=np.float64)


def variance_half_width(
    squares: FloatArray,
    var_squares: float,
    sums: FloatArray,
    var_sums: float,
    counts: FloatArray,
    var_counts: float,
) -> FloatArray:
    """95 % half-width of v = A/n - (B/n)² (A sum of squares, B sum) by the delta method.

    Approximation as in :func:`ratio_half_width`: ∂v/∂A = 1/n,
    ∂v/∂B = -2B/n², ∂v/∂n = -A/n² + 2B²/n³, noises normal and independent.
    """
    n = np.maximum(counts, 1.0)
    d_a = 1.0 / n
    d_b = -2.0 * sums / (n * n)
    d_n = -squares / (n * n) + 2.0 * sums * sums / (n * n * n)
    spread = d_a * d_a * var_squares + d_b * d_b * var_sums + d_n * d_n * var_counts
    return np.asarray(Z95 * np.sqrt(spread), dtype=np.float64)
