"""The ``raw_rows`` check: output rows that copy input records."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.checks.engine import run_checks
from tests.unit.sandbox.checks.helpers import (
    RESIDENTS,
    csv_bytes,
    extract_frame,
    job_context,
    parquet_bytes,
    parquet_file,
    reason_of,
    verdicts,
    zip_file,
)


def test_raw_rows_when_custom_csv_is_a_renamed_reordered_copy_then_fail(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    copy = (
        RESIDENTS.sample(100, seed=3)
        .select(
            pl.col("income").alias("y"),
            pl.col("occupation").alias("job"),
            pl.col("age").alias("a"),
            pl.col("district").alias("area"),
            pl.col("sex").alias("g"),
        )
        .sample(fraction=1.0, shuffle=True, seed=4)
    )
    found = run_checks(
        zip_file(tmp_path, {"rows.csv": csv_bytes(copy)}), job_context("custom", stored)
    )
    assert verdicts(found)["raw_rows"] == "fail"
    reason = reason_of(found, "raw_rows")
    assert "a<-age" in reason and "area<-district" in reason and "copied records" in reason


@settings(max_examples=8, deadline=None)
@given(
    rows=st.integers(min_value=30, max_value=200),
    columns=st.permutations(["age", "district", "occupation", "income", "sex"]),
    seed=st.integers(min_value=0, max_value=1000),
)
def test_raw_rows_when_any_renamed_copy_of_input_rows_then_fail(
    tmp_path_factory: pytest.TempPathFactory,
    stored: dict[str, str],
    rows: int,
    columns: list[str],
    seed: int,
) -> None:
    copy = RESIDENTS.sample(rows, seed=seed).select(
        pl.col(c).alias(f"c{i}") for i, c in enumerate(columns[:3])
    )
    path = zip_file(tmp_path_factory.mktemp("copy"), {"t.csv": csv_bytes(copy)})
    assert verdicts(run_checks(path, job_context("custom", stored)))["raw_rows"] == "fail"


def test_raw_rows_when_aggregate_groups_are_small_then_warn_not_fail(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    groups = RESIDENTS.group_by("city", "education").len().rename({"len": "count"})
    frame = groups.with_columns((pl.col("count") * 0 + 50).alias("count"))  # noise hid them
    context = job_context("aggregate", stored, count_columns=("count",))
    found = run_checks(parquet_file(tmp_path, frame), context)
    assert verdicts(found)["raw_rows"] == "warn"
    assert "groups are small" in reason_of(found, "raw_rows")


def test_raw_rows_when_a_json_model_embeds_input_records_then_fail(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    records = RESIDENTS.head(60).select("age", "district", "income").to_dicts()
    document = {"coef": [0.1, 0.2], "support": records, "mixed": [{"a": 1}, {"a": "x"}]}
    path = tmp_path / "model.json"
    path.write_text(json.dumps(document, ensure_ascii=False))
    found = run_checks(path, job_context("train", stored))
    assert verdicts(found)["file_type"] == "pass"
    assert verdicts(found)["raw_rows"] == "fail"
    assert "model.json:$.support" in reason_of(found, "raw_rows")


def test_raw_rows_when_one_column_coincides_then_warn(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    incomes = RESIDENTS["income"].head(2)
    frame = pl.DataFrame({"scenario": ["低", "高"], "threshold": incomes})
    found = run_checks(
        zip_file(tmp_path, {"t.parquet": parquet_bytes(frame)}), job_context("custom", stored)
    )
    assert verdicts(found)["raw_rows"] == "warn"


def test_raw_rows_when_custom_table_holds_group_statistics_then_pass(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    table = RESIDENTS.group_by("city").agg(pl.col("income").mean().round(0).alias("mean"))
    found = run_checks(
        zip_file(tmp_path, {"t.csv": csv_bytes(table)}), job_context("custom", stored)
    )
    assert verdicts(found)["raw_rows"] == "pass"


def test_raw_rows_when_extract_generalizes_quasi_identifiers_then_pass(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    extract = extract_frame()
    context = job_context("extract", stored, k=5)
    assert verdicts(run_checks(parquet_file(tmp_path, extract), context))["raw_rows"] == "pass"


def test_raw_rows_when_extract_keeps_raw_quasi_identifiers_then_fail(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    raw = RESIDENTS.select("age", "district", "occupation", "income")
    found = run_checks(parquet_file(tmp_path, raw), job_context("extract", stored, k=5))
    assert verdicts(found)["raw_rows"] == "fail"
    assert "income" not in reason_of(found, "raw_rows")  # sensitive values are released by design


def test_raw_rows_when_extract_classes_hold_k_but_fewer_than_min_cell_then_pass(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    # Raw (ungeneralized) quasi-identifiers whose every class has 5 to 9 people: an extract
    # promises k = 5, so classes below the aggregate threshold (10) are not singling out.
    sizes = RESIDENTS.group_by("district").len()
    assert sizes["len"].min() >= 5
    kept = RESIDENTS.join(sizes.filter(pl.col("len") < 10), on="district").select(
        "district", "income"
    )
    assert kept.height > 0
    found = run_checks(parquet_file(tmp_path, kept), job_context("extract", stored, k=5))
    assert verdicts(found)["raw_rows"] == "pass"
    found = run_checks(parquet_file(tmp_path, kept), job_context("extract", stored, k=10))
    assert verdicts(found)["raw_rows"] != "pass"
