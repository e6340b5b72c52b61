"""The ``file_type`` check: every file identified by content."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.checks import blocking
from sandbox.checks.engine import run_checks
from tests.unit.sandbox.checks.helpers import (
    job_context,
    parquet_file,
    png_bytes,
    reason_of,
    verdicts,
    zip_file,
)


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
        ({"plot.png": png_bytes(extra=b"hidden rows")}, "after the end of the PNG"),
        # a Parquet file without its magic
        ({"t.parquet": b"PAR1 not really"}, "Parquet"),
    ],
)
def test_file_type_when_custom_member_is_not_what_it_claims_then_fail(
    tmp_path: Path, members: dict[str, bytes], expected: str
) -> None:
    found = run_checks(zip_file(tmp_path, members), job_context("custom"))
    assert verdicts(found)["file_type"] == "fail"
    assert expected in reason_of(found, "file_type")


def test_file_type_when_member_is_a_symlink_or_a_duplicate_then_fail(tmp_path: Path) -> None:
    path = tmp_path / "out.zip"
    link = zipfile.ZipInfo("link.txt")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(link, "/etc/passwd")
        archive.writestr("a.txt", "one\n")
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("a.txt", "two\n")
    reason = reason_of(run_checks(path, job_context("custom")), "file_type")
    assert "symbolic link" in reason and "appears twice" in reason


def test_file_type_when_csv_has_more_fields_than_its_header_then_fail(tmp_path: Path) -> None:
    ragged = b"city,n\nnanjing,20\nsuzhou,30,hidden,fields\n"
    found = run_checks(zip_file(tmp_path, {"t.csv": ragged}), job_context("custom"))
    assert verdicts(found)["file_type"] == "fail"
    assert "'t.csv' is not a readable CSV table" in reason_of(found, "file_type")


@settings(max_examples=25, deadline=None)
@given(
    suffix=st.sampled_from([".csv", ".parquet", ".json", ".png", ".txt"]),
    data=st.one_of(
        st.binary(max_size=200),
        st.binary(max_size=200).map(lambda b: b"PAR1" + b + b"PAR1"),
        st.binary(max_size=200).map(lambda b: png_bytes()[:33] + b),
    ),
)
def test_file_type_when_member_bytes_are_arbitrary_then_checks_never_crash(
    tmp_path_factory: pytest.TempPathFactory, suffix: str, data: bytes
) -> None:
    path = zip_file(tmp_path_factory.mktemp("fuzz"), {f"m{suffix}": data})
    found = run_checks(path, job_context("custom"))
    assert verdicts(found)["file_type"] in {"pass", "fail"}


def test_file_type_when_custom_zip_holds_allowed_files_then_pass(tmp_path: Path) -> None:
    members = {
        "summary.csv": b"city,mean_income\n" + "南京市,52000\n".encode(),
        "notes.txt": "城市收入概况\n".encode(),
        "params.json": b'{"alpha": 0.1}',
        "plot.png": png_bytes(),
    }
    found = run_checks(zip_file(tmp_path, members), job_context("custom"))
    assert verdicts(found)["file_type"] == "pass"


def test_file_type_when_output_is_not_parquet_then_only_file_type_and_size(tmp_path: Path) -> None:
    path = tmp_path / "out.parquet"
    path.write_text("not a table")
    found = run_checks(path, job_context("aggregate"))
    assert [(c.name, c.verdict) for c in found] == [("file_type", "fail"), ("size", "pass")]
    assert blocking([c.as_dict() for c in found]) == ["file_type"]


def test_file_type_when_custom_output_is_not_a_zip_then_fail(tmp_path: Path) -> None:
    path = parquet_file(tmp_path, pl.DataFrame({"a": [1]}))
    assert verdicts(run_checks(path, job_context("custom")))["file_type"] == "fail"


def test_file_type_when_declared_sizes_exceed_the_cap_then_nothing_is_extracted(
    tmp_path: Path,
) -> None:
    path = zip_file(tmp_path, {"a.txt": b"abc" * 1000})
    found = run_checks(path, job_context("custom", max_bytes=1000))
    assert verdicts(found) == {"file_type": "fail", "size": "fail"}
    assert "declare" in reason_of(found, "size")


def test_file_type_when_no_member_is_readable_then_its_identifying_name_is_masked(
    tmp_path: Path,
) -> None:
    # the only file is refused, so nothing was read; its name (a phone number) still may
    # not reach the reason
    found = run_checks(
        zip_file(tmp_path, {"13912345678.exe": b"MZ\x90\x00"}), job_context("custom")
    )
    assert verdicts(found)["file_type"] == "fail"
    assert "13912345678" not in " ".join(c.reason for c in found)
