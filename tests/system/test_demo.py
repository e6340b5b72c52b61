"""End to end through the client against a real HTTP server: the demo flow."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.demo import run
from sandbox.demo_data import JIANGSU_CITIES
from sandbox.settings import Settings

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def test_demo_when_run_then_operator_receives_the_released_table(tmp_path: Path, ray_runner):
    table = run(rows=3000, settings=Settings(data_dir=tmp_path))
    assert table.columns == ["city", "residents", "mean_income"]
    assert set(table["city"]) <= set(JIANGSU_CITIES)
    assert table.height >= 10  # 13 cities, few if any suppressed at 3,000 residents
    assert (table["residents"] >= 10).all()
    assert table["residents"].sum() == pytest.approx(3000, rel=0.1)
    # nothing of the raw data is in the released product's folder
    released = list((tmp_path / "demo" / "releases").iterdir())
    assert [p.suffix for p in released] == [".parquet"]
