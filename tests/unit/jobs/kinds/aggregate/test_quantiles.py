"""Quantiles from a noisy tree: exact without noise, close with it, intervals that cover."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from jobs.dp.mechanisms import NoiseLaw, make_rng
from jobs.kinds.aggregate.plan import TREE_DEPTH
from jobs.kinds.aggregate.quantiles import tree_nodes, tree_quantiles

LEAVES = 2**TREE_DEPTH
SILENT = NoiseLaw.discrete_laplace(0, Fraction(1))  # no noise


def _leaves(values: np.ndarray, lower: float, upper: float) -> np.ndarray:
    index = np.clip(((values - lower) / (upper - lower) * LEAVES).astype(int), 0, LEAVES - 1)
    return np.bincount(index, minlength=LEAVES)[None, :].astype(np.int64)


def test_tree_nodes_when_built_then_each_level_sums_to_the_total() -> None:
    leaves = make_rng(1).integers(0, 50, size=(3, LEAVES))
    nodes = tree_nodes(leaves)
    assert nodes.shape == (3, 2 ** (TREE_DEPTH + 1) - 2)
    for level in range(1, TREE_DEPTH + 1):
        start = 2**level - 2
        assert np.array_equal(nodes[:, start : start + 2**level].sum(axis=1), leaves.sum(axis=1))
    assert np.array_equal(nodes[:, -LEAVES:], leaves)


@pytest.mark.parametrize("q", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_tree_quantiles_when_no_noise_then_within_one_leaf(q: float) -> None:
    values = np.random.default_rng(2).uniform(0, 1000, 5000)
    nodes = tree_nodes(_leaves(values, 0, 1000))
    value, low, high = tree_quantiles(nodes, q, 0.0, 1000.0, SILENT)
    assert value[0] == pytest.approx(np.quantile(values, q), abs=2 * 1000 / LEAVES)
    assert low[0] <= value[0] <= high[0]


def test_tree_quantiles_when_noisy_then_interval_covers_the_truth_mostly() -> None:
    values = np.random.default_rng(3).normal(40, 10, 2000).clip(0, 100)
    truth = np.median(values)
    exact = tree_nodes(_leaves(values, 0, 100))
    law = NoiseLaw.discrete_laplace(TREE_DEPTH, Fraction(1, 2))
    runs = 2000
    noisy = np.repeat(exact, runs, axis=0) + law.sample(make_rng(4), runs * exact.shape[1]).reshape(
        runs, -1
    )
    value, low, high = tree_quantiles(noisy, 0.5, 0.0, 100.0, law)
    assert np.median(np.abs(value - truth)) < 1.0
    assert np.mean((low <= truth) & (truth <= high)) >= 0.9
