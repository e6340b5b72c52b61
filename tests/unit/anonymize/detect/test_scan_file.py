"""The output scanner reads any file type and reports findings without values."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from anonymize.detect.findings import FINDINGS_SCHEMA
from anonymize.detect.scan import read_output, scan_file

ID = "11010519491231002X"
PHONE = "13912345678"
CARD19 = "6222021234567890128"


def _found(path: Path) -> list[tuple[int, str, str, int, int]]:
    frame = scan_file(path)
    assert dict(frame.schema) == FINDINGS_SCHEMA
    return frame.select("row", "column", "entity", "start", "end").rows()


def test_scan_file_when_csv_then_cells_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text(f"name,card\n张三,{CARD19}\n无,1\n", encoding="utf-8")
    # Read as text: a 19-digit card keeps every digit (a float would round it).
    assert _found(path) == [(0, "name", "PERSON", 0, 2), (0, "card", "BANK_CARD", 0, 19)]


def test_scan_file_when_tsv_then_tab_separated(tmp_path: Path) -> None:
    path = tmp_path / "out.tsv"
    path.write_text(f"a\tb\nx\t{PHONE}\n", encoding="utf-8")
    assert _found(path) == [(0, "b", "PHONE_NUMBER", 0, 11)]


def test_scan_file_when_parquet_then_typed_columns_scanned(tmp_path: Path) -> None:
    path = tmp_path / "out.parquet"
    pl.DataFrame({"count": [3, 4], "phone": [None, int(PHONE)]}).write_parquet(path)
    assert _found(path) == [(1, "phone", "PHONE_NUMBER", 0, 11)]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ([{"a": "x"}, {"a": f"电话{PHONE}"}], [(1, "a", "PHONE_NUMBER", 2, 13)]),  # records
        ({"id": ID}, [(0, "id", "CN_RESIDENT_ID", 0, 18)]),  # one record
        ([PHONE, "x"], [(0, "text", "PHONE_NUMBER", 0, 11)]),  # a list of strings
        ([[1, 2], {"k": [ID]}], [(1, "text", "CN_RESIDENT_ID", 8, 26)]),  # nested: JSON text
    ],
)
def test_scan_file_when_json_then_records_or_elements(
    tmp_path: Path, document: object, expected: list[tuple[int, str, str, int, int]]
) -> None:
    path = tmp_path / "out.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    assert _found(path) == expected


def test_scan_file_when_json_lines_then_one_row_per_line(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text(f'{{"a": "x"}}\n{{"a": "{PHONE}"}}\n', encoding="utf-8")
    assert _found(path) == [(1, "a", "PHONE_NUMBER", 0, 11)]


@pytest.mark.parametrize("name", ["report.txt", "notes", "broken.json"])
def test_scan_file_when_text_or_unparsable_then_scanned_line_by_line(
    tmp_path: Path, name: str
) -> None:
    path = tmp_path / name
    path.write_text(f'第一行"\n手机{PHONE}。\n', encoding="utf-8")
    found = _found(path)
    assert [(e, s, t) for _, _, e, s, t in found] == [("PHONE_NUMBER", 2, 13)]


def test_scan_file_when_not_utf8_then_decoded_with_replacement(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(b"\xff\xfe" + PHONE.encode() + b"\n\x00\x01")
    assert [(r, e, s) for r, _, e, s, _ in _found(path)] == [(0, "PHONE_NUMBER", 2)]


def test_scan_file_when_empty_then_no_findings(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("", encoding="utf-8")
    assert _found(path) == []


def test_read_output_when_csv_then_every_column_is_text(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("a,b\n1,2.5\n", encoding="utf-8")
    assert read_output(path).dtypes == [pl.String, pl.String]


def test_scan_file_when_missing_then_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        scan_file(tmp_path / "missing.txt")
