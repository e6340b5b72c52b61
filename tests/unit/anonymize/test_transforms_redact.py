"""In-text redaction from a findings frame (code-point offsets), with hand-made findings."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anonymize.detect.findings import FINDINGS_SCHEMA
from anonymize.errors import AnonymizationError
from anonymize.transforms.redact import redact


def _findings(*rows: tuple[int, str, str, int, int, float]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=list(FINDINGS_SCHEMA), orient="row").cast(FINDINGS_SCHEMA)  # type: ignore[arg-type]


NOTE = "张三电话13912345678住南京市"
#       0 1 2 3 4..........14 15 16 17 18

CASES = [
    # one finding in the middle
    ([(0, "note", "PHONE_NUMBER", 4, 15, 0.9)], "label", "张三电话<PHONE_NUMBER>住南京市"),
    # several findings, out of order in the frame
    (
        [(0, "note", "CN_ADDRESS", 16, 19, 0.6), (0, "note", "PERSON", 0, 2, 0.8)],
        "label",
        "<PERSON>电话13912345678住<CN_ADDRESS>",
    ),
    # adjacent findings stay two labels
    (
        [(0, "note", "PERSON", 0, 2, 0.8), (0, "note", "X", 2, 4, 0.5)],
        "label",
        "<PERSON><X>13912345678住南京市",
    ),
    # overlapping findings merge; the higher score names the span
    (
        [(0, "note", "BANK_CARD", 4, 15, 0.4), (0, "note", "PHONE_NUMBER", 4, 12, 0.9)],
        "label",
        "张三电话<PHONE_NUMBER>住南京市",
    ),
    # a finding covering the whole cell
    ([(0, "note", "X", 0, 19, 0.5)], "label", "<X>"),
    # mask style keeps the length, per code point
    ([(0, "note", "PERSON", 0, 2, 0.8)], "mask", "**电话13912345678住南京市"),
    # findings of another column are ignored
    ([(0, "other", "PERSON", 0, 2, 0.8)], "label", NOTE),
    # no findings at all: the text is untouched
    ([], "label", NOTE),
]


@pytest.mark.parametrize(("rows", "style", "expected"), CASES)
def test_redact_when_findings_given_then_spans_replaced(
    rows: list[tuple[int, str, str, int, int, float]], style: str, expected: str
) -> None:
    frame = pl.DataFrame({"note": [NOTE]})
    out = redact(frame, "note", _findings(*rows), style=style)  # type: ignore[arg-type]
    assert out.to_list() == [expected]


def test_redact_when_many_rows_then_only_cells_with_findings_change() -> None:
    frame = pl.DataFrame({"note": ["a1b", None, "xyz", "😀12"]})
    found = _findings((0, "note", "N", 1, 2, 0.9), (3, "note", "N", 1, 3, 0.9))
    assert redact(frame, "note", found).to_list() == ["a<N>b", None, "xyz", "😀<N>"]


def test_redact_when_entities_filtered_then_others_left() -> None:
    frame = pl.DataFrame({"note": [NOTE]})
    found = _findings((0, "note", "PERSON", 0, 2, 0.8), (0, "note", "PHONE_NUMBER", 4, 15, 0.9))
    out = redact(frame, "note", found, entities=["PHONE_NUMBER"])
    assert out.item() == "张三电话<PHONE_NUMBER>住南京市"


@pytest.mark.parametrize(
    "bad",
    [
        # end beyond the cell
        (0, "note", "X", 10, 40, 0.5),
        # empty span
        (0, "note", "X", 3, 3, 0.5),
        # negative start
        (0, "note", "X", -1, 2, 0.5),
        # a row the table does not have
        (5, "note", "X", 0, 1, 0.5),
    ],
)
def test_redact_when_finding_does_not_fit_then_error_without_the_text(
    bad: tuple[int, str, str, int, int, float],
) -> None:
    frame = pl.DataFrame({"note": [NOTE]})
    with pytest.raises(AnonymizationError, match="re-run the PII scan") as err:
        redact(frame, "note", _findings(bad))
    assert "139" not in str(err.value) and "张三" not in str(err.value)


def test_redact_when_column_is_not_text_then_error_suggests_other_ops() -> None:
    with pytest.raises(AnonymizationError, match="mask"):
        redact(pl.DataFrame({"n": [1]}), "n", _findings())


def test_redact_when_findings_frame_lacks_columns_then_error_names_the_contract() -> None:
    frame = pl.DataFrame({"note": [NOTE]})
    with pytest.raises(AnonymizationError, match="FINDINGS_SCHEMA"):
        redact(frame, "note", pl.DataFrame({"row": [0]}))


def _reference(text: str, spans: list[tuple[str, int, int, float]]) -> str:
    """Plain-Python redaction: merge overlaps, name each span by its best finding."""
    ordered = sorted(spans, key=lambda s: (s[1], -s[2]))
    merged: list[list[tuple[str, int, int, float]]] = []
    for span in ordered:
        if merged and span[1] < max(s[2] for s in merged[-1]):
            merged[-1].append(span)
        else:
            merged.append([span])
    out, at = "", 0
    for group in merged:
        best = min(group, key=lambda s: (-s[3], s[1], -s[2], s[0]))
        start, end = min(s[1] for s in group), max(s[2] for s in group)
        out += text[at:start] + f"<{best[0]}>"
        at = end
    return out + text[at:]


@st.composite
def _cell_with_findings(draw: st.DrawFn) -> tuple[str, list[tuple[str, int, int, float]]]:
    text = draw(st.text(alphabet="ab张三😀1 ", min_size=1, max_size=20))
    spans = []
    for _ in range(draw(st.integers(0, 5))):
        start = draw(st.integers(0, len(text) - 1))
        end = draw(st.integers(start + 1, len(text)))
        spans.append((draw(st.sampled_from("ABC")), start, end, draw(st.sampled_from([0.5, 0.9]))))
    return text, spans


@given(st.lists(_cell_with_findings(), min_size=1, max_size=8))
@settings(max_examples=80, deadline=None)
def test_redact_when_random_overlapping_findings_then_matches_plain_python_reference(
    cells: list[tuple[str, list[tuple[str, int, int, float]]]],
) -> None:
    frame = pl.DataFrame({"note": [text for text, _ in cells]})
    found = _findings(
        *[
            (row, "note", e, s, t, score)
            for row, (_, spans) in enumerate(cells)
            for e, s, t, score in spans
        ]
    )
    expected = [_reference(text, spans) for text, spans in cells]
    assert redact(frame, "note", found).to_list() == expected
