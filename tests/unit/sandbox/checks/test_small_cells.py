"""The ``small_cells`` check: small counts and classes smaller than k."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from sandbox.checks.engine import run_checks
from tests.unit.sandbox.checks.helpers import (
    extract_frame,
    job_context,
    parquet_file,
    reason_of,
    verdicts,
    zip_file,
)


def test_small_cells_when_an_aggregate_count_is_below_min_cell_then_fail(tmp_path: Path) -> None:
    frame = pl.DataFrame({"city": ["南京市", "苏州市"], "count": [4, 25]})
    found = run_checks(
        parquet_file(tmp_path, frame), job_context("aggregate", count_columns=("count",))
    )
    assert verdicts(found)["small_cells"] == "fail"
    assert "1 cells of count" in reason_of(found, "small_cells")


def test_small_cells_when_a_histogram_bin_is_small_then_fail(tmp_path: Path) -> None:
    bins = pl.Series("h", [[12, 4, 30], [15, 11, 10]], dtype=pl.Array(pl.Int64, 3))
    frame = pl.DataFrame({"city": ["南京市", "苏州市"], "h": bins})
    context = job_context("aggregate", count_columns=("h",))
    assert verdicts(run_checks(parquet_file(tmp_path, frame), context))["small_cells"] == "fail"
    fine = frame.with_columns(
        pl.Series("h", [[12, 14, 30], [15, 11, 10]], dtype=pl.Array(pl.Int64, 3))
    )
    assert verdicts(run_checks(parquet_file(tmp_path, fine), context))["small_cells"] == "pass"


def test_small_cells_when_suppressed_cells_are_null_then_pass(tmp_path: Path) -> None:
    frame = pl.DataFrame({"city": ["南京市", "苏州市"], "count": [None, 25]})
    context = job_context("aggregate", count_columns=("count",))
    assert verdicts(run_checks(parquet_file(tmp_path, frame), context))["small_cells"] == "pass"


def test_small_cells_when_custom_csv_has_a_small_count_then_fail(tmp_path: Path) -> None:
    csv = "城市,月,人数\n南京市,1,230\n宿迁市,1,3\n苏州市,2,0\n".encode()
    found = run_checks(zip_file(tmp_path, {"t.csv": csv}), job_context("custom"))
    assert verdicts(found)["small_cells"] == "fail"
    reason = reason_of(found, "small_cells")
    assert "1 cells of 人数" in reason and "月" not in reason  # a month is a key; zero is no cell


def test_small_cells_when_extract_has_a_class_smaller_than_k_then_fail(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    extract = extract_frame(k=5)
    context = job_context("extract", stored, k=5)
    assert verdicts(run_checks(parquet_file(tmp_path, extract), context))["small_cells"] == "pass"
    lonely = pl.concat([extract.head(1)] * 2).with_columns(pl.lit("100-119").alias("age"))
    found = run_checks(parquet_file(tmp_path, pl.concat([extract, lonely])), context)
    assert verdicts(found)["small_cells"] == "fail"
    assert "1 equivalence classes (2 rows)" in reason_of(found, "small_cells")
    assert "smaller than k=5" in reason_of(found, "small_cells")
