"""Output scanning: resident IDs (GB 11643) and mobile numbers, found without carrying values."""

from __future__ import annotations

import dataclasses
from typing import Any

import polars as pl
import pytest
from stdnum.cn import ric

from anonymize.detect.scan import Finding, is_resident_id, scan_frame

ID_X = "11010519491231002X"  # valid, check character X
ID_DIGIT = "320584199003072617"  # valid, check digit 7
PHONE = "13912345678"


def _with_check(first17: str) -> str:
    """Append the GB 11643 check character (stdnum expects a placeholder in its place)."""
    return first17 + ric.calc_check_digit(first17 + "0")


def test_with_check_when_known_ids_then_matches_fixtures() -> None:
    assert _with_check(ID_X[:17]) == ID_X
    assert _with_check(ID_DIGIT[:17]) == ID_DIGIT


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        (ID_X, True),  # check character X
        (ID_X.lower(), True),  # lower-case x is the same ID
        (ID_DIGIT, True),  # numeric check digit
        (ID_DIGIT[:17] + "8", False),  # wrong check digit
        (_with_check("11010519991332001"), False),  # 1999-13-32: check digit fine, date impossible
        (_with_check("11010520991231001"), False),  # born in 2099
        (_with_check("11010518991231001"), False),  # born before 1900
        (ID_X[:17], False),  # 17 characters
        ("A" + ID_X[1:], False),  # a letter in the body
    ],
)
def test_is_resident_id_when_candidate_then_checksum_and_date_decide(
    candidate: str, expected: bool
) -> None:
    assert is_resident_id(candidate) is expected


ID = "CN_RESIDENT_ID"
MOBILE = "PHONE_NUMBER"


@pytest.mark.parametrize(
    ("values", "entity"),
    [
        ([ID_X], ID),  # an ID alone, check character X
        ([ID_X.lower()], ID),  # lower-case x
        ([ID_DIGIT], ID),  # numeric check digit
        ([f"公民身份号码{ID_X}已核验"], ID),  # inside Chinese text, no spaces
        ([f"id: {ID_DIGIT}, ok"], ID),  # inside English text
        ([f"({ID_X})"], ID),  # between brackets
        ([PHONE], MOBILE),  # a mobile number alone
        ([f"联系电话{PHONE}，谢谢"], MOBILE),  # inside Chinese text
        ([f"call {PHONE} now"], MOBILE),  # inside English text
        (["19987654321"], MOBILE),  # 199 prefix
        ([13912345678], MOBILE),  # integer column
        ([13912345678.0], MOBILE),  # whole-number float column
        ([int(ID_DIGIT)], ID),  # an ID stored as an integer
    ],
)
def test_scan_frame_when_identifier_present_then_found(values: list[Any], entity: str) -> None:
    frame = pl.DataFrame({"other": [1] * len(values), "col": values})
    assert scan_frame(frame) == [Finding("col", 0, entity)]


@pytest.mark.parametrize(
    "values",
    [
        [ID_DIGIT[:17] + "8"],  # 18 digits, wrong check digit
        [_with_check("11010519991332001")],  # impossible date 1999-13-32
        [ID_DIGIT + "1"],  # 19 digits: longer than an ID
        ["1" + ID_DIGIT + "23"],  # 21 digits
        ["1.13912345678"],  # a decimal whose fraction looks like a phone
        [1.13912345678],  # the same as a float
        [13912345678.5],  # not a whole number
        ["12912345678"],  # 11 digits starting 12: no such mobile prefix
        ["1391234567"],  # 10 digits
        ["139123456789"],  # 12 digits
        ["订单号2025011391234567801"],  # order number with a phone-like run inside
        ["ORDER-20250101-000123"],  # order number with dashes
        ["2025-01-01 13:45:12"],  # a timestamp
        [None, "n/a"],  # missing value in a text column
    ],
)
def test_scan_frame_when_no_identifier_then_no_finding(values: list[Any]) -> None:
    assert scan_frame(pl.DataFrame({"col": values})) == []


