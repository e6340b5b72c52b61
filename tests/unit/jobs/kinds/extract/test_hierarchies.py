"""Automatic hierarchies: taxonomies give categories middle levels (issue 17)."""

from __future__ import annotations

import json

import polars as pl
import pytest

from anonymize.hierarchies import MapHierarchy, TableHierarchy
from anonymize.kanon import KAnonymitySpec, enforce_k_anonymity
from anonymize.taxonomies.divisions import JIANGSU_COUNTIES
from anonymize.taxonomies.occupation import MAJOR_GROUPS, NOT_IN_WORK
from jobs.kinds.extract.hierarchies import OTHER, Choice, choose
from sandbox.cli.demo_data import _DISTRICTS, generate_residents

#: The demo's extract (sandbox/cli/demo.py): its quasi-identifiers, k, l and suppression.
DEMO_QIS = ("sex", "age", "city", "education")
DEMO_K = 5


def _choice(frame: pl.DataFrame, column: str, k: int = 5) -> Choice:
    return choose(frame, [column], k, {})[column]


def _levels(frame: pl.DataFrame, column: str, choice: Choice) -> list[list[str]]:
    """The distinct labels at each level from 1 to the top, sorted."""
    h = choice.hierarchy
    return [
        sorted(frame.select(h.expr(column, level))[column].drop_nulls().unique().to_list())
        for level in range(1, h.height + 1)
    ]


def test_choose_when_jiangsu_cities_then_region_then_star() -> None:
    frame = pl.DataFrame({"city": ["南京市", "无锡", "南通市", "徐州市", "宿迁"] * 2})
    choice = _choice(frame, "city")
    assert choice.description["taxonomy"] == "cities"
    # one province: its level would merge everything, so it is left out
    assert _levels(frame, "city", choice) == [["苏中", "苏北", "苏南"], ["*"]]


def test_choose_when_cities_of_several_provinces_then_region_then_province() -> None:
    frame = pl.DataFrame({"城市": ["苏州市", "扬州市", "杭州市", "合肥"] * 3})
    choice = _choice(frame, "城市")
    assert choice.description["level_names"] == ["region", "province"]
    assert _levels(frame, "城市", choice) == [
        ["安徽省", "浙江省", "苏中", "苏南"],
        ["安徽省", "江苏省", "浙江省"],
        ["*"],
    ]


def test_choose_when_jiangsu_districts_then_city_region_province() -> None:
    frame = pl.DataFrame(
        {"区县": ["玄武区", "江阴市", "南通市崇川区", "泗洪县", "海州区", "杭州市西湖区"]}
    )
    # five of six records known (83 %): enough for a column named 区县 (60 %)
    choice = _choice(frame, "区县", k=1)
    h = choice.hierarchy
    assert isinstance(h, MapHierarchy) and h.height == 4
    at = [frame.select(h.expr("区县", level))["区县"].to_list() for level in (1, 2, 3)]
    assert at[0] == ["南京市", "无锡市", "南通市", "宿迁市", "连云港市", "杭州市西湖区"]
    assert at[1] == ["苏南", "苏南", "苏中", "苏北", "苏北", OTHER]
    assert at[2] == ["江苏省"] * 5 + [OTHER]


def test_choose_when_education_values_then_school_stage() -> None:
    frame = pl.DataFrame({"x": ["小学", "初中", "高中", "中专", "大专", "本科", "硕士"] * 5})
    h = _choice(frame, "x").hierarchy
    stages = frame.select(h.expr("x", 1))["x"].to_list()[:7]
    assert stages == ["义务教育及以下"] * 2 + ["高中阶段"] * 2 + ["高等教育"] * 3
    assert h.height == 2


def test_choose_when_occupation_values_then_gbt_6565_major_group() -> None:
    frame = pl.DataFrame({"occupation": ["教师", "快递员", "农民", "工人", "退休"] * 5})
    h = _choice(frame, "occupation").hierarchy
    assert frame.select(h.expr("occupation", 1))["occupation"].to_list()[:5] == [
        MAJOR_GROUPS[2],
        MAJOR_GROUPS[4],
        MAJOR_GROUPS[5],
        MAJOR_GROUPS[6],
        NOT_IN_WORK,
    ]


