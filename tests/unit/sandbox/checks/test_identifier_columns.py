"""The ``identifier_columns`` check: nearly unique columns."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from sandbox.checks.engine import run_checks
from tests.unit.sandbox.checks.helpers import (
    RESIDENTS,
    context_of,
    csv_bytes,
    extract_frame,
    job_context,
    parquet_bytes,
    parquet_file,
    reason_of,
    verdicts,
    zip_file,
)


def test_identifier_columns_when_a_column_is_nearly_unique_then_warn(tmp_path: Path) -> None:
    frame = pl.DataFrame({"row": [f"r{i}" for i in range(100)], "v": [i % 3 for i in range(100)]})
    found = run_checks(
        zip_file(tmp_path, {"t.parquet": parquet_bytes(frame)}), job_context("custom")
    )
    assert verdicts(found)["identifier_columns"] == "warn"
    assert "'row' is nearly unique" in reason_of(found, "identifier_columns")


def test_identifier_columns_when_values_are_input_identifiers_then_fail(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    # Names under another column name: the scanner only warns on names, the input match fails.
    frame = RESIDENTS.select(pl.col("name").alias("k"), pl.lit(1).alias("one")).head(80)
    found = run_checks(
        zip_file(tmp_path, {"t.parquet": parquet_bytes(frame)}), job_context("custom", stored)
    )
    assert verdicts(found)["identifier_columns"] == "fail"
    assert "direct identifier 'name'" in reason_of(found, "identifier_columns")


def test_identifier_columns_when_values_are_the_privacy_unit_then_fail(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    # A household key tagged plain: as the privacy unit, its values still single out.
    frame = RESIDENTS.select(pl.col("phone").str.slice(3).alias("hh"), "income").head(100)
    units = tmp_path / "units"
    units.mkdir()
    RESIDENTS.with_columns(pl.col("phone").str.slice(3).alias("household")).write_parquet(
        units / "part-0.parquet"
    )
    context = context_of(
        "custom",
        min_cell=10,
        inputs={"units": str(units / "part-*.parquet")},
        tags={"units": {"household": "plain"}},
        privacy_units={"units": "household"},
    )
    found = run_checks(zip_file(tmp_path, {"t.parquet": parquet_bytes(frame)}), context)
    assert verdicts(found)["identifier_columns"] == "fail"
    assert "direct identifier 'household'" in reason_of(found, "identifier_columns")


def test_identifier_columns_when_csv_column_holds_means_then_pass(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {"group": [f"g{i % 5}" for i in range(100)], "mean": [i + 0.5 for i in range(100)]}
    )
    found = run_checks(zip_file(tmp_path, {"t.csv": csv_bytes(frame)}), job_context("custom"))
    assert verdicts(found)["identifier_columns"] == "pass"


def test_identifier_columns_when_aggregate_has_many_groups_then_keys_pass(tmp_path: Path) -> None:
    frame = pl.DataFrame({"age": list(range(18, 90)), "count": [50 + i for i in range(72)]})
    context = job_context("aggregate", count_columns=("count",))
    assert (
        verdicts(run_checks(parquet_file(tmp_path, frame), context))["identifier_columns"] == "pass"
    )


def test_identifier_columns_when_custom_hashes_an_identifier_then_fail(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    hashed = RESIDENTS.select(pl.col("resident_id").hash().cast(pl.String)).head(80)
    found = run_checks(
        zip_file(tmp_path, {"t.csv": csv_bytes(hashed)}), job_context("custom", stored)
    )
    assert verdicts(found)["identifier_columns"] == "fail"


def test_identifier_columns_when_extract_releases_pseudonyms_then_warn(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    extract = extract_frame()
    pseudonyms = pl.Series("resident_id", [f"{i:016x}" for i in range(extract.height)])
    path = parquet_file(tmp_path, extract.with_columns(pseudonyms))
    found = run_checks(
        path, job_context("extract", stored, k=5, pseudonyms=frozenset({"resident_id"}))
    )
    assert verdicts(found)["identifier_columns"] == "warn"
    assert "linkage allowed by the grant" in reason_of(found, "identifier_columns")
