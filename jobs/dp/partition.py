"""DP partition selection: which discovered group keys may appear at all.

A group key the catalog does not declare public is itself data: a group
with one person proves that person's key exists. The engine therefore
releases a discovered group only when its noisy count of people clears a
threshold τ chosen so that a group created by one person — whose true
count is at most 1 in each of the at most g groups that person reaches —
shows up with probability at most δ overall (Korolova et al. 2009;
Wilson et al. 2020 for bounded contributions; Desfontaines et al. 2022 for
the analysis of thresholded Laplace and Gaussian noise):

    g · P(1 + Z ≥ τ) ≤ δ.

Groups present in both neighbouring tables are covered by the noise's own
ε (Laplace) or ρ (Gaussian); the new groups cost only δ.

References:
    Korolova, A., Kenthapadi, K., Mishra, N., Ntoulas, A. (2009). Releasing
    search queries and clicks privately. WWW.
    Wilson, R. J., Zhang, C. Y., Lam, W., Desfontaines, D., Simmons-Marengo,
    D., Gipson, B. (2020). Differentially Private SQL with Bounded User
    Contribution. PoPETs.
    Desfontaines, D., Voss, J., Gipson, B., Mandayam, C. (2022).
    Differentially private partition selection. PoPETs.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from jobs.dp.error_bars import tail_at_least
from jobs.dp.mechanisms import NoiseLaw


def selection_threshold(law: NoiseLaw, groups_per_unit: int, delta: float) -> int:
    """Smallest τ >= 2 with ``groups_per_unit`` · P(1 + Z >= τ) <= ``delta``.

    Args:
        law: The noise on the per-group count of people.
        groups_per_unit: How many groups one person can reach (after bounding).
        delta: δ spent on selection.

    Returns:
        τ: release a discovered group when its noisy count of people is >= τ.

    >>> from fractions import Fraction
    >>> selection_threshold(NoiseLaw.discrete_laplace(1, Fraction(1)), 1, 1e-6)
    15
    """
    if not 0 < delta < 1:
        raise ValueError("partition selection needs delta in (0, 1)")
    target = delta / groups_per_unit
    if law.kind == "laplace":
        p = math.exp(-1.0 / float(law.scale))
        m = max(1, math.ceil(math.log(target * (1 + p)) / math.log(p)))
    else:
        m = max(1, math.ceil(math.sqrt(2 * float(law.scale) * math.log(1 / target))))
    while tail_at_least(law, m) > target:  # float rounding in the closed forms
        m += 1
    return m + 1


def select(noisy_units: npt.NDArray[np.int64], threshold: int) -> npt.NDArray[np.bool_]:
    """Which groups clear the threshold."""
    return np.asarray(noisy_units >= threshold, dtype=bool)
