"""The vectorized path's contract: schema, order, offsets, column types, arguments."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from anonymize.detect.analyzer import analyze_text
from anonymize.detect.entities import ENTITIES, Entity
from anonymize.detect.entity import EntityDefinition
from anonymize.detect.findings import FINDINGS_SCHEMA
from anonymize.detect.vector import scan_table
from anonymize.errors import AnonymizationError
from tests.unit.anonymize.detect._detect import presidio, vector, with_ric

ID = "11010519491231002X"
PHONE = "13912345678"
WIDE_PHONE = "".join(chr(ord(c) + 0xFEE0) for c in PHONE)


def _rows(frame: pl.DataFrame) -> list[tuple[object, ...]]:
    return frame.select("row", "column", "entity", "start", "end").rows()


def test_scan_table_when_findings_then_exact_schema_and_sorted_by_column_row_start() -> None:
    frame = pl.DataFrame(
        {
            "b": [f"手机{PHONE} 身份证{ID}", None, PHONE],
            "a": ["无", f"邮箱a@b.cn，电话{PHONE}", ""],
        }
    )
    found = scan_table(frame)
    assert dict(found.schema) == FINDINGS_SCHEMA
    assert _rows(found) == [
        (0, "b", "PHONE_NUMBER", 2, 13),
        (0, "b", "CN_RESIDENT_ID", 17, 35),
        (2, "b", "PHONE_NUMBER", 0, 11),
        (1, "a", "EMAIL_ADDRESS", 2, 8),
        (1, "a", "PHONE_NUMBER", 11, 22),
    ]


def test_scan_table_when_nothing_found_then_empty_frame_with_schema() -> None:
    for frame in (pl.DataFrame({"a": ["无", None]}), pl.DataFrame(), pl.DataFrame({"a": []})):
        found = scan_table(frame)
        assert found.height == 0
        assert dict(found.schema) == FINDINGS_SCHEMA


@pytest.mark.parametrize(
    ("text", "spans"),
    [
        (f"😀😀{PHONE}", {PHONE}),  # characters outside the BMP (4 UTF-8 bytes each) before
        (f"é{ID} 中文 {PHONE}", {ID, PHONE}),  # 2- and 3-byte characters between spans
        (f"{WIDE_PHONE}和{ID}", {WIDE_PHONE, ID}),  # full-width digits, folded in place
    ],
)
def test_scan_table_when_multibyte_text_then_offsets_are_code_points(
    text: str, spans: set[str]
) -> None:
    found = vector(text)
    assert found == presidio(text)
    assert {text[s:e] for _, s, e in found} == spans


def test_scan_table_when_many_matches_in_one_cell_then_each_found_in_order() -> None:
    phones = [f"13{i:09d}" for i in range(40)]
    text = ",".join(phones)  # adjacent matches share one separator each
    found = scan_table(pl.DataFrame({"t": [text, PHONE]}))
    spans = found.filter(pl.col("row") == 0).select("start", "end").rows()
    assert [text[s:e] for s, e in spans] == phones


def test_scan_table_when_same_match_twice_in_one_cell_then_both_at_their_offsets() -> None:
    # The second match's text first occurs at the first match: found again one by one.
    text = f"电话{PHONE}，电话{PHONE}，身份证{ID}。"
    found = vector(text)
    assert found == presidio(text)
    assert sorted(s for _, s, _ in found) == [2, 16, 31]


def test_scan_table_when_column_of_whole_matches_has_a_trailing_dot_then_dot_left_out() -> None:
    # A column of phones takes the whole-cell fast path; a dot after the number is no part of
    # it (the tail reads a dot and the end), as on the Presidio path.
    cells = [PHONE] * 5 + [PHONE + ".", ID + ".", PHONE]
    found = scan_table(pl.DataFrame({"t": cells}))
    rows = found.select("row", "start", "end").rows()
    assert rows[5:] == [(5, 0, 11), (6, 0, 18), (7, 0, 11)]
    assert [(5, s.start, s.end) for s in analyze_text(cells[5])] == [rows[5]]


def test_scan_table_when_columns_given_then_only_those_in_that_order() -> None:
    frame = pl.DataFrame({"a": [PHONE], "b": [PHONE], "c": [PHONE]})
    assert scan_table(frame, columns=["c", "a"])["column"].to_list() == ["c", "a"]


def test_scan_table_when_entities_given_then_only_those() -> None:
    frame = pl.DataFrame({"t": [f"{PHONE} {ID}"]})
    assert scan_table(frame, entities=["CN_RESIDENT_ID"])["entity"].to_list() == ["CN_RESIDENT_ID"]
    assert scan_table(frame, entities=[Entity.PHONE_NUMBER])["entity"].to_list() == ["PHONE_NUMBER"]


@pytest.mark.parametrize(
    ("text", "threshold", "count"),
    [
        ("E12345678", 0.5, 1),  # passport alone scores 0.5: reported at 0.5
        ("E12345678", 0.6, 0),  # and not at 0.6
        ("护照E12345678", 0.8, 1),  # context lifts it to 0.85
        ("订单号" + PHONE, 0.5, 0),  # an order-number word halves the phone's score
    ],
)
def test_scan_table_when_threshold_then_context_adjusted_scores_decide(
    text: str, threshold: float, count: int
) -> None:
    assert scan_table(pl.DataFrame({"t": [text]}), threshold=threshold).height == count


@pytest.mark.parametrize(
    ("values", "entity"),
    [
        ([13912345678], "PHONE_NUMBER"),  # integer column
        ([13912345678.0], "PHONE_NUMBER"),  # whole-number float
        ([[PHONE, "x"]], "PHONE_NUMBER"),  # list column: its JSON text is scanned
        ([{"id": ID}], "CN_RESIDENT_ID"),  # struct column
        (pl.Series([PHONE], dtype=pl.Categorical), "PHONE_NUMBER"),  # categorical
    ],
)
def test_scan_table_when_column_types_vary_then_scanned_as_text(
    values: object, entity: str
) -> None:
    assert scan_table(pl.DataFrame({"c": values}))["entity"].to_list() == [entity]


@pytest.mark.parametrize(
    "values",
    [
        [13912345678.5],  # not a whole number
        [float("nan"), float("inf")],  # no number at all
        [True, False],  # booleans
        [dt.date(2020, 1, 1)],  # dates
        [b"13912345678"],  # bytes are not text
    ],
)
def test_scan_table_when_column_holds_no_text_then_skipped(values: list[object]) -> None:
    assert scan_table(pl.DataFrame({"c": values})).height == 0


def test_scan_table_when_unknown_column_then_error_names_column_not_values() -> None:
    with pytest.raises(AnonymizationError, match="nope") as info:
        scan_table(pl.DataFrame({"a": [PHONE]}), columns=["nope"])
    assert PHONE not in str(info.value)


def test_scan_table_when_unknown_entity_then_error() -> None:
    with pytest.raises(AnonymizationError, match="NOT_AN_ENTITY"):
        scan_table(pl.DataFrame({"a": ["x"]}), entities=["NOT_AN_ENTITY"])


def test_scan_table_when_large_column_then_same_as_small_pieces() -> None:
    def cell(i: int) -> str:
        phone = f"1{(3900000000 + i * 7919) % 10**10:010d}"
        resident = with_ric(f"1101051990{i % 12 + 1:02d}15{i % 1000:03d}")
        return f"客户{i}，手机{phone}，{resident}"

    cells = [cell(i) for i in range(50_000)]
    whole = scan_table(pl.DataFrame({"t": cells}))
    head = scan_table(pl.DataFrame({"t": cells[:1000]}))
    assert whole.filter(pl.col("row") < 1000).equals(head)
    assert whole.height == head.height * 50


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_rules_when_an_entity_has_several_then_in_decreasing_score_order(
    entity: EntityDefinition,
) -> None:
    # Where two rules find one span, the first wins: the higher score (names: 0.85 to 0.5).
    scores = [r.score for r in entity.rules]
    assert scores == sorted(scores, reverse=True)
