"""The extract rules of :mod:`policies.extract`: a test per branch, checks and bool twins."""

from __future__ import annotations

import doctest

import pytest

import policies.extract
from policies.catalog import ColumnTag, Grade
from policies.errors import InvalidJobSpec, PolicyViolation
from policies.extract import (
    can_extract_grade,
    can_pseudonymize,
    can_release_sensitive,
    check_can_extract_grade,
    check_can_pseudonymize,
    check_can_release_sensitive,
    effective_k,
    min_k,
)

TAGS = {
    "resident_id": ColumnTag.DIRECT_IDENTIFIER,
    "phone": ColumnTag.DIRECT_IDENTIFIER,
    "age": ColumnTag.QUASI_IDENTIFIER,
    "income": ColumnTag.SENSITIVE,
    "note": ColumnTag.PLAIN,
}


def test_policies_extract_when_doctests_run_then_they_pass() -> None:
    result = doctest.testmod(policies.extract)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize(
    ("grade", "allowed"),
    [
        (Grade.GENERAL, True),  # 一般数据: extractable
        (Grade.IMPORTANT, True),  # 重要数据: extractable at a higher k
        (Grade.CORE, False),  # 核心数据: never row by row (art. 62)
    ],
)
def test_check_can_extract_grade_when_grade_then_core_refused(grade: Grade, allowed: bool) -> None:
    assert can_extract_grade(grade) is allowed
    if allowed:
        check_can_extract_grade(grade)
    else:
        with pytest.raises(PolicyViolation, match=r"art\. 62"):
            check_can_extract_grade(grade)


@pytest.mark.parametrize(
    ("grade", "grant_k", "expected"),
    [
        (Grade.GENERAL, None, 5),  # the general default
        (Grade.IMPORTANT, None, 10),  # important data needs more
        (Grade.GENERAL, 8, 8),  # a grant may tighten
        (Grade.IMPORTANT, 3, 10),  # ... but never loosen below the grade's default
        (Grade.GENERAL, 2, 5),  # the smallest grant k is still raised to the default
        (Grade.IMPORTANT, 50, 50),  # tightening important data
    ],
)
def test_min_k_when_grade_and_grant_then_larger_applies(
    grade: Grade, grant_k: int | None, expected: int
) -> None:
    assert min_k(grade, grant_k) == expected


def test_min_k_when_core_then_policy_violation() -> None:
    with pytest.raises(PolicyViolation, match="core"):
        min_k(Grade.CORE, 100)


def test_min_k_when_grant_k_below_two_then_invalid() -> None:
    with pytest.raises(InvalidJobSpec, match="at least 2"):
        min_k(Grade.GENERAL, 1)


@pytest.mark.parametrize(
    ("requested", "minimum", "expected"),
    [
        (5, 10, 10),  # the minimum raises the request
        (20, 10, 20),  # a stricter request stands
        (10, 10, 10),  # equal
    ],
)
def test_effective_k_when_request_and_minimum_then_max(
    requested: int, minimum: int, expected: int
) -> None:
    assert effective_k(requested, minimum) == expected


@pytest.mark.parametrize(
    ("sensitive", "l_target", "allowed"),
    [
        ([], None, True),  # nothing sensitive released: no l needed
        (["income"], None, False),  # sensitive without l-diversity
        (["income"], 1, False),  # l = 1 is no diversity
        (["income"], 2, True),  # the least l
        (["income"], 5, True),
    ],
)
def test_check_can_release_sensitive_when_l_then_refused_below_two(
    sensitive: list[str], l_target: int | None, allowed: bool
) -> None:
    assert can_release_sensitive(sensitive, l_target) is allowed
    if allowed:
        check_can_release_sensitive(sensitive, l_target)
    else:
        with pytest.raises(PolicyViolation, match=r"'income'.*l-diverse") as info:
            check_can_release_sensitive(sensitive, l_target)
        assert "art. 37" in str(info.value)


@pytest.mark.parametrize(
    ("columns", "linkage", "error"),
    [
        ([], False, None),  # nothing pseudonymized: linkage irrelevant
        (["resident_id"], True, None),  # a direct identifier under a linkage grant
        (["resident_id", "phone"], True, None),
        (["resident_id"], False, PolicyViolation),  # no linkage: no pseudonyms
        (["age"], True, InvalidJobSpec),  # only direct identifiers are pseudonymized
        (["income"], True, InvalidJobSpec),
        (["missing"], True, InvalidJobSpec),  # unknown column
    ],
)
def test_check_can_pseudonymize_when_columns_and_linkage_then_rule_holds(
    columns: list[str], linkage: bool, error: type[Exception] | None
) -> None:
    assert can_pseudonymize(columns, TAGS, linkage=linkage) is (error is None)
    if error is None:
        check_can_pseudonymize(columns, TAGS, linkage=linkage)
    else:
        with pytest.raises(error) as info:
            check_can_pseudonymize(columns, TAGS, linkage=linkage)
        assert columns[0] in str(info.value)
