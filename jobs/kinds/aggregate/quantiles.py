"""Quantiles from a noisy binary tree of counts over [lower, upper], vectorized over groups.

The range is cut into 2^D equal leaves; every node of the tree (levels 1..D)
gets its exact row count plus independent noise. A row sits in one node per
level, so the tree's ℓ1 sensitivity is D·k (:mod:`jobs.kinds.aggregate.plan`). A quantile
is found by walking down from the root: go left while the target rank fits in
the left child's noisy count, otherwise subtract it and go right; inside the
leaf, interpolate linearly. Only the D noises on the path (not all leaves up
to the target) perturb the rank, which is why a tree beats a flat cumulative
histogram (hierarchical histograms: Hay et al. 2010; Qardaji et al. 2013).

Interval (approximate): the rank error is taken as normal with variance
(D + 2q²)·Var(node noise) — at most D left siblings on the path plus the
noisy total scaled by q — and the two ranks target ± 1.96 sd are walked down
the same tree; one leaf width is added on each side for the interpolation,
and the result is clipped to [lower, upper]. It ignores how data are spread
within a leaf.

References:
    Hay, M., Rastogi, V., Miklau, G., Suciu, D. (2010). Boosting the accuracy
    of differentially private histograms through consistency. VLDB.
    Qardaji, W., Yang, W., Li, N. (2013). Understanding hierarchical methods
    for differentially private histograms. VLDB.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from jobs.dp import error_bars
from jobs.dp.mechanisms import IntArray, NoiseLaw
from jobs.kinds.aggregate.plan import TREE_DEPTH

FloatArray = npt.NDArray[np.float64]


def _level_start(level: int) -> int:
    """Column of a level's first node in the (levels 1..D) layout."""
    return (1 << level) - 2


def tree_nodes(leaves: IntArray) -> IntArray:
    """Exact node counts, levels 1..D side by side, from (groups × 2^D) leaf counts."""
    groups = leaves.shape[0]
    levels = [
        leaves.reshape(groups, 2**level, 2 ** (TREE_DEPTH - level)).sum(axis=2)
        for level in range(1, TREE_DEPTH + 1)
    ]
    return np.concatenate(levels, axis=1).astype(np.int64)


def _walk(counts: FloatArray, target: FloatArray, lower: float, upper: float) -> FloatArray:
    """The value at rank ``target`` in each group's tree of non-negative noisy counts."""
    groups = counts.shape[0]
    rows = np.arange(groups)
    position = np.zeros(groups, dtype=np.int64)
    rank = target.copy()
    for level in range(1, TREE_DEPTH + 1):
        start = _level_start(level)
        left = 2 * position
        left_count = counts[rows, start + left]
        right_count = counts[rows, start + left + 1]
        go_right = (rank > left_count) | ((left_count <= 0) & (right_count > 0))
        rank = np.where(go_right, np.maximum(rank - left_count, 0.0), rank)
        position = np.where(go_right, left + 1, left)
    leaf = counts[rows, _level_start(TREE_DEPTH) + position]
    inside = np.where(leaf > 0, np.clip(rank / np.maximum(leaf, 1e-12), 0.0, 1.0), 0.5)
    width = (upper - lower) / 2**TREE_DEPTH
    return np.asarray(lower + (position + inside) * width, dtype=np.float64)


def tree_quantiles(
    noisy: IntArray, q: float, lower: float, upper: float, law: NoiseLaw
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The q-quantile of each group and its approximate 95 % interval.

    Args:
        noisy: (groups × nodes) noisy node counts, levels 1..D.
        q: The quantile, in [0, 1].
        lower: Range start.
        upper: Range end.
        law: The node noise (for the interval).

    Returns:
        (value, ci_low, ci_high), each of length groups.
    """
    counts = np.maximum(noisy, 0).astype(np.float64)
    total = counts[:, 0] + counts[:, 1]
    target = q * total
    value = _walk(counts, target, lower, upper)
    spread = error_bars.Z95 * math.sqrt(error_bars.variance(law) * (TREE_DEPTH + 2 * q * q))
    leaf_width = (upper - lower) / 2**TREE_DEPTH
    low = _walk(counts, np.clip(target - spread, 0.0, total), lower, upper) - leaf_width
    high = _walk(counts, np.clip(target + spread, 0.0, total), lower, upper) + leaf_width
    return value, np.clip(low, lower, upper), np.clip(high, lower, upper)
