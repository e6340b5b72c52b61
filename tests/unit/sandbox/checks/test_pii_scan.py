"""The ``pii_scan`` check: personal information anywhere in an output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from safetensors.numpy import save_file

from anonymize.scan import Finding
from sandbox.checks import pii_scan as _checks_pii
from sandbox.checks.engine import run_checks
from tests.unit.sandbox.checks.helpers import (
    PUBLIC,
    RESIDENTS,
    csv_bytes,
    extract_frame,
    job_context,
    parquet_file,
    png_bytes,
    reason_of,
    verdicts,
    zip_file,
)


def test_pii_when_csv_holds_resident_ids_then_fail_without_values(tmp_path: Path) -> None:
    table = RESIDENTS.select("resident_id", "household_size").head(20)
    found = run_checks(zip_file(tmp_path, {"ids.csv": csv_bytes(table)}), job_context("custom"))
    assert verdicts(found)["pii_scan"] == "fail"
    reason = reason_of(found, "pii_scan")
    assert "CN_RESIDENT_ID" in reason and "resident_id" in reason
    assert not any(value in reason for value in table["resident_id"])


def test_pii_when_output_holds_a_png_then_warn(tmp_path: Path) -> None:
    found = run_checks(zip_file(tmp_path, {"plot.png": png_bytes()}), job_context("custom"))
    assert verdicts(found)["pii_scan"] == "warn"
    assert "cannot be scanned automatically" in reason_of(found, "pii_scan")


def test_pii_when_png_text_chunk_holds_a_phone_then_fail(tmp_path: Path) -> None:
    members = {"plot.png": png_bytes(text=RESIDENTS["phone"][0].encode())}
    assert (
        verdicts(run_checks(zip_file(tmp_path, members), job_context("custom")))["pii_scan"]
        == "fail"
    )


def test_pii_when_only_names_then_warn(tmp_path: Path) -> None:
    frame = pl.DataFrame({"note": ["联系人张伟", "x"], "count": [20, 30]})
    found = run_checks(
        parquet_file(tmp_path, frame), job_context("aggregate", count_columns=("count",))
    )
    assert verdicts(found)["pii_scan"] == "warn"


def test_pii_when_json_key_holds_an_id_then_fail(tmp_path: Path) -> None:
    document = {RESIDENTS["resident_id"][3]: 0.5}
    found = run_checks(
        zip_file(tmp_path, {"w.json": json.dumps(document).encode()}), job_context("custom")
    )
    assert verdicts(found)["pii_scan"] == "fail"


def test_pii_when_parquet_metadata_holds_an_id_then_fail(tmp_path: Path) -> None:
    path = tmp_path / "out.parquet"
    frame = pl.DataFrame({"city": ["南京市"], "count": [20]})
    frame.write_parquet(path, metadata={"source": RESIDENTS["resident_id"][5]})
    found = run_checks(path, job_context("aggregate", count_columns=("count",)))
    assert verdicts(found)["pii_scan"] == "fail"
    assert "(metadata)" in reason_of(found, "pii_scan")


def test_pii_when_a_byte_tensor_carries_phone_numbers_then_fail(tmp_path: Path) -> None:
    text = "\n".join(RESIDENTS["phone"].head(5)).encode()
    tensors = {
        "w": np.zeros(3, dtype=np.float32),
        "blob": np.frombuffer(text, dtype=np.uint8).copy(),
    }
    path = tmp_path / "model.safetensors"
    save_file(tensors, str(path))
    found = run_checks(path, job_context("train"))
    assert verdicts(found)["pii_scan"] == "fail"
    assert "model.safetensors:blob" in reason_of(found, "pii_scan")


def test_pii_when_extract_pseudonym_passes_a_checksum_then_warn_not_fail(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    extract = extract_frame()
    # One format-preserving pseudonym that happens to read as a valid ID (not an input ID).
    lucky = ["11010519491231002X"] + [f"{i:016x}" for i in range(1, extract.height)]
    path = parquet_file(tmp_path, extract.with_columns(pl.Series("resident_id", lucky)))
    pseudonyms = frozenset({"resident_id"})
    found = run_checks(path, job_context("extract", stored, k=5, pseudonyms=pseudonyms))
    assert verdicts(found)["pii_scan"] == "warn"
    assert "pseudonym columns resident_id only warn" in reason_of(found, "pii_scan")
    found = run_checks(path, job_context("extract", stored, k=5))
    assert verdicts(found)["pii_scan"] == "fail"


def test_pii_when_member_name_is_a_phone_then_fail(tmp_path: Path) -> None:
    members = {f"{RESIDENTS['phone'][0]}.txt": b"ok\n"}
    assert (
        verdicts(run_checks(zip_file(tmp_path, members), job_context("custom")))["pii_scan"]
        == "fail"
    )


def test_pii_when_column_is_a_public_key_within_its_domain_then_not_scanned(tmp_path: Path) -> None:
    frame = pl.DataFrame({"city": ["常州市", "连云港市"], "count": [20, 30]})
    context = job_context("aggregate", count_columns=("count",), public_keys=PUBLIC)
    assert verdicts(run_checks(parquet_file(tmp_path, frame), context))["pii_scan"] == "pass"


def test_pii_when_public_key_column_holds_values_outside_its_domain_then_scanned(
    tmp_path: Path,
) -> None:
    frame = pl.DataFrame({"city": ["常州市", RESIDENTS["resident_id"][0]], "count": [20, 30]})
    context = job_context("aggregate", count_columns=("count",), public_keys=PUBLIC)
    assert verdicts(run_checks(parquet_file(tmp_path, frame), context))["pii_scan"] == "fail"


def test_pii_when_scanner_reports_a_header_finding_then_reason_gives_its_position(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def header_only(frame: pl.DataFrame, max_findings: int = 1000) -> list[Finding]:
        return [Finding(c, -1, "PHONE_NUMBER") for c in frame.columns if c.startswith("139")]

    monkeypatch.setattr(_checks_pii, "scan_frame", header_only)
    frame = pl.DataFrame({"13912345678": [1, 2], "count": [20, 30]})
    found = run_checks(
        parquet_file(tmp_path, frame), job_context("aggregate", count_columns=("count",))
    )
    assert verdicts(found)["pii_scan"] == "fail"
    reason = reason_of(found, "pii_scan")
    assert "the names of columns #1" in reason
    assert "13912345678" not in reason  # the header is a value: only its position is named
