"""Generalization hierarchies: every level a polars expression, levels nest, top is '*'."""

from __future__ import annotations

import datetime as dt
import re

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from anonymize.errors import AnonymizationError
from anonymize.hierarchies import (
    SUPPRESSED,
    AddressHierarchy,
    CutHierarchy,
    DateHierarchy,
    Hierarchy,
    IntervalHierarchy,
    MapHierarchy,
    PrefixHierarchy,
)

AGES = IntervalHierarchy(widths=(5, 10, 20))
INCOME = CutHierarchy(levels=((3000, 8000, 20000, 50000), (8000, 50000), (8000,)))
BIRTH = DateHierarchy(levels=("month", "year", "decade"))
PERIOD = DateHierarchy(levels=("month", "quarter", "year", "decade"))
REGION = PrefixHierarchy(lengths=(6, 4, 2))
ADDRESS = AddressHierarchy()
DIVISIONS = MapHierarchy(
    levels=(
        {"玄武区": "南京市", "鼓楼区": "南京市", "姑苏区": "苏州市"},
        {"南京市": "江苏省", "苏州市": "江苏省"},
    )
)


def _levels(hierarchy: Hierarchy, values: list[object]) -> list[list[object]]:
    frame = pl.DataFrame({"v": values})
    return [
        frame.select(e.alias(str(i))).to_series().to_list()
        for i, e in enumerate(hierarchy.expressions("v"))
    ]


CASES = [
    # age bands of 5, 10, 20 years; ints stay ints in labels
    (AGES, 37, [37, "[35, 40)", "[30, 40)", "[20, 40)", "*"]),
    # band edges are half-open: 40 starts the next band
    (AGES, 40, [40, "[40, 45)", "[40, 50)", "[40, 60)", "*"]),
    # income cut points: below the first, between, at or above the last
    (INCOME, 2500, [2500, "<3000", "<8000", "<8000", "*"]),
    (INCOME, 8000, [8000, "[8000, 20000)", "[8000, 50000)", ">=8000", "*"]),
    (INCOME, 99999, [99999, ">=50000", ">=50000", ">=8000", "*"]),
    # birth date to month, year, decade
    (BIRTH, dt.date(1985, 3, 2), [dt.date(1985, 3, 2), "1985-03", "1985", "[1980, 1990)", "*"]),
    # a date to month, calendar quarter (May is Q2), year, decade
    (
        PERIOD,
        dt.date(2024, 5, 31),
        [dt.date(2024, 5, 31), "2024-05", "2024-Q2", "2024", "[2020, 2030)", "*"],
    ),
    # quarter edges: March closes Q1, October opens Q4 (ISO text works too)
    (PERIOD, "2024-03-31", ["2024-03-31", "2024-03", "2024-Q1", "2024", "[2020, 2030)", "*"]),
    (PERIOD, "1999-10-01", ["1999-10-01", "1999-10", "1999-Q4", "1999", "[1990, 2000)", "*"]),
    # resident ID to county, city, province region codes (GB/T 2260)
    (REGION, "32010219800101123X", ["32010219800101123X", "320102", "3201", "32", "*"]),
    # full address to district, city, province
    (
        ADDRESS,
        "江苏省南京市玄武区中山路1号",
        ["江苏省南京市玄武区中山路1号", "江苏省南京市玄武区", "江苏省南京市", "江苏省", "*"],
    ),
    # municipality: the city level is the municipality itself
    (
        ADDRESS,
        "北京市朝阳区建国路88号",
        ["北京市朝阳区建国路88号", "北京市朝阳区", "北京市", "北京市", "*"],
    ),
    # county-level city inside a prefecture
    (
        ADDRESS,
        "江苏省苏州市昆山市玉山镇",
        ["江苏省苏州市昆山市玉山镇", "江苏省苏州市昆山市", "江苏省苏州市", "江苏省", "*"],
    ),
    # no province written: province level falls back to '*', never to more detail
    (
        ADDRESS,
        "南京市鼓楼区省府路3号",
        ["南京市鼓楼区省府路3号", "南京市鼓楼区", "南京市", "*", "*"],
    ),
    # a residential compound is not a district: district level falls back to the city
    (ADDRESS, "南京市中山路阳光小区5栋", ["南京市中山路阳光小区5栋", "南京市", "南京市", "*", "*"]),
    # unparseable text reveals nothing above level 0
    (ADDRESS, "不详", ["不详", "*", "*", "*", "*"]),
    # categorical map given as data: district to city to province
    (DIVISIONS, "玄武区", ["玄武区", "南京市", "江苏省", "*"]),
]


@pytest.mark.parametrize(("hierarchy", "value", "expected"), CASES)
def test_hierarchy_when_generalizing_a_value_then_each_level_matches(
    hierarchy: Hierarchy, value: object, expected: list[object]
) -> None:
    assert [level[0] for level in _levels(hierarchy, [value])] == expected


@pytest.mark.parametrize("hierarchy", [AGES, INCOME, BIRTH, REGION, ADDRESS, DIVISIONS])
def test_hierarchy_when_value_is_null_then_null_below_top_and_star_at_top(
    hierarchy: Hierarchy,
) -> None:
    levels = _levels(hierarchy, [None])
    assert [level[0] for level in levels[:-1]] == [None] * hierarchy.height
    assert levels[-1] == [SUPPRESSED]