COVERAGE = [
    # 90 % known: chosen by the values alone
    ("x", 9, True),
    # 80 % known under a neutral name: not enough, grouped by frequency
    ("x", 8, False),
    # 80 % known under a name that says education: enough (60 %)
    ("学历", 8, True),
    ("education_level", 7, True),
    # 50 % known: not even with the name
    ("学历", 5, False),
]


@pytest.mark.parametrize(("column", "known", "taxonomy"), COVERAGE)
def test_choose_when_coverage_crosses_threshold_then_taxonomy_or_frequency(
    column: str, known: int, taxonomy: bool
) -> None:
    values = (["本科", "初中", "高中"] * 4)[:known] + ["夜校", "私塾", "函授", "网课"][: 10 - known]
    frame = pl.DataFrame({column: values * 5})
    choice = _choice(frame, column)
    assert choice.description["basis"] == ("taxonomy" if taxonomy else "frequency")


def test_choose_when_taxonomy_misses_values_then_frequent_kept_rare_to_other() -> None:
    frame = pl.DataFrame({"学历": ["本科"] * 40 + ["初中"] * 40 + ["夜校"] * 6 + ["私塾"] * 2})
    h = _choice(frame, "学历", k=5).hierarchy
    assert isinstance(h, MapHierarchy)
    assert h.levels[0] == {
        "本科": "高等教育",
        "初中": "义务教育及以下",
        "夜校": "夜校",
        "私塾": OTHER,
    }


def test_choose_when_only_labels_then_no_taxonomy() -> None:
    # provinces are labels of the city taxonomy, not cities: nothing to gain
    frame = pl.DataFrame({"province": ["江苏省", "浙江省"] * 5})
    assert _choice(frame, "province").description["basis"] == "frequency"


def test_choose_when_rare_and_uncommon_categories_then_two_frequency_levels() -> None:
    frame = pl.DataFrame({"hobby": ["围棋"] * 60 + ["书法"] * 30 + ["潜水"] * 8 + ["击剑"] * 2})
    choice = _choice(frame, "hobby")
    assert choice.description["basis"] == "frequency"
    assert _levels(frame, "hobby", choice) == [
        sorted(["围棋", "书法", "潜水", OTHER]),
        sorted(["围棋", "书法", OTHER]),
        ["*"],
    ]


def test_choose_when_taxonomy_chosen_then_description_holds_no_data_value() -> None:
    frame = generate_residents(300, seed=3)
    columns = ["city", "district", "education", "occupation"]
    choices = choose(frame, columns, 5, {})
    text = json.dumps([c.description for c in choices.values()], ensure_ascii=False)
    values = {v for c in columns for v in frame[c].unique().to_list()}
    assert not [v for v in values if v in text]
    assert all(c.description["basis"] == "taxonomy" for c in choices.values())


def test_choose_when_spec_names_a_table_then_description_counts_levels_only() -> None:
    table = TableHierarchy.from_csv("本科;高等教育;*\n初中;义务教育及以下;*\n")
    frame = pl.DataFrame({"学历": ["本科", "初中"]})
    choice = choose(frame, ["学历"], 5, {"学历": table})["学历"]
    assert choice.source == "spec"
    assert choice.description == {"kind": "table", "levels": 1, "height": 2}


def test_demo_districts_when_compared_then_agree_with_gbt_2260_table() -> None:
    for city, pairs in _DISTRICTS.items():
        assert set(pairs) <= set(JIANGSU_COUNTIES[city])


def test_demo_extract_when_k_5_then_no_quasi_identifier_fully_suppressed() -> None:
    # The demo's extract: 5,000 residents; sex, age, city, education; income l = 2; 5 %.
    frame = generate_residents(5000).select(*DEMO_QIS, "income")
    choices = choose(frame, DEMO_QIS, DEMO_K, {})
    spec = KAnonymitySpec(
        quasi_identifiers={q: c.hierarchy for q, c in choices.items()},
        k=DEMO_K,
        sensitive="income",
        l_diversity=2,
        max_suppression=0.05,
    )
    _, report = enforce_k_anonymity(frame, spec)
    assert report.k_achieved >= DEMO_K
    assert {q: report.levels[q] < report.heights[q] for q in DEMO_QIS} == dict.fromkeys(
        DEMO_QIS, True
    )
