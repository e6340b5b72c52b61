"""Class counting on integer codes: roll-up from counted nodes equals a fresh group-by."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import pytest

from anonymize import _classes
from anonymize._classes import ClassCounter, group


def _sizes_by_polars(codes: list[list[np.ndarray]], node: tuple[int, ...]) -> list[int]:
    frame = pl.DataFrame({f"c{i}": codes[i][level] for i, level in enumerate(node)})
    return sorted(frame.group_by(frame.columns).len()["len"].to_list())


def _nested_codes(rng: np.random.Generator, rows: int) -> list[list[np.ndarray]]:
    """Three columns, each level merging the codes of the one below (by integer division)."""
    codes = []
    for card, divisors in [(40, (4, 20)), (9, (3,)), (8, (2, 4))]:
        value = rng.integers(0, card, rows)
        codes.append([value, *[value // d for d in divisors], np.zeros(rows, dtype=np.int64)])
    return codes


@pytest.mark.parametrize(
    "budget",
    [
        _classes._BUDGET,  # every small table kept
        120,  # room for a few tables of 2 columns at most: kept tables are evicted
    ],
)
def test_class_counter_when_nodes_in_any_order_then_sizes_equal_group_by(
    budget: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_classes, "_BUDGET", budget)
    rng = np.random.default_rng(3)
    codes = _nested_codes(rng, 500)
    counter = ClassCounter(codes)
    assert counter.nested
    nodes = list(itertools.product(*(range(len(c)) for c in codes)))
    rng.shuffle(nodes)  # roll-ups from whatever was counted before
    for node in map(tuple, nodes):
        sizes = counter.classes(node)
        assert sorted(sizes.tolist()) == _sizes_by_polars(codes, node)
        row_class, row_sizes = counter.row_classes(node)
        assert row_sizes.sum() == 500
        assert sorted(row_sizes.tolist()) == _sizes_by_polars(codes, node)
        assert len(np.unique(row_class)) == len(row_sizes)
    assert counter._used <= budget


def test_class_counter_when_levels_do_not_nest_then_counts_from_base_groups() -> None:
    rng = np.random.default_rng(4)
    value = rng.integers(0, 10, 200)
    # Level 1 splits what level 2 would have to merge back: 0-4 vs 5-9, then parity.
    codes = [[value, value // 5, value % 2, np.zeros(200, dtype=np.int64)]]
    counter = ClassCounter(codes)
    assert not counter.nested
    for node in [(1,), (2,), (0,), (3,)]:
        assert sorted(counter.classes(node).tolist()) == _sizes_by_polars(codes, node)


def test_group_when_key_would_overflow_then_recoded_and_still_exact() -> None:
    rng = np.random.default_rng(5)
    # Eight columns of ~2^20 codes: their product exceeds 2^62 several times over.
    columns = [rng.integers(0, 1 << 20, 300) for _ in range(8)]
    columns[3][:] = (1 << 20) - 1
    columns = [np.concatenate([c, c[:50]]) for c in columns]  # 50 duplicated rows
    inverse, first = group(columns)
    assert len(first) == 300
    assert np.array_equal(inverse[300:], inverse[:50])
    for column in columns:  # every row's group holds rows with its values
        assert np.array_equal(column[first][inverse], column)