def test_scan_frame_when_boolean_or_null_columns_then_skipped() -> None:
    frame = pl.DataFrame({"flag": [True, False], "empty": pl.Series([None, None], dtype=pl.Null)})
    assert scan_frame(frame) == []


def test_scan_frame_when_many_cells_then_column_then_row_order_and_each_row_once() -> None:
    frame = pl.DataFrame(
        {
            "note": ["nothing", f"{PHONE} or {PHONE[:-1]}9", f"ID {ID_X}", "x"],
            "count": [1, 2, 3, 4],
            "contact": [None, None, None, PHONE],
        }
    )
    assert scan_frame(frame) == [
        Finding("note", 1, MOBILE),  # two phones in one cell: one finding
        Finding("note", 2, ID),  # row order within a column, whatever the entity
        Finding("contact", 3, MOBILE),
    ]


def test_scan_frame_when_cell_has_id_and_phone_then_both_found() -> None:
    frame = pl.DataFrame({"text": [f"身份证 {ID_DIGIT} 手机 {PHONE}"]})
    assert scan_frame(frame) == [Finding("text", 0, ID), Finding("text", 0, MOBILE)]


def test_scan_frame_when_more_than_max_findings_then_truncated() -> None:
    frame = pl.DataFrame({"a": [PHONE] * 5, "b": [PHONE] * 5})
    assert len(scan_frame(frame)) == 10
    assert scan_frame(frame, max_findings=3) == [Finding("a", r, MOBILE) for r in range(3)]


def test_finding_when_built_then_has_only_column_row_entity() -> None:
    assert [f.name for f in dataclasses.fields(Finding)] == ["column", "row", "entity"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Finding("c", 0, ID).row = 1  # type: ignore[misc]


def test_scan_frame_when_findings_then_no_value_in_their_text() -> None:
    frame = pl.DataFrame({"text": [f"身份证{ID_X}", f"电话{PHONE}"]})
    findings = scan_frame(frame)
    assert len(findings) == 2
    text = repr(findings) + str([dataclasses.astuple(f) for f in findings])
    for secret in (ID_X, ID_X[:17], PHONE, PHONE[:7]):
        assert secret not in text


HEADER = -1


def test_scan_frame_when_pivoted_names_and_ids_as_headers_then_found_at_row_minus_one() -> None:
    frame = pl.DataFrame(
        {"区县": ["玄武区", "鼓楼区"], "张伟": [3, 4], "李欣": [1, 2], ID_X: [5, 6]}
    )
    assert scan_frame(frame) == [
        Finding("张伟", HEADER, "PERSON"),  # names fill most headers: bare names count
        Finding("李欣", HEADER, "PERSON"),
        Finding(ID_X, HEADER, ID),  # an ID as a column name
    ]


def test_scan_frame_when_header_and_cells_then_header_first_in_its_column() -> None:
    frame = pl.DataFrame({"a": ["x"], f"联系电话{PHONE}": [PHONE]})
    assert scan_frame(frame) == [
        Finding(f"联系电话{PHONE}", HEADER, MOBILE),
        Finding(f"联系电话{PHONE}", 0, MOBILE),
    ]


def test_scan_frame_when_one_bare_name_among_label_headers_then_not_counted() -> None:
    frame = pl.DataFrame({"区县": ["玄武区"], "人口": [1], "面积": [2], "张伟": [3]})
    assert scan_frame(frame) == []


def test_scan_frame_when_empty_table_with_headers_then_headers_scanned() -> None:
    frame = pl.DataFrame(schema={"姓名：王小明": pl.String, "count": pl.Int64})
    assert scan_frame(frame) == [Finding("姓名：王小明", HEADER, "PERSON")]


def test_scan_file_when_csv_header_holds_phone_then_row_minus_one_with_offsets(
    tmp_path: Any,
) -> None:
    from anonymize.detect.scan import scan_file

    path = tmp_path / "pivot.csv"
    pl.DataFrame({"区县": ["玄武区"], f"tel {PHONE}": ["1"]}).write_csv(path)
    found = scan_file(path).select("row", "column", "entity", "start", "end").rows()
    assert found == [(HEADER, f"tel {PHONE}", MOBILE, 4, 15)]
