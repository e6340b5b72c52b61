"""Exact integer noise: discrete Laplace and discrete Gaussian, vectorized over cells.

Every noisy value the engine releases is an integer plus integer noise:
counts are integers, and real-valued sums are measured as integers on a
power-of-two grid (:mod:`jobs.kinds.aggregate.plan`). Mironov (2012) showed that the
textbook Laplace mechanism on doubles leaks the input through the low bits
of the output; integer noise added to an integer has no such holes in its
support, and the samplers below draw it *exactly* from its law, using only
uniform integers (numpy's unbiased bounded-integer draws) and integer
arithmetic — no logarithms, no floating point (Canonne, Kamath, Steinke
2020, Algorithms 1–3). The discrete Laplace is the two-sided geometric
mechanism of Ghosh et al. (2009).

Each sampler works on whole arrays: rejection loops draw batches of
candidates for all cells at once, so the number of Python iterations is the
number of rejection rounds (a handful), not the number of cells.

Randomness is a :class:`numpy.random.Generator` (PCG64) seeded with 128
bits from the operating system (:mod:`secrets`), fresh per job, unless a
test passes a seed.

References:
    Canonne, C., Kamath, G., Steinke, T. (2020). The Discrete Gaussian for
    Differential Privacy. NeurIPS.
    Ghosh, A., Roughgarden, T., Sundararajan, M. (2009). Universally
    utility-maximizing privacy mechanisms. STOC.
    Mironov, I. (2012). On significance of the least significant bits for
    differential privacy. CCS.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
#: Integer arrays that may be int64 or Python ints (object), whichever the magnitudes need.
_Ints = npt.NDArray[Any]

#: Keep int64 products below this; beyond it the samplers switch to Python integers.
_SAFE = 1 << 62
_WORD_BITS = 62
#: Relative precision kept when a noise scale is rounded up to the sampler's rational form.
_PRECISION_BITS = 24

NoiseKind = Literal["laplace", "gaussian"]


def make_rng(seed: int | None = None) -> np.random.Generator:
    """A generator seeded from the OS (``secrets``), or from ``seed`` in tests."""
    return np.random.Generator(np.random.PCG64(secrets.randbits(128) if seed is None else seed))


@dataclass(frozen=True, slots=True)
class NoiseLaw:
    """An integer noise distribution, with the exact parameter the sampler uses.

    Attributes:
        kind: ``laplace``: P(z) ∝ exp(-|z| / scale); ``gaussian``: P(z) ∝ exp(-z² / (2 scale)).
        scale: The Laplace scale b, or the Gaussian variance parameter σ². Always
            at least the nominal value the privacy calibration asked for: the
            rounding to a rational the sampler can use only adds noise.
    """

    kind: NoiseKind
    scale: Fraction

    @classmethod
    def discrete_laplace(cls, sensitivity: int, epsilon: Fraction) -> NoiseLaw:
        """Discrete Laplace for an ℓ1 ``sensitivity`` (integer units) at ``epsilon``.

        The law is ``epsilon``-DP for integer queries whose ℓ1 sensitivity is
        ``sensitivity`` (Ghosh et al. 2009; Canonne et al. 2020).
        """
        if sensitivity < 0 or epsilon <= 0:
            raise ValueError("sensitivity must be >= 0 and epsilon > 0")
        scale = _round_up(Fraction(sensitivity) / epsilon)
        if scale.numerator >= _SAFE:  # the sampler draws uniforms below the numerator in int64
            raise ValueError("noise scale out of the supported range; raise epsilon")
        return cls("laplace", scale)

    @classmethod
    def discrete_gaussian(cls, l2_squared: int, rho: Fraction) -> NoiseLaw:
        """Discrete Gaussian for a squared ℓ2 sensitivity at ``rho``-zCDP.

        σ² = Δ₂² / (2ρ) gives ρ-zCDP (Canonne et al. 2020).
        """
        if l2_squared < 0 or rho <= 0:
            raise ValueError("sensitivity must be >= 0 and rho > 0")
        return cls("gaussian", _round_up(Fraction(l2_squared) / (2 * rho)))

    @property
    def nominal_scale(self) -> float:
        """The scale as a float: b (Laplace) or σ (Gaussian), for reporting."""
        return float(self.scale) if self.kind == "laplace" else math.sqrt(self.scale)

    def sample(self, rng: np.random.Generator, size: int) -> IntArray:
        """``size`` independent exact draws."""
        if size == 0 or self.scale == 0:
            return np.zeros(size, dtype=np.int64)
        if self.kind == "laplace":
            return sample_discrete_laplace(rng, self.scale.denominator, self.scale.numerator, size)
        return sample_discrete_gaussian(rng, self.scale.numerator, self.scale.denominator, size)


def _round_up(value: Fraction) -> Fraction:
    """``value`` rounded up to ``m / 2^e`` with about ``_PRECISION_BITS`` bits in ``m``."""
    if value == 0:
        return value
    magnitude = value.numerator.bit_length() - value.denominator.bit_length()
    shift = max(0, _PRECISION_BITS - magnitude)
    return Fraction(-((-value.numerator << shift) // value.denominator), 1 << shift)


# --- exact Bernoulli draws ------------------------------------------------------------------


def _uniform_below(rng: np.random.Generator, bound: _Ints) -> _Ints:
    """Uniform integers in ``[0, bound[i])``, exactly, for bounds of any size.

    int64 bounds use numpy's unbiased bounded draws; Python-int bounds are
    built from 62-bit words, truncated to each bound's bit length, and
    rejected when too large (acceptance at least 1/2 per round).
    """
    if bound.dtype != object:
        return rng.integers(0, bound, dtype=np.int64)
    bits = np.frompyfunc(int.bit_length, 1, 1)(bound - 1)
    words = max(1, -(-int(bits.max()) // _WORD_BITS))
    out = np.empty(bound.size, dtype=object)
    pending = np.arange(bound.size)
    while pending.size:
        draws = rng.integers(0, 1 << _WORD_BITS, size=(words, pending.size), dtype=np.int64)
        value = draws[0].astype(object)
        for word in range(1, words):
            value = value + (draws[word].astype(object) << (_WORD_BITS * word))
        value = value >> (words * _WORD_BITS - bits[pending])
        ok = (value < bound[pending]).astype(bool)
        out[pending[ok]] = value[ok]
        pending = pending[~ok]
    return out


def _bernoulli(rng: np.random.Generator, num: _Ints, den: _Ints) -> BoolArray:
    """Independent Bernoulli(num[i] / den[i]) draws, 0 <= num <= den."""
    return np.asarray(_uniform_below(rng, den) < num, dtype=bool)


def _widen(values: _Ints, factor: int) -> _Ints:
    """``values`` as Python ints when ``values * factor`` could overflow int64."""
    if values.dtype != object and values.size and int(values.max()) * factor >= _SAFE:
        return values.astype(object)
    return values


def _bernoulli_exp_unit(rng: np.random.Generator, num: _Ints, den: _Ints) -> BoolArray:
    """Bernoulli(exp(-num/den)) for 0 <= num/den <= 1 (Canonne et al. 2020, Alg. 1)."""
    out = np.zeros(num.size, dtype=bool)
    k = np.ones(num.size, dtype=np.int64)
    pending = np.arange(num.size)
    while pending.size:
        kk = k[pending]
        scaled = _widen(den[pending], int(kk.max())) * kk
        success = _bernoulli(rng, num[pending], scaled)
        stopped = pending[~success]
        out[stopped] = k[stopped] % 2 == 1
        pending = pending[success]
        k[pending] += 1
    return out


def _bernoulli_exp_one(rng: np.random.Generator, size: int) -> BoolArray:
    """Bernoulli(exp(-1)) draws."""
    ones = np.ones(size, dtype=np.int64)
    return _bernoulli_exp_unit(rng, ones, ones)


def _bernoulli_exp(rng: np.random.Generator, num: _Ints, den: _Ints) -> BoolArray:
    """Bernoulli(exp(-num/den)) for num/den >= 0 (Canonne et al. 2020, Alg. 1, γ > 1 case).

    exp(-γ) = exp(-1)^⌊γ⌋ · exp(-(γ - ⌊γ⌋)): one Bernoulli(exp(-1)) per whole
    unit of γ, stopping at the first failure, then the fractional part.
    """
    whole = num // den
    frac = num - whole * den
    if whole.dtype == object:  # beyond 2^62 rounds nothing survives; cap to stay in int64
        whole = np.minimum(whole, _SAFE).astype(np.int64)
    alive = np.ones(num.size, dtype=bool)
    remaining = np.array(whole, dtype=np.int64)
    pending = np.flatnonzero(remaining > 0)
    while pending.size:
        survived = _bernoulli_exp_one(rng, pending.size)
        alive[pending[~survived]] = False
        remaining[pending] -= 1
        pending = pending[survived & (remaining[pending] > 0)]
    idx = np.flatnonzero(alive)
    alive[idx] = _bernoulli_exp_unit(rng, frac[idx], den[idx])
    return alive


# --- samplers -------------------------------------------------------------------------------


def _geometric_exp_one(rng: np.random.Generator, size: int) -> IntArray:
    """Successes before the first failure in Bernoulli(exp(-1)) trials."""
    out = np.zeros(size, dtype=np.int64)
    running = np.arange(size)
    while running.size:
        running = running[_bernoulli_exp_one(rng, running.size)]
        out[running] += 1
    return out


def sample_discrete_laplace(rng: np.random.Generator, s: int, t: int, size: int) -> IntArray:
    """Exact draws with P(z) ∝ exp(-|z| s / t), i.e. discrete Laplace of scale t/s.

    Canonne et al. (2020), Algorithm 2: a geometric variable with parameter
    exp(-1/t) built from a uniform remainder accepted with probability
    exp(-U/t) and a run of Bernoulli(exp(-1)) successes, divided by ``s``,
    with a random sign (a zero is rejected half the time). Candidates are
    drawn in batches larger than needed and the first accepted ones kept:
    accepted candidates are independent draws from the target law.

    Args:
        rng: The generator.
        s: Positive integer.
        t: Positive integer.
        size: Number of draws.
    """
    chunks: list[IntArray] = []
    needed = size
    while needed > 0:
        m = needed * 8 // 5 + 16  # acceptance is about 1 - 1/e
        u = rng.integers(0, t, size=m, dtype=np.int64)
        keep = _bernoulli_exp_unit(rng, u, np.full(m, t, dtype=np.int64))
        x = _widen(_geometric_exp_one(rng, m), t) * t + u
        y = np.asarray(x // s, dtype=np.int64)
        negative = rng.integers(0, 2, size=m, dtype=np.int64).astype(bool)
        accept = keep & ~(negative & (y == 0))
        drawn = np.where(negative, -y, y)[accept][:needed]
        chunks.append(drawn)
        needed -= drawn.size
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)


def sample_discrete_gaussian(rng: np.random.Generator, a: int, b: int, size: int) -> IntArray:
    """Exact draws with P(z) ∝ exp(-z² / (2σ²)), σ² = a/b.

    Canonne et al. (2020), Algorithm 3: discrete Laplace proposals of scale
    t = ⌊σ⌋ + 1, accepted with probability exp(-(|y| - σ²/t)² / (2σ²)).
    The acceptance exponent is the exact rational
    (|y|·t·b - a)² / (2·a·b·t²), in Python integers when it outgrows int64.

    Args:
        rng: The generator.
        a: Positive integer numerator of σ².
        b: Positive integer denominator of σ².
        size: Number of draws.
    """
    t = math.isqrt(a // b) + 1
    den = 2 * a * b * t * t
    chunks: list[IntArray] = []
    needed = size
    while needed > 0:
        m = 2 * needed + 16
        y = sample_discrete_laplace(rng, 1, t, m)
        dist = np.abs(y)
        largest = (int(dist.max()) * t * b + a) if m else 0
        if largest * largest < _SAFE and den < _SAFE:
            diff: _Ints = dist * (t * b) - a
            dens: _Ints = np.full(m, den, dtype=np.int64)
        else:
            diff = dist.astype(object) * (t * b) - a
            dens = np.full(m, den, dtype=object)
        drawn = y[_bernoulli_exp(rng, diff * diff, dens)][:needed]
        chunks.append(drawn)
        needed -= drawn.size
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)
