"""Group-size bands: the steward's planning figures, validated, and looked up for a query."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.catalog import (
    MAX_GROUP_SIZE,
    ColumnTag,
    GroupSizeBand,
    band_for,
    can_declare_group_size_bands,
    check_group_size_bands,
)
from policies.errors import InvalidRequest

TAGS = {
    "city": ColumnTag.QUASI_IDENTIFIER,
    "sex": ColumnTag.QUASI_IDENTIFIER,
    "income": ColumnTag.SENSITIVE,
    "name": ColumnTag.DIRECT_IDENTIFIER,
    "size": ColumnTag.PLAIN,
}

REFUSED: list[tuple[dict[str, Any], str]] = [
    ({"town": {"low": 1, "high": 2}}, "lacks: town"),  # no such column
    ({"name": {"low": 1, "high": 2}}, "cannot be grouped"),  # direct identifier
    ({"income": {"low": 1, "high": 2}}, "cannot be grouped"),  # sensitive: measured, not a key
    ({"city": {"low": 0, "high": 2}}, "whole numbers"),  # empty groups are no band
    ({"city": {"low": 5, "high": 2}}, "whole numbers"),  # upside down
    ({"city": {"low": 1.5, "high": 2}}, "whole numbers"),  # not a whole number
    ({"city": {"low": True, "high": 2}}, "whole numbers"),  # a bool is no count
    ({"city": {"low": 1, "high": MAX_GROUP_SIZE + 1}}, "whole numbers"),  # beyond any table
    ({"city": {"low": 1}}, "must be"),  # high missing
    ({"city": {"low": 1, "high": 2, "mid": 1}}, "must be"),  # unknown field
    ({"city": [1, 2]}, "must be"),  # not an object
    ({"city,city": {"low": 1, "high": 2}}, "distinct columns"),  # a column twice
    ({"city,sex,size,city2,x": {"low": 1, "high": 2}}, "distinct columns"),  # too many
    ({"city,sex": {"low": 1, "high": 2}, "sex, city": {"low": 1, "high": 2}}, "same columns"),
]


@pytest.mark.parametrize(("bands", "message"), REFUSED)
def test_check_group_size_bands_when_malformed_then_refused_with_what_to_write(
    bands: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message):
        check_group_size_bands(bands, TAGS)
    assert not can_declare_group_size_bands(bands, TAGS)


def test_check_group_size_bands_when_well_formed_then_keys_normalized() -> None:
    bands = {"city": {"low": 200, "high": 2000}, "city, sex": {"low": 80, "high": 1000}}
    assert check_group_size_bands(bands, TAGS) == {
        "city": GroupSizeBand(200, 2000),
        "city,sex": GroupSizeBand(80, 1000),
    }
    assert can_declare_group_size_bands(bands, TAGS) and check_group_size_bands({}, TAGS) == {}


def test_band_for_when_exact_columns_then_that_band_in_any_order() -> None:
    bands = {"city": GroupSizeBand(200, 2000), "city,sex": GroupSizeBand(80, 1000)}
    assert band_for(bands, ["sex", "city"], {"sex": 2}) == GroupSizeBand(80, 1000)
    assert band_for(bands, ["city"], {}) == GroupSizeBand(200, 2000)


def test_band_for_when_more_keys_then_spread_over_their_declared_domains() -> None:
    bands = {"city": GroupSizeBand(200, 2000)}
    assert band_for(bands, ["city", "size"], {"size": 4}) == GroupSizeBand(50, 500)
    assert band_for(bands, ["city", "size"], {}) is None  # no domain: nothing to say
    assert band_for(bands, ["sex"], {"city": 13}) is None  # no band for sex


@given(low=st.integers(1, 10**6), extra=st.integers(0, 10**6), parts=st.integers(1, 10**4))
def test_band_for_when_spread_then_never_empty_and_low_never_above_high(
    low: int, extra: int, parts: int
) -> None:
    band = band_for({"city": GroupSizeBand(low, low + extra)}, ["city", "sex"], {"sex": parts})
    assert band is not None and 1 <= band.low <= band.high
