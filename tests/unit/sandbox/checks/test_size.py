"""The ``size`` check: byte and row caps."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from sandbox.checks.engine import run_checks
from tests.unit.sandbox.checks.helpers import (
    job_context,
    parquet_file,
    reason_of,
    verdicts,
)


def test_size_when_rows_exceed_the_cap_then_fail(tmp_path: Path) -> None:
    frame = pl.DataFrame({"city": ["南京市"] * 30, "count": [40] * 30})
    path = parquet_file(tmp_path, frame)
    found = run_checks(path, job_context("aggregate", count_columns=("count",), max_rows=20))
    assert verdicts(found)["size"] == "fail"
    assert "30 rows exceed the cap of 20" in reason_of(found, "size")
