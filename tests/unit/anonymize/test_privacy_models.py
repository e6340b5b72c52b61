"""k-anonymity, l-diversity, t-closeness and information loss measured on tables."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anonymize.errors import AnonymizationError
from anonymize.privacy_models import (
    PrivacyReport,
    average_class_size,
    discernibility,
    distinct_l_diversity,
    emd,
    entropy_l_diversity,
    generalization_height,
    k_anonymity,
    measure,
    normalized_certainty_penalty,
    t_closeness,
)

# Li, Li, Venkatasubramanian (ICDE 2007), table 3: salaries 3k..11k, three
# classes of three records; the paper gives D[P1, Q] = 0.375 and D[P2, Q] = 0.167.
LI_ET_AL = pl.DataFrame(
    {
        "zip": ["4767*"] * 3 + ["4790*"] * 3 + ["4760*"] * 3,
        "salary": [3, 4, 5, 6, 8, 11, 7, 9, 10],
        "disease": [
            "gastric ulcer",
            "gastritis",
            "stomach cancer",
            "gastritis",
            "flu",
            "bronchitis",
            "bronchitis",
            "pneumonia",
            "stomach cancer",
        ],
    }
)


def test_emd_when_li_et_al_example_then_matches_the_paper_by_hand() -> None:
    uniform = [1 / 9] * 9
    # P1 = {3k, 4k, 5k}: cumulative differences 2/9, 4/9, 6/9, 5/9, ..., 1/9, 0 sum to 3; 3/8.
    assert emd([1 / 3] * 3 + [0] * 6, uniform, ordered=True) == pytest.approx(0.375)
    # P2 = {6k, 8k, 11k}: 0.167 in the paper (1/6).
    p2 = [0, 0, 0, 1 / 3, 0, 1 / 3, 0, 0, 1 / 3]
    assert emd(p2, uniform, ordered=True) == pytest.approx(1 / 6)
    # equal distance: all mass on one of three values against uniform is 2/3.
    assert emd([1, 0, 0], [1 / 3] * 3, ordered=False) == pytest.approx(2 / 3)


def test_t_closeness_when_li_et_al_table_then_worst_class_is_p1() -> None:
    assert t_closeness(LI_ET_AL, ["zip"], "salary") == pytest.approx(0.375)


def test_measure_when_li_et_al_table_then_k3_l3_and_entropy_l3() -> None:
    report = measure(LI_ET_AL, ["zip"], "disease")
    assert (report.rows, report.classes, report.k, report.l_distinct) == (9, 3, 3, 3)
    assert report.l_entropy == pytest.approx(3.0)


@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 6)), min_size=1, max_size=80),
    st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_t_closeness_when_random_table_then_equals_brute_force_emd(
    rows: list[tuple[int, int]], ordered: bool
) -> None:
    frame = pl.DataFrame(rows, schema=["g", "s"], orient="row")
    domain = sorted(set(frame["s"]))
    q = np.array([frame["s"].to_list().count(v) for v in domain]) / frame.height
    worst = 0.0
    for _, part in frame.group_by("g"):
        values = part["s"].to_list()
        p = np.array([values.count(v) for v in domain]) / len(values)
        worst = max(worst, emd(p, q, ordered=ordered))
    assert t_closeness(frame, ["g"], "s", ordered=ordered) == pytest.approx(worst, abs=1e-9)


MEASURES = pl.DataFrame(
    {
        "age": ["20-29", "20-29", "20-29", "30-39", "30-39", None, None],
        "sex": ["F", "F", "F", "M", "M", "F", "F"],
        "illness": ["flu", "flu", "cold", "flu", "asthma", "flu", None],
    }
)


@pytest.mark.parametrize(
    ("quasi_identifiers", "k", "l_distinct"),
    [
        # three classes of sizes 3, 2, 2 (nulls form a class of their own)
        (["age", "sex"], 2, 1),
        # by sex only: F has 5 rows with flu/cold, M 2 rows with flu/asthma
        (["sex"], 2, 2),
        # no quasi-identifier: one class of all rows
        ([], 7, 3),
    ],
)
def test_measure_when_grouping_then_k_and_distinct_l_are_minimum_over_classes(
    quasi_identifiers: list[str], k: int, l_distinct: int
) -> None:
    assert k_anonymity(MEASURES, quasi_identifiers) == k
    assert distinct_l_diversity(MEASURES, quasi_identifiers, "illness") == l_distinct


def test_entropy_l_when_class_is_two_to_one_then_exp_of_its_entropy() -> None:
    # the 20-29/F class holds flu, flu, cold; the null class only flu (entropy 0).
    frame = MEASURES.filter(pl.col("age").is_not_null())
    entropy = -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3))
    assert entropy_l_diversity(frame, ["age"], "illness") == pytest.approx(math.exp(entropy))
    assert entropy_l_diversity(MEASURES, ["age"], "illness") == pytest.approx(1.0)


def test_measure_when_table_is_empty_then_k_is_zero() -> None:
    empty = MEASURES.clear()
    assert measure(empty, ["age"]) == PrivacyReport(rows=0, classes=0, k=0)


def test_measure_when_reference_lacks_a_value_then_error_without_the_value() -> None:
    with pytest.raises(AnonymizationError, match="reference") as err:
        measure(MEASURES, ["age"], "illness", reference=pl.Series("illness", ["flu"]))
    assert "asthma" not in str(err.value)


def test_measure_when_column_missing_then_error_names_it() -> None:
    with pytest.raises(AnonymizationError, match="'zip'"):
        measure(MEASURES, ["zip"])


def test_ncp_when_numeric_and_categorical_generalized_then_hand_computed_share() -> None:
    original = pl.DataFrame({"age": [20, 24, 30, 40], "city": ["a", "b", "c", "d"]})
    generalized = pl.DataFrame(
        # ages 20 and 24 share a band: (24 - 20) / (40 - 20) = 0.2 each; others exact.
        # cities a, b merge: (2 - 1) / (4 - 1) = 1/3 each; c, d exact.
        {"age": ["[20, 25)", "[20, 25)", "30", "40"], "city": ["ab", "ab", "c", "d"]}
    )
    expected = (0.2 + 0.2 + 1 / 3 + 1 / 3) / 8
    assert normalized_certainty_penalty(original, generalized, ["age", "city"]) == pytest.approx(
        expected
    )
    # suppressing the last record costs 1 per cell: (0.2 + 0.2 + 1/3 + 1/3 + 2) / 8.
    removed = pl.Series([False, False, False, True])
    assert normalized_certainty_penalty(
        original, generalized, ["age", "city"], suppressed=removed
    ) == pytest.approx(expected + 2 / 8)


def test_ncp_when_everything_is_star_then_one() -> None:
    original = pl.DataFrame({"age": [20, 24, 30], "city": ["a", "b", "c"]})
    stars = pl.DataFrame({"age": ["*"] * 3, "city": ["*"] * 3})
    assert normalized_certainty_penalty(original, stars, ["age", "city"]) == pytest.approx(1.0)


def test_ncp_when_not_row_aligned_then_error_says_to_keep_suppressed_rows() -> None:
    with pytest.raises(AnonymizationError, match="row-aligned"):
        normalized_certainty_penalty(MEASURES, MEASURES.head(2), ["age"])


def test_discernibility_and_cavg_when_classes_3_2_2_then_hand_computed() -> None:
    # classes of 3, 2 and 2 rows plus 1 suppressed record of a table of 8.
    assert discernibility(MEASURES, ["age", "sex"], suppressed=1) == 9 + 4 + 4 + 8
    assert average_class_size(MEASURES, ["age", "sex"], k=2) == pytest.approx(7 / 3 / 2)


def test_generalization_height_when_half_the_levels_used_then_half() -> None:
    assert generalization_height({"age": 2, "zip": 1}, {"age": 4, "zip": 2}) == 0.5
