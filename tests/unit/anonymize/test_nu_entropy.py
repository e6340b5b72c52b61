"""ARX's precomputed non-uniform entropy, checked against sums written out by hand."""

from __future__ import annotations

import math

import polars as pl
import pytest

from anonymize.errors import AnonymizationError
from anonymize.nu_entropy import column_entropy, non_uniform_entropy


def test_column_entropy_when_values_merge_then_bits_lost_per_record_summed() -> None:
    # Counts 2 and 3 merged into one released value of 5:
    # 2 log2(5/2) + 3 log2(5/3) = 2 * 1.3219280949 + 3 * 0.7369655942 = 4.8547529722.
    assert column_entropy([2, 3], [5, 5]) == pytest.approx(4.8547529722, abs=1e-9)
    assert column_entropy([2, 3], [2, 3]) == 0.0  # nothing merged, nothing lost
    assert column_entropy([0, 4], [7, 4]) == 0.0  # a value absent from the input is skipped


def test_column_entropy_when_digits_beyond_ten_then_rounded_down_as_arx() -> None:
    # 1 log2(3/1) = 1.58496250072115...: ARX keeps 10 decimals, rounding down.
    assert column_entropy([1], [3]) == math.floor(math.log2(3) * 1e10) / 1e10
    assert column_entropy([1], [3]) < math.log2(3)


def test_non_uniform_entropy_when_toy_table_then_hand_computed_sum() -> None:
    original = pl.DataFrame(
        {"sex": ["M", "M", "F", "F", "F"], "age": [20, 21, 22, 30, 30], "job": list("abcde")}
    )
    generalized = pl.DataFrame(
        {
            "sex": ["*"] * 5,  # 2 and 3 records merged into 5
            "age": ["20-29", "20-29", "20-29", "30-39", "30-39"],  # 1, 1, 1 into 3; 2 into 2
            "job": list("abcde"),  # level 0
        }
    )
    sex = 2 * math.log2(5 / 2) + 3 * math.log2(5 / 3)
    age = 3 * (1 * math.log2(3 / 1)) + 2 * math.log2(2 / 2)
    expected = math.floor(sex * 1e10) / 1e10 + math.floor(age * 1e10) / 1e10
    got = non_uniform_entropy(original, generalized, ["sex", "age", "job"])
    assert got == pytest.approx(expected, rel=1e-12)
    assert got == pytest.approx(4.8547529722 + 4.7548875021, abs=1e-9)


def test_non_uniform_entropy_when_tables_not_aligned_then_error() -> None:
    frame = pl.DataFrame({"a": [1, 2]})
    with pytest.raises(AnonymizationError, match="row-aligned"):
        non_uniform_entropy(frame, frame.head(1), ["a"])