def test_hierarchy_when_top_level_alone_is_selected_then_one_star_per_row() -> None:
    frame = pl.DataFrame({"age": [1, 2, 3]})
    assert frame.select(AGES.expr("age", AGES.height))["age"].to_list() == ["*"] * 3


@given(st.lists(st.integers(min_value=-50, max_value=200), min_size=1, max_size=60))
@settings(max_examples=40, deadline=None)
def test_interval_and_cuts_when_levels_rise_then_each_is_a_function_of_the_one_below(
    values: list[int],
) -> None:
    # Nesting is what makes anonymity monotone in the lattice (Samarati 2001).
    for hierarchy in (AGES, INCOME, REGION):
        column = [str(v) for v in values] if hierarchy is REGION else values
        frame = pl.DataFrame({"v": column}).select(
            [e.alias(f"l{i}") for i, e in enumerate(hierarchy.expressions("v"))]
        )
        for low in range(hierarchy.height):
            coarser = frame.group_by(f"l{low}").agg(pl.col(f"l{low + 1}").n_unique())
            assert coarser[f"l{low + 1}"].max() == 1


INVALID = [
    # widths must nest: 10 is not a multiple of 4
    (IntervalHierarchy, {"widths": [4, 10]}),
    # widths must grow
    (IntervalHierarchy, {"widths": [10, 5]}),
    # coarser cut points must be a subset of the finer ones
    (CutHierarchy, {"levels": [[1000, 2000], [1500]]}),
    # cut points must increase
    (CutHierarchy, {"levels": [[2000, 1000]]}),
    # prefix lengths must shrink
    (PrefixHierarchy, {"lengths": [2, 4]}),
    # date levels must grow coarser
    (DateHierarchy, {"levels": ["year", "month"]}),
    # a quarter lies between month and year
    (DateHierarchy, {"levels": ["year", "quarter"]}),
    (DateHierarchy, {"levels": ["quarter", "month"]}),
    # address levels must grow coarser
    (AddressHierarchy, {"levels": ["province", "city"]}),
    # unknown fields are refused
    (PrefixHierarchy, {"lengths": [2], "pad": "*"}),
]


@pytest.mark.parametrize(("model", "data"), INVALID)
def test_hierarchy_when_config_is_invalid_then_validation_fails(
    model: type[IntervalHierarchy], data: dict[str, object]
) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(data)


def test_hierarchy_when_declared_as_data_then_kind_selects_the_family() -> None:
    adapter: TypeAdapter[Hierarchy] = TypeAdapter(Hierarchy)
    parsed = adapter.validate_python({"kind": "prefix", "lengths": [4, 2]})
    assert parsed == PrefixHierarchy(lengths=(4, 2))
    assert parsed.height == 3


def test_hierarchy_when_level_does_not_exist_then_error_says_the_range() -> None:
    with pytest.raises(AnonymizationError, match="from 0 to 4"):
        AGES.expr("age", 5)


def test_map_hierarchy_when_value_is_missing_from_map_then_error_without_the_value() -> None:
    frame = pl.DataFrame({"d": ["玄武区", "秘密区"]})
    with pytest.raises(AnonymizationError, match="complete the hierarchy") as err:
        DIVISIONS.check_column(frame, "d")
    assert "秘密区" not in str(err.value)


CHECKS = [
    # interval on text
    (AGES, pl.DataFrame({"v": ["37"]})),
    # cuts on text
    (INCOME, pl.DataFrame({"v": ["9000"]})),
    # dates on numbers
    (BIRTH, pl.DataFrame({"v": [19850302]})),
    # dates on text that is not ISO
    (BIRTH, pl.DataFrame({"v": ["1985年3月2日"]})),
    # a missing column
    (REGION, pl.DataFrame({"other": ["1"]})),
]


@pytest.mark.parametrize(("hierarchy", "frame"), CHECKS)
def test_check_column_when_column_does_not_fit_then_error_carries_no_value(
    hierarchy: Hierarchy, frame: pl.DataFrame
) -> None:
    with pytest.raises(AnonymizationError) as err:
        hierarchy.check_column(frame, "v")
    for value in frame.row(0):
        assert str(value) not in str(err.value)


@pytest.mark.parametrize(
    ("hierarchy", "values", "allowed"),
    [
        # three values missing from the level-1 map: only the spec's level number shows
        (DIVISIONS, ["玄武区", "秘密区", "秘密区", "无名区"], ["1"]),
        # three dates not in ISO form: no number at all
        (BIRTH, ["1985-03-02", "1985年3月2日", "1990年1月1日", "1991年1月1日"], []),
    ],
)
def test_check_column_when_values_fail_then_count_only_in_the_log(
    hierarchy: Hierarchy,
    values: list[str],
    allowed: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    frame = pl.DataFrame({"v": values})
    with (
        caplog.at_level("WARNING", logger="anonymize.hierarchies"),
        pytest.raises(AnonymizationError, match="'v'") as err,
    ):
        hierarchy.check_column(frame, "v")
    message = str(err.value)
    assert re.findall(r"\d+", message) == allowed  # not the count 3
    assert not [v for v in values if v in message]
    assert "3 value(s) of column 'v'" in caplog.text  # the bureau keeps the diagnostic
