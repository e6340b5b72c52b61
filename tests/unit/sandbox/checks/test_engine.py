"""Running every check on an output: all together, masked names, broken checks."""

from __future__ import annotations

import doctest
import io
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from safetensors.numpy import save_file

from policies.catalog import Product
from policies.errors import InternalError
from sandbox.checks import Check, CheckContext, blocking
from sandbox.checks import base as _checks_base
from sandbox.checks.engine import run_checks
from sandbox.checks.support import cells as _checks_cells
from sandbox.checks.support import tables as _checks_tables
from tests.unit.sandbox.checks.helpers import (
    PUBLIC,
    RESIDENTS,
    csv_bytes,
    job_context,
    noisy_aggregate,
    parquet_file,
    reason_of,
    verdicts,
    zip_file,
)


def test_checks_when_noisy_aggregate_over_public_keys_then_every_check_passes(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    path = parquet_file(tmp_path, noisy_aggregate())
    context = job_context("aggregate", stored, count_columns=("count",), public_keys=PUBLIC)
    found = run_checks(path, context)
    assert [c.name for c in found] == [
        "file_type",
        "size",
        "pii_scan",
        "raw_rows",
        "small_cells",
        "identifier_columns",
    ]
    assert set(verdicts(found).values()) == {"pass"}, found


def test_checks_when_train_writes_a_json_model_then_every_check_passes(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    model = {"kind": "logistic_regression", "coef": [[0.12, -0.5]], "intercept": [0.3]}
    path = tmp_path / "model.json"
    path.write_text(json.dumps(model))
    found = run_checks(path, job_context("train", stored))
    assert set(verdicts(found).values()) == {"pass"}, found


def test_checks_when_train_writes_safetensors_then_pass_but_an_id_in_metadata_fails(
    tmp_path: Path,
) -> None:
    path = tmp_path / "model.safetensors"
    save_file({"layer.weight": np.zeros((2, 2), dtype=np.float32)}, str(path), {"epochs": "3"})
    assert set(verdicts(run_checks(path, job_context("train"))).values()) == {"pass"}
    leaked = {"trained_on": RESIDENTS["resident_id"][0]}
    save_file({"layer.weight": np.zeros((2, 2), dtype=np.float32)}, str(path), leaked)
    found = run_checks(path, job_context("train"))
    assert verdicts(found)["pii_scan"] == "fail"
    assert RESIDENTS["resident_id"][0] not in reason_of(found, "pii_scan")


def test_checks_modules_when_doctests_run_then_they_pass() -> None:
    for module in (_checks_base, _checks_cells, _checks_tables):
        assert doctest.testmod(module).failed == 0


def test_context_when_kind_has_no_product_or_no_format_then_internal_error() -> None:
    with pytest.raises(InternalError, match="kind 'sql'"):
        CheckContext(kind="sql", product="sql", formats=frozenset({"csv"}), min_cell=10)  # type: ignore[arg-type]
    with pytest.raises(InternalError, match="kind 'sql'"):
        CheckContext(kind="sql", product=Product.STATISTICS, formats=frozenset(), min_cell=10)


def test_checks_when_output_holds_a_duration_or_a_huge_integer_then_checked_not_crashed(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    # Operator code picks what its output holds: a type the checks cannot cast, or a number
    # wider than any polars integer, must be checked like anything else (a crash failed the
    # job, which the operator sees: a channel around review).
    table = io.BytesIO()
    pl.DataFrame(
        {"city": ["南京市"], "wait": pl.Series([5], dtype=pl.Duration("ms"))}
    ).write_parquet(table)
    members = {"waits.parquet": table.getvalue(), "big.json": b'[{"a": 1' + b"0" * 200 + b"}]"}
    found = run_checks(zip_file(tmp_path, members), job_context("custom", stored))
    assert set(verdicts(found)) >= {"file_type", "size", "pii_scan", "raw_rows"}
    assert verdicts(found)["file_type"] == "pass"


def test_checked_when_the_checks_break_then_one_failing_check_and_no_value_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from sandbox.jobs import execute as job_service

    def broken(output: Path, context: CheckContext, *limits: object) -> list[Check]:
        raise pl.exceptions.PanicException("value 320102199001011234 overflowed")

    monkeypatch.setattr(job_service, "run_isolated", broken)
    found = job_service.checked(7, tmp_path / "out.zip", job_context("custom"))
    assert [(c.name, c.verdict) for c in found] == [("checks", "fail")]
    assert "PanicException" in found[0].reason
    assert "320102199001011234" not in found[0].reason + caplog.text
    assert blocking([c.as_dict() for c in found]) == ["checks"]


def test_reasons_when_names_hold_identifiers_then_no_reason_repeats_them(tmp_path: Path) -> None:
    # The operator picks file and column names: a phone number as a file name and a
    # resident ID as a column name must fail the scan without being quoted anywhere.
    resident_id = RESIDENTS["resident_id"][0]
    table = pl.DataFrame({"city": ["南京市", "苏州市"], resident_id: [25, 30]})
    path = zip_file(tmp_path, {"13912345678.csv": csv_bytes(table)})
    found = run_checks(path, job_context("custom"))
    assert verdicts(found)["pii_scan"] == "fail"
    text = " ".join(c.reason for c in found)
    assert "13912345678" not in text
    assert resident_id not in text
    assert "[a name holding an identifier]" in text or "#2" in text
