"""Fixtures of the checks' tests."""

from __future__ import annotations

import pytest

from tests.unit.sandbox.checks.helpers import RESIDENTS


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The residents dataset stored as the catalog stores it: parts in a folder."""
    folder = tmp_path_factory.mktemp("residents")
    RESIDENTS.slice(0, 600).write_parquet(folder / "part-00000.parquet")
    RESIDENTS.slice(600).write_parquet(folder / "part-00001.parquet")
    return {"residents": str(folder / "part-*.parquet")}
