"""Mask: keep the first and last code points of a value, hide the rest."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anonymize.transforms.mask import mask

CASES = [
    # resident ID: region and last four kept, the middle ten masked
    ("32010219800101123X", 4, 4, "*", "3201**********123X"),
    # mobile number: carrier prefix and last four kept
    ("13912345678", 3, 4, "*", "139****5678"),
    # Chinese name: code points, not bytes
    ("张三丰", 1, 0, "*", "张**"),
    # configurable mask character
    ("a@b.cn", 1, 0, "#", "a#####"),
    # astral code points count once
    ("ab😀cd", 2, 1, "*", "ab**d"),
    # too short to hide anything between the kept ends: masked whole
    ("张三", 1, 1, "*", "**"),
    # exactly as long as the kept ends: masked whole
    ("1234", 2, 2, "*", "****"),
    # empty stays empty
    ("", 1, 1, "*", ""),
    # nothing kept: everything masked
    ("secret", 0, 0, "x", "xxxxxx"),
]


@pytest.mark.parametrize(("value", "first", "last", "char", "expected"), CASES)
def test_mask_when_value_given_then_ends_kept_and_middle_masked(
    value: str, first: int, last: int, char: str, expected: str
) -> None:
    frame = pl.DataFrame({"v": [value]})
    assert frame.select(mask("v", keep_first=first, keep_last=last, char=char)).item() == expected


def test_mask_when_column_is_numeric_or_null_then_text_out_and_null_kept() -> None:
    frame = pl.DataFrame({"v": [13912345678, None]})
    assert frame.select(mask("v", keep_last=2))["v"].to_list() == ["*********78", None]


@given(st.text(max_size=30), st.integers(0, 6), st.integers(0, 6))
@settings(max_examples=80, deadline=None)
def test_mask_when_any_text_then_same_length_and_value_never_survives_whole(
    value: str, first: int, last: int
) -> None:
    out = pl.DataFrame({"v": [value]}).select(mask("v", keep_first=first, keep_last=last)).item()
    assert len(out) == len(value)
    if value and set(value) != {"*"}:
        assert out != value
