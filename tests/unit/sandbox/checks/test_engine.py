"""Automatic disclosure checks on quarantined outputs of every job kind."""

from __future__ import annotations

import doctest
import io
import json
import stat
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file

from anonymize.scan import Finding
from policies.catalog import Product
from policies.errors import InternalError
from sandbox.checks import Check, CheckContext, blocking
from sandbox.checks import base as _checks_base
from sandbox.checks import pii_scan as _checks_pii
from sandbox.checks.engine import run_checks
from sandbox.checks.support import cells as _checks_cells
from sandbox.checks.support import tables as _checks_tables
from sandbox.cli.demo_data import DEMO_TAGS, JIANGSU_CITIES, generate_residents
from tests.unit.sandbox.checks.contexts import context_of

RESIDENTS = generate_residents(1000, seed=7)
PUBLIC = {"city": list(JIANGSU_CITIES)}


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The residents dataset stored as the catalog stores it: parts in a folder."""
    folder = tmp_path_factory.mktemp("residents")
    RESIDENTS.slice(0, 600).write_parquet(folder / "part-00000.parquet")
    RESIDENTS.slice(600).write_parquet(folder / "part-00001.parquet")
    return {"residents": str(folder / "part-*.parquet")}


def _context(kind: str, inputs: dict[str, str] | None = None, **kw: Any) -> CheckContext:
    return context_of(
        kind,
        min_cell=10,
        inputs=inputs or {},
        tags={"residents": DEMO_TAGS} if inputs else {},
        **kw,
    )


def _verdicts(found: list[Check]) -> dict[str, str]:
    return {c.name: c.verdict for c in found}


def _reason(found: list[Check], name: str) -> str:
    return next(c.reason for c in found if c.name == name)


def _parquet(tmp_path: Path, frame: pl.DataFrame, name: str = "out.parquet") -> Path:
    path = tmp_path / name
    frame.write_parquet(path)
    return path


def _zip(tmp_path: Path, members: dict[str, bytes], name: str = "out.zip") -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return path


def _csv(frame: pl.DataFrame) -> bytes:
    return frame.write_csv().encode()


def _png(extra: bytes = b"", text: bytes | None = None) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    chunks = [chunk(b"IHDR", header)]
    if text is not None:
        chunks.append(chunk(b"tEXt", b"Comment\x00" + text))
    chunks += [chunk(b"IDAT", zlib.compress(b"\x00\x00")), chunk(b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks) + extra


def _noisy_aggregate() -> pl.DataFrame:
    """A DP aggregate over the declared cities: noisy counts with error bars."""
    counts = RESIDENTS.group_by("city").len().rename({"len": "count"})
    frame = pl.DataFrame({"city": list(JIANGSU_CITIES)}).join(counts, on="city", how="left")
    noisy = frame.with_columns((pl.col("count").fill_null(0) * 10 + 37).alias("count"))
    return noisy.with_columns(
        (pl.col("count") - 12).alias("count_ci_low"), (pl.col("count") + 12).alias("count_ci_high")
    )


# --- all checks together ---------------------------------------------------------------


def test_checks_when_noisy_aggregate_over_public_keys_then_every_check_passes(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    path = _parquet(tmp_path, _noisy_aggregate())
    context = _context("aggregate", stored, count_columns=("count",), public_keys=PUBLIC)
    found = run_checks(path, context)
    assert [c.name for c in found] == [
        "file_type",
        "size",
        "pii_scan",
        "raw_rows",
        "small_cells",
        "identifier_columns",
    ]
    assert set(_verdicts(found).values()) == {"pass"}, found


def test_checks_when_train_writes_a_json_model_then_every_check_passes(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    model = {"kind": "logistic_regression", "coef": [[0.12, -0.5]], "intercept": [0.3]}
    path = tmp_path / "model.json"
    path.write_text(json.dumps(model))
    found = run_checks(path, _context("train", stored))
    assert set(_verdicts(found).values()) == {"pass"}, found


def test_checks_when_train_writes_safetensors_then_pass_but_an_id_in_metadata_fails(
    tmp_path: Path,
) -> None:
    path = tmp_path / "model.safetensors"
    save_file({"layer.weight": np.zeros((2, 2), dtype=np.float32)}, str(path), {"epochs": "3"})
    assert set(_verdicts(run_checks(path, _context("train"))).values()) == {"pass"}
    leaked = {"trained_on": RESIDENTS["resident_id"][0]}
    save_file({"layer.weight": np.zeros((2, 2), dtype=np.float32)}, str(path), leaked)
    found = run_checks(path, _context("train"))
    assert _verdicts(found)["pii_scan"] == "fail"
    assert RESIDENTS["resident_id"][0] not in _reason(found, "pii_scan")


def test_checks_modules_when_doctests_run_then_they_pass() -> None:
    for module in (_checks_base, _checks_cells, _checks_tables):
        assert doctest.testmod(module).failed == 0


def test_context_when_kind_has_no_product_or_no_format_then_internal_error() -> None:
    with pytest.raises(InternalError, match="kind 'sql'"):
        CheckContext(kind="sql", product="sql", formats=frozenset({"csv"}), min_cell=10)  # type: ignore[arg-type]
    with pytest.raises(InternalError, match="kind 'sql'"):
        CheckContext(kind="sql", product=Product.STATISTICS, formats=frozenset(), min_cell=10)


# --- file_type -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        # an executable renamed to .csv: identified by content, not by name
        ({"table.csv": b"MZ\x90\x00\x03\x00\x00\x00\x04\x00"}, "Windows executable"),
        # a member that climbs out of the extraction folder
        ({"../x.csv": b"a,b\n1,2\n"}, "path traversal"),
        # an absolute path
        ({"/etc/x.csv": b"a,b\n1,2\n"}, "absolute"),
        # a nested archive, by suffix
        ({"inner.zip": b"PK\x05\x06" + b"\x00" * 18}, "outside the allowlist"),
        # a nested archive disguised as text
        ({"inner.txt": b"PK\x03\x04\x14\x00"}, "zip archive"),
        # a suffix outside the allowlist
        ({"run.py": b"print(1)\n"}, "outside the allowlist"),
        # JSON that does not parse
        ({"model.json": b"{'a': 1"}, "not valid JSON"),
        # bytes after the end of a PNG image
        ({"plot.png": _png(extra=b"hidden rows")}, "after the end of the PNG"),
        # a Parquet file without its magic
        ({"t.parquet": b"PAR1 not really"}, "Parquet"),
    ],
)
def test_file_type_when_custom_member_is_not_what_it_claims_then_fail(
    tmp_path: Path, members: dict[str, bytes], expected: str
) -> None:
    found = run_checks(_zip(tmp_path, members), _context("custom"))
    assert _verdicts(found)["file_type"] == "fail"
    assert expected in _reason(found, "file_type")


def test_file_type_when_member_is_a_symlink_or_a_duplicate_then_fail(tmp_path: Path) -> None:
    path = tmp_path / "out.zip"
    link = zipfile.ZipInfo("link.txt")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(link, "/etc/passwd")
        archive.writestr("a.txt", "one\n")
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("a.txt", "two\n")
    reason = _reason(run_checks(path, _context("custom")), "file_type")
    assert "symbolic link" in reason and "appears twice" in reason


def test_file_type_when_csv_has_more_fields_than_its_header_then_fail(tmp_path: Path) -> None:
    ragged = b"city,n\nnanjing,20\nsuzhou,30,hidden,fields\n"
    found = run_checks(_zip(tmp_path, {"t.csv": ragged}), _context("custom"))
    assert _verdicts(found)["file_type"] == "fail"
    assert "'t.csv' is not a readable CSV table" in _reason(found, "file_type")


@settings(max_examples=25, deadline=None)
@given(
    suffix=st.sampled_from([".csv", ".parquet", ".json", ".png", ".txt"]),
    data=st.one_of(
        st.binary(max_size=200),
        st.binary(max_size=200).map(lambda b: b"PAR1" + b + b"PAR1"),
        st.binary(max_size=200).map(lambda b: _png()[:33] + b),
    ),
)
def test_file_type_when_member_bytes_are_arbitrary_then_checks_never_crash(
    tmp_path_factory: pytest.TempPathFactory, suffix: str, data: bytes
) -> None:
    path = _zip(tmp_path_factory.mktemp("fuzz"), {f"m{suffix}": data})
    found = run_checks(path, _context("custom"))
    assert _verdicts(found)["file_type"] in {"pass", "fail"}


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
    found = run_checks(_zip(tmp_path, members), _context("custom", stored))
    assert set(_verdicts(found)) >= {"file_type", "size", "pii_scan", "raw_rows"}
    assert _verdicts(found)["file_type"] == "pass"


def test_checked_when_the_checks_break_then_one_failing_check_and_no_value_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from sandbox.jobs import service as job_service

    def broken(output: Path, context: CheckContext, limits: object) -> list[Check]:
        raise pl.exceptions.PanicException("value 320102199001011234 overflowed")

    monkeypatch.setattr(job_service, "run_isolated", broken)
    found = job_service._checked(7, tmp_path / "out.zip", _context("custom"))
    assert [(c.name, c.verdict) for c in found] == [("checks", "fail")]
    assert "PanicException" in found[0].reason
    assert "320102199001011234" not in found[0].reason + caplog.text
    assert blocking([c.as_dict() for c in found]) == ["checks"]


def test_file_type_when_custom_zip_holds_allowed_files_then_pass(tmp_path: Path) -> None:
    members = {
        "summary.csv": b"city,mean_income\n" + "南京市,52000\n".encode(),
        "notes.txt": "城市收入概况\n".encode(),
        "params.json": b'{"alpha": 0.1}',
        "plot.png": _png(),
    }
    found = run_checks(_zip(tmp_path, members), _context("custom"))
    assert _verdicts(found)["file_type"] == "pass"


def test_file_type_when_output_is_not_parquet_then_only_file_type_and_size(tmp_path: Path) -> None:
    path = tmp_path / "out.parquet"
    path.write_text("not a table")
    found = run_checks(path, _context("aggregate"))
    assert [(c.name, c.verdict) for c in found] == [("file_type", "fail"), ("size", "pass")]
    assert blocking([c.as_dict() for c in found]) == ["file_type"]


def test_file_type_when_custom_output_is_not_a_zip_then_fail(tmp_path: Path) -> None:
    path = _parquet(tmp_path, pl.DataFrame({"a": [1]}))
    assert _verdicts(run_checks(path, _context("custom")))["file_type"] == "fail"


def test_file_type_when_declared_sizes_exceed_the_cap_then_nothing_is_extracted(
    tmp_path: Path,
) -> None:
    path = _zip(tmp_path, {"a.txt": b"abc" * 1000})
    found = run_checks(path, _context("custom", max_bytes=1000))
    assert _verdicts(found) == {"file_type": "fail", "size": "fail"}
    assert "declare" in _reason(found, "size")


# --- size ------------------------------------------------------------------------------


def test_size_when_rows_exceed_the_cap_then_fail(tmp_path: Path) -> None:
    frame = pl.DataFrame({"city": ["南京市"] * 30, "count": [40] * 30})
    path = _parquet(tmp_path, frame)
    found = run_checks(path, _context("aggregate", count_columns=("count",), max_rows=20))
    assert _verdicts(found)["size"] == "fail"
    assert "30 rows exceed the cap of 20" in _reason(found, "size")


# --- pii_scan --------------------------------------------------------------------------


def test_pii_when_csv_holds_resident_ids_then_fail_without_values(tmp_path: Path) -> None:
    table = RESIDENTS.select("resident_id", "household_size").head(20)
    found = run_checks(_zip(tmp_path, {"ids.csv": _csv(table)}), _context("custom"))
    assert _verdicts(found)["pii_scan"] == "fail"
    reason = _reason(found, "pii_scan")
    assert "CN_RESIDENT_ID" in reason and "resident_id" in reason
    assert not any(value in reason for value in table["resident_id"])


def test_pii_when_output_holds_a_png_then_warn(tmp_path: Path) -> None:
    found = run_checks(_zip(tmp_path, {"plot.png": _png()}), _context("custom"))
    assert _verdicts(found)["pii_scan"] == "warn"
    assert "cannot be scanned automatically" in _reason(found, "pii_scan")


def test_pii_when_png_text_chunk_holds_a_phone_then_fail(tmp_path: Path) -> None:
    members = {"plot.png": _png(text=RESIDENTS["phone"][0].encode())}
    assert _verdicts(run_checks(_zip(tmp_path, members), _context("custom")))["pii_scan"] == "fail"


def test_pii_when_only_names_then_warn(tmp_path: Path) -> None:
    frame = pl.DataFrame({"note": ["联系人张伟", "x"], "count": [20, 30]})
    found = run_checks(_parquet(tmp_path, frame), _context("aggregate", count_columns=("count",)))
    assert _verdicts(found)["pii_scan"] == "warn"


def test_pii_when_json_key_holds_an_id_then_fail(tmp_path: Path) -> None:
    document = {RESIDENTS["resident_id"][3]: 0.5}
    found = run_checks(
        _zip(tmp_path, {"w.json": json.dumps(document).encode()}), _context("custom")
    )
    assert _verdicts(found)["pii_scan"] == "fail"


def test_pii_when_parquet_metadata_holds_an_id_then_fail(tmp_path: Path) -> None:
    path = tmp_path / "out.parquet"
    frame = pl.DataFrame({"city": ["南京市"], "count": [20]})
    frame.write_parquet(path, metadata={"source": RESIDENTS["resident_id"][5]})
    found = run_checks(path, _context("aggregate", count_columns=("count",)))
    assert _verdicts(found)["pii_scan"] == "fail"
    assert "(metadata)" in _reason(found, "pii_scan")


def test_pii_when_a_byte_tensor_carries_phone_numbers_then_fail(tmp_path: Path) -> None:
    text = "\n".join(RESIDENTS["phone"].head(5)).encode()
    tensors = {
        "w": np.zeros(3, dtype=np.float32),
        "blob": np.frombuffer(text, dtype=np.uint8).copy(),
    }
    path = tmp_path / "model.safetensors"
    save_file(tensors, str(path))
    found = run_checks(path, _context("train"))
    assert _verdicts(found)["pii_scan"] == "fail"
    assert "model.safetensors:blob" in _reason(found, "pii_scan")


def test_pii_when_extract_pseudonym_passes_a_checksum_then_warn_not_fail(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    extract = _extract()
    # One format-preserving pseudonym that happens to read as a valid ID (not an input ID).
    lucky = ["11010519491231002X"] + [f"{i:016x}" for i in range(1, extract.height)]
    path = _parquet(tmp_path, extract.with_columns(pl.Series("resident_id", lucky)))
    pseudonyms = frozenset({"resident_id"})
    found = run_checks(path, _context("extract", stored, k=5, pseudonyms=pseudonyms))
    assert _verdicts(found)["pii_scan"] == "warn"
    assert "pseudonym columns resident_id only warn" in _reason(found, "pii_scan")
    found = run_checks(path, _context("extract", stored, k=5))
    assert _verdicts(found)["pii_scan"] == "fail"


def test_pii_when_member_name_is_a_phone_then_fail(tmp_path: Path) -> None:
    members = {f"{RESIDENTS['phone'][0]}.txt": b"ok\n"}
    assert _verdicts(run_checks(_zip(tmp_path, members), _context("custom")))["pii_scan"] == "fail"


def test_pii_when_column_is_a_public_key_within_its_domain_then_not_scanned(tmp_path: Path) -> None:
    frame = pl.DataFrame({"city": ["常州市", "连云港市"], "count": [20, 30]})
    context = _context("aggregate", count_columns=("count",), public_keys=PUBLIC)
    assert _verdicts(run_checks(_parquet(tmp_path, frame), context))["pii_scan"] == "pass"


def test_pii_when_public_key_column_holds_values_outside_its_domain_then_scanned(
    tmp_path: Path,
) -> None:
    frame = pl.DataFrame({"city": ["常州市", RESIDENTS["resident_id"][0]], "count": [20, 30]})
    context = _context("aggregate", count_columns=("count",), public_keys=PUBLIC)
    assert _verdicts(run_checks(_parquet(tmp_path, frame), context))["pii_scan"] == "fail"


def test_pii_when_scanner_reports_a_header_finding_then_reason_gives_its_position(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def header_only(frame: pl.DataFrame, max_findings: int = 1000) -> list[Finding]:
        return [Finding(c, -1, "PHONE_NUMBER") for c in frame.columns if c.startswith("139")]

    monkeypatch.setattr(_checks_pii, "scan_frame", header_only)
    frame = pl.DataFrame({"13912345678": [1, 2], "count": [20, 30]})
    found = run_checks(_parquet(tmp_path, frame), _context("aggregate", count_columns=("count",)))
    assert _verdicts(found)["pii_scan"] == "fail"
    reason = _reason(found, "pii_scan")
    assert "the names of columns #1" in reason
    assert "13912345678" not in reason  # the header is a value: only its position is named


# --- raw_rows --------------------------------------------------------------------------


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
    found = run_checks(_zip(tmp_path, {"rows.csv": _csv(copy)}), _context("custom", stored))
    assert _verdicts(found)["raw_rows"] == "fail"
    reason = _reason(found, "raw_rows")
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
    path = _zip(tmp_path_factory.mktemp("copy"), {"t.csv": _csv(copy)})
    assert _verdicts(run_checks(path, _context("custom", stored)))["raw_rows"] == "fail"


def test_raw_rows_when_aggregate_groups_are_small_then_warn_not_fail(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    groups = RESIDENTS.group_by("city", "education").len().rename({"len": "count"})
    frame = groups.with_columns((pl.col("count") * 0 + 50).alias("count"))  # noise hid them
    context = _context("aggregate", stored, count_columns=("count",))
    found = run_checks(_parquet(tmp_path, frame), context)
    assert _verdicts(found)["raw_rows"] == "warn"
    assert "groups are small" in _reason(found, "raw_rows")


def test_raw_rows_when_a_json_model_embeds_input_records_then_fail(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    records = RESIDENTS.head(60).select("age", "district", "income").to_dicts()
    document = {"coef": [0.1, 0.2], "support": records, "mixed": [{"a": 1}, {"a": "x"}]}
    path = tmp_path / "model.json"
    path.write_text(json.dumps(document, ensure_ascii=False))
    found = run_checks(path, _context("train", stored))
    assert _verdicts(found)["file_type"] == "pass"
    assert _verdicts(found)["raw_rows"] == "fail"
    assert "model.json:$.support" in _reason(found, "raw_rows")


def test_raw_rows_when_one_column_coincides_then_warn(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    incomes = RESIDENTS["income"].head(2)
    frame = pl.DataFrame({"scenario": ["低", "高"], "threshold": incomes})
    found = run_checks(
        _zip(tmp_path, {"t.parquet": _parquet_bytes(frame)}), _context("custom", stored)
    )
    assert _verdicts(found)["raw_rows"] == "warn"


def test_raw_rows_when_custom_table_holds_group_statistics_then_pass(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    table = RESIDENTS.group_by("city").agg(pl.col("income").mean().round(0).alias("mean"))
    found = run_checks(_zip(tmp_path, {"t.csv": _csv(table)}), _context("custom", stored))
    assert _verdicts(found)["raw_rows"] == "pass"


def test_raw_rows_when_extract_generalizes_quasi_identifiers_then_pass(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    extract = _extract()
    context = _context("extract", stored, k=5)
    assert _verdicts(run_checks(_parquet(tmp_path, extract), context))["raw_rows"] == "pass"


def test_raw_rows_when_extract_keeps_raw_quasi_identifiers_then_fail(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    raw = RESIDENTS.select("age", "district", "occupation", "income")
    found = run_checks(_parquet(tmp_path, raw), _context("extract", stored, k=5))
    assert _verdicts(found)["raw_rows"] == "fail"
    assert "income" not in _reason(found, "raw_rows")  # sensitive values are released by design


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
    found = run_checks(_parquet(tmp_path, kept), _context("extract", stored, k=5))
    assert _verdicts(found)["raw_rows"] == "pass"
    found = run_checks(_parquet(tmp_path, kept), _context("extract", stored, k=10))
    assert _verdicts(found)["raw_rows"] != "pass"


def _parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def _extract(k: int = 5) -> pl.DataFrame:
    """A k-anonymous extract as the executor writes it: age bands, cities, sex, raw income."""
    low = (pl.col("age") // 20) * 20
    banded = RESIDENTS.select(
        (low.cast(pl.String) + "-" + (low + 19).cast(pl.String)).alias("age"),
        "city",
        "sex",
        "income",
    )
    return banded.filter(pl.len().over("age", "city", "sex") >= k)


# --- small_cells -----------------------------------------------------------------------


def test_small_cells_when_an_aggregate_count_is_below_min_cell_then_fail(tmp_path: Path) -> None:
    frame = pl.DataFrame({"city": ["南京市", "苏州市"], "count": [4, 25]})
    found = run_checks(_parquet(tmp_path, frame), _context("aggregate", count_columns=("count",)))
    assert _verdicts(found)["small_cells"] == "fail"
    assert "1 cells of count" in _reason(found, "small_cells")


def test_small_cells_when_a_histogram_bin_is_small_then_fail(tmp_path: Path) -> None:
    bins = pl.Series("h", [[12, 4, 30], [15, 11, 10]], dtype=pl.Array(pl.Int64, 3))
    frame = pl.DataFrame({"city": ["南京市", "苏州市"], "h": bins})
    context = _context("aggregate", count_columns=("h",))
    assert _verdicts(run_checks(_parquet(tmp_path, frame), context))["small_cells"] == "fail"
    fine = frame.with_columns(
        pl.Series("h", [[12, 14, 30], [15, 11, 10]], dtype=pl.Array(pl.Int64, 3))
    )
    assert _verdicts(run_checks(_parquet(tmp_path, fine), context))["small_cells"] == "pass"


def test_small_cells_when_suppressed_cells_are_null_then_pass(tmp_path: Path) -> None:
    frame = pl.DataFrame({"city": ["南京市", "苏州市"], "count": [None, 25]})
    context = _context("aggregate", count_columns=("count",))
    assert _verdicts(run_checks(_parquet(tmp_path, frame), context))["small_cells"] == "pass"


def test_small_cells_when_custom_csv_has_a_small_count_then_fail(tmp_path: Path) -> None:
    csv = "城市,月,人数\n南京市,1,230\n宿迁市,1,3\n苏州市,2,0\n".encode()
    found = run_checks(_zip(tmp_path, {"t.csv": csv}), _context("custom"))
    assert _verdicts(found)["small_cells"] == "fail"
    reason = _reason(found, "small_cells")
    assert "1 cells of 人数" in reason and "月" not in reason  # a month is a key; zero is no cell


def test_small_cells_when_extract_has_a_class_smaller_than_k_then_fail(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    extract = _extract(k=5)
    context = _context("extract", stored, k=5)
    assert _verdicts(run_checks(_parquet(tmp_path, extract), context))["small_cells"] == "pass"
    lonely = pl.concat([extract.head(1)] * 2).with_columns(pl.lit("100-119").alias("age"))
    found = run_checks(_parquet(tmp_path, pl.concat([extract, lonely])), context)
    assert _verdicts(found)["small_cells"] == "fail"
    assert "1 equivalence classes (2 rows)" in _reason(found, "small_cells")
    assert "smaller than k=5" in _reason(found, "small_cells")


# --- identifier_columns ----------------------------------------------------------------


def test_identifier_columns_when_a_column_is_nearly_unique_then_warn(tmp_path: Path) -> None:
    frame = pl.DataFrame({"row": [f"r{i}" for i in range(100)], "v": [i % 3 for i in range(100)]})
    found = run_checks(_zip(tmp_path, {"t.parquet": _parquet_bytes(frame)}), _context("custom"))
    assert _verdicts(found)["identifier_columns"] == "warn"
    assert "'row' is nearly unique" in _reason(found, "identifier_columns")


def test_identifier_columns_when_values_are_input_identifiers_then_fail(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    # Names under another column name: the scanner only warns on names, the input match fails.
    frame = RESIDENTS.select(pl.col("name").alias("k"), pl.lit(1).alias("one")).head(80)
    found = run_checks(
        _zip(tmp_path, {"t.parquet": _parquet_bytes(frame)}), _context("custom", stored)
    )
    assert _verdicts(found)["identifier_columns"] == "fail"
    assert "direct identifier 'name'" in _reason(found, "identifier_columns")


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
    found = run_checks(_zip(tmp_path, {"t.parquet": _parquet_bytes(frame)}), context)
    assert _verdicts(found)["identifier_columns"] == "fail"
    assert "direct identifier 'household'" in _reason(found, "identifier_columns")


def test_identifier_columns_when_csv_column_holds_means_then_pass(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {"group": [f"g{i % 5}" for i in range(100)], "mean": [i + 0.5 for i in range(100)]}
    )
    found = run_checks(_zip(tmp_path, {"t.csv": _csv(frame)}), _context("custom"))
    assert _verdicts(found)["identifier_columns"] == "pass"


def test_identifier_columns_when_aggregate_has_many_groups_then_keys_pass(tmp_path: Path) -> None:
    frame = pl.DataFrame({"age": list(range(18, 90)), "count": [50 + i for i in range(72)]})
    context = _context("aggregate", count_columns=("count",))
    assert _verdicts(run_checks(_parquet(tmp_path, frame), context))["identifier_columns"] == "pass"


def test_identifier_columns_when_custom_hashes_an_identifier_then_fail(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    hashed = RESIDENTS.select(pl.col("resident_id").hash().cast(pl.String)).head(80)
    found = run_checks(_zip(tmp_path, {"t.csv": _csv(hashed)}), _context("custom", stored))
    assert _verdicts(found)["identifier_columns"] == "fail"


def test_identifier_columns_when_extract_releases_pseudonyms_then_warn(
    tmp_path: Path, stored: dict[str, str]
) -> None:
    extract = _extract()
    pseudonyms = pl.Series("resident_id", [f"{i:016x}" for i in range(extract.height)])
    path = _parquet(tmp_path, extract.with_columns(pseudonyms))
    found = run_checks(
        path, _context("extract", stored, k=5, pseudonyms=frozenset({"resident_id"}))
    )
    assert _verdicts(found)["identifier_columns"] == "warn"
    assert "linkage allowed by the grant" in _reason(found, "identifier_columns")


def test_reasons_when_names_hold_identifiers_then_no_reason_repeats_them(tmp_path: Path) -> None:
    # The operator picks file and column names: a phone number as a file name and a
    # resident ID as a column name must fail the scan without being quoted anywhere.
    resident_id = RESIDENTS["resident_id"][0]
    table = pl.DataFrame({"city": ["南京市", "苏州市"], resident_id: [25, 30]})
    path = _zip(tmp_path, {"13912345678.csv": _csv(table)})
    found = run_checks(path, _context("custom"))
    assert _verdicts(found)["pii_scan"] == "fail"
    text = " ".join(c.reason for c in found)
    assert "13912345678" not in text
    assert resident_id not in text
    assert "[a name holding an identifier]" in text or "#2" in text
