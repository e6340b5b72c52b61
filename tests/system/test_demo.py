"""End to end through the client against a real HTTP server: the demo flow."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from sandbox.cli.demo import run
from sandbox.cli.demo_data import JIANGSU_CITIES
from sandbox.settings import Settings

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def test_demo_when_run_then_operator_receives_the_released_table(tmp_path: Path, ray_runner):
    table = run(rows=3000, settings=Settings(data_dir=tmp_path))
    assert table.columns == [
        "city",
        "residents",
        "residents_ci_low",
        "residents_ci_high",
        "mean_income",
        "mean_income_ci_low",
        "mean_income_ci_high",
    ]
    assert table["city"].to_list() == list(JIANGSU_CITIES)  # every declared key, in order
    shown = table.filter(pl.col("residents").is_not_null())
    assert shown.height >= 10  # few if any cities suppressed at 3,000 residents
    assert (shown["residents"] >= 10).all()
    assert (shown["residents_ci_low"] <= shown["residents"]).all()
    assert table["residents"].sum() == pytest.approx(3000, rel=0.1)
    # nothing of the raw data is in the released product's folder
    released = list((tmp_path / "demo" / "releases").iterdir())
    assert sorted(p.suffix for p in released) == [".parquet", ".parquet"]  # aggregate, extract
    shots = sorted(p.name for p in (tmp_path / "demo" / "screenshots").iterdir())
    assert shots == ["console-output.png", "console-queue.png"]
