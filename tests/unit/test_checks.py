"""Automatic disclosure checks on quarantined outputs."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from sandbox.checks import blocking, run_checks


def _verdicts(tmp_path: Path, frame: pl.DataFrame, counts: list[str], **kw: object) -> dict:
    path = tmp_path / "out.parquet"
    frame.write_parquet(path)
    return {c.name: c.verdict for c in run_checks(path, counts, 10, **kw)}  # type: ignore[arg-type]


def test_checks_when_a_histogram_bin_is_small_then_small_cells_fail(tmp_path: Path):
    bins = pl.Series("h", [[12, 4, 30], [15, 11, 10]], dtype=pl.Array(pl.Int64, 3))
    frame = pl.DataFrame({"city": ["南京市", "苏州市"], "h": bins})
    assert _verdicts(tmp_path, frame, ["h"])["small_cells"] == "fail"
    fine = frame.with_columns(
        pl.Series("h", [[12, 14, 30], [15, 11, 10]], dtype=pl.Array(pl.Int64, 3))
    )
    assert _verdicts(tmp_path, fine, ["h"])["small_cells"] == "pass"


def test_checks_when_suppressed_cells_are_null_then_they_are_not_small(tmp_path: Path):
    frame = pl.DataFrame({"city": ["南京市", "苏州市"], "count": [None, 25]})
    assert _verdicts(tmp_path, frame, ["count"])["small_cells"] == "pass"


def test_checks_when_identifier_in_output_then_fail_but_names_only_warn(tmp_path: Path):
    ids = pl.DataFrame({"who": ["11010519491231002X", "x"], "count": [20, 30]})
    verdicts = _verdicts(tmp_path, ids, ["count"])
    assert verdicts["pii_scan"] == "fail"
    assert blocking([{"name": "pii_scan", "verdict": "fail"}]) == ["pii_scan"]
    names = pl.DataFrame({"note": ["联系人张伟", "x"], "count": [20, 30]})
    assert _verdicts(tmp_path, names, ["count"])["pii_scan"] == "warn"


def test_checks_when_column_is_a_declared_public_key_then_not_scanned(tmp_path: Path):
    frame = pl.DataFrame({"city": ["常州市", "连云港市"], "count": [20, 30]})
    verdicts = _verdicts(tmp_path, frame, ["count"], public_columns=frozenset({"city"}))
    assert verdicts["pii_scan"] == "pass"


def test_checks_when_file_is_not_parquet_then_file_type_fails(tmp_path: Path):
    path = tmp_path / "out.parquet"
    path.write_text("not a table")
    [check] = run_checks(path, [], 10)
    assert (check.name, check.verdict) == ("file_type", "fail")
