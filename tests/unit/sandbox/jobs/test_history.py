"""Release history: who differs between two selections, and the module's own examples."""

from __future__ import annotations

import doctest
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from sandbox.jobs import history
from sandbox.jobs.history import people_between
from sandbox.store.models import Dataset
from sandbox.web.console import profile


@pytest.mark.parametrize(
    ("unit", "earlier", "expected"),
    [
        # p1 has rows aged 30 and 40: 'age >= 35' still selects p1, so only p2 differs
        ("person", [{"column": "age", "op": "ge", "value": 35}], 1),
        # a null age passes no filter: p3 is in neither selection
        ("person", [{"column": "age", "op": "lt", "value": 100}], 0),
        # no filter selects everyone: p3 differs too
        ("person", [], 1),
        # one row per person: the rows aged 30 and 31 differ (the null row is in neither)
        (None, [{"column": "age", "op": "ge", "value": 35}], 2),
    ],
)
def test_people_between_when_filters_differ_then_people_not_rows_are_counted(
    tmp_path: Path, unit: str | None, earlier: list[dict[str, Any]], expected: int
):
    pl.DataFrame(
        {
            "person": ["p1", "p1", "p2", "p3"],
            "age": [30, 40, 31, None],
        }
    ).write_parquet(tmp_path / "part-00000.parquet")
    dataset = Dataset(path=str(tmp_path), sha256="0" * 64, privacy_unit=unit)
    new = [{"column": "age", "op": "lt", "value": 100}]
    assert people_between(dataset, new, [earlier]) == [expected]


def test_history_and_profile_when_doctests_run_then_bands_hold() -> None:
    # run here too (not only by --doctest-modules): the examples must exist and hold
    for module in (history, profile):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
