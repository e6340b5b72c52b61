"""Taxonomies: each value reaches its published group, and the levels nest."""

from __future__ import annotations

import doctest

import pytest

import anonymize.taxonomies.base
from anonymize.taxonomies import CITIES, DISTRICTS, EDUCATION, OCCUPATION, TAXONOMIES, Taxonomy
from anonymize.taxonomies.divisions import JIANGSU_COUNTIES, REGIONS
from anonymize.taxonomies.occupation import MAJOR_GROUPS, NOT_IN_WORK

PATHS = [
    # a 苏南 city, with and without 市
    (CITIES, "无锡市", ("苏南", "江苏省")),
    (CITIES, "无锡", ("苏南", "江苏省")),
    # a 苏中 and a 苏北 city
    (CITIES, "泰州市", ("苏中", "江苏省")),
    (CITIES, "连云港", ("苏北", "江苏省")),
    # a neighbour's city rises to its province at both levels
    (CITIES, "杭州市", ("浙江省", "浙江省")),
    (CITIES, "宿州", ("安徽省", "安徽省")),
    # a municipality is its own province
    (CITIES, "上海市", ("上海市", "上海市")),
    # a bare label stands for itself up to its level
    (CITIES, "苏北", ("苏北", "江苏省")),
    # a district alone, after its city, with its city abbreviated
    (DISTRICTS, "玄武区", ("南京市", "苏南", "江苏省")),
    (DISTRICTS, "扬州市邗江区", ("扬州市", "苏中", "江苏省")),
    (DISTRICTS, "徐州鼓楼区", ("徐州市", "苏北", "江苏省")),
    # 鼓楼区 alone belongs to 南京 (苏南) and 徐州 (苏北): it rises to the province
    (DISTRICTS, "鼓楼区", ("江苏省", "江苏省", "江苏省")),
    # a county and a county-level city, the latter also without 市
    (DISTRICTS, "沭阳县", ("宿迁市", "苏北", "江苏省")),
    (DISTRICTS, "昆山", ("苏州市", "苏南", "江苏省")),
    # education to its stage
    (EDUCATION, "初中", ("义务教育及以下",)),
    (EDUCATION, "未上过学", ("义务教育及以下",)),
    (EDUCATION, "职高", ("高中阶段",)),
    (EDUCATION, "硕士", ("高等教育",)),
    # occupations to their GB/T 6565-2015 major group
    (OCCUPATION, "教师", (MAJOR_GROUPS[2],)),
    (OCCUPATION, "公务员", (MAJOR_GROUPS[3],)),
    (OCCUPATION, "快递员", (MAJOR_GROUPS[4],)),
    (OCCUPATION, "农民", (MAJOR_GROUPS[5],)),
    (OCCUPATION, "工人", (MAJOR_GROUPS[6],)),
    (OCCUPATION, "军人", (MAJOR_GROUPS[7],)),
    (OCCUPATION, "厂长", (MAJOR_GROUPS[1],)),
    # not an occupation: its own label, outside the standard
    (OCCUPATION, "退休", (NOT_IN_WORK,)),
]


@pytest.mark.parametrize(("taxonomy", "value", "path"), PATHS)
def test_taxonomy_when_value_is_known_then_path_is_its_published_groups(
    taxonomy: Taxonomy, value: str, path: tuple[str, ...]
) -> None:
    assert taxonomy.path(value) == path


@pytest.mark.parametrize("taxonomy", TAXONOMIES, ids=lambda t: t.name)
def test_taxonomy_when_unknown_value_then_no_path(taxonomy: Taxonomy) -> None:
    assert taxonomy.path("船长的猫") is None


@pytest.mark.parametrize("taxonomy", TAXONOMIES, ids=lambda t: t.name)
def test_taxonomy_when_built_then_every_label_has_one_parent(taxonomy: Taxonomy) -> None:
    for level in range(len(taxonomy.levels) - 1):
        parents: dict[str, set[str]] = {}
        for path in taxonomy.paths.values():
            parents.setdefault(path[level], set()).add(path[level + 1])
        assert all(len(p) == 1 for p in parents.values())


def test_taxonomy_when_a_label_has_two_parents_then_refused() -> None:
    with pytest.raises(ValueError, match="two parents"):
        Taxonomy("t", ("city", "province"), {"a": ("X", "P"), "b": ("X", "Q")}, "t")


def test_jiangsu_counties_when_counted_then_match_gbt_2260() -> None:
    # 2023: 13 cities, 95 county-level divisions: 55 districts, 21 cities, 19 counties.
    names = [name for counties in JIANGSU_COUNTIES.values() for _, name in counties]
    codes = [code for counties in JIANGSU_COUNTIES.values() for code, _ in counties]
    assert len(JIANGSU_COUNTIES) == 13 and len(names) == 95 == len(set(codes))
    assert sum(n.endswith("区") for n in names) == 55
    assert sum(n.endswith("市") for n in names) == 21
    assert sum(n.endswith("县") for n in names) == 19
    assert sorted(JIANGSU_COUNTIES) == sorted(c for cs in REGIONS.values() for c in cs)


def test_jiangsu_counties_when_codes_read_then_prefix_is_their_city() -> None:
    # GB/T 2260: the first four digits of a county's code are its city's (3201 南京 ... 3213 宿迁).
    order = ["南京市", "无锡市", "徐州市", "常州市", "苏州市", "南通市", "连云港市",
             "淮安市", "盐城市", "扬州市", "镇江市", "泰州市", "宿迁市"]  # fmt: skip
    for i, city in enumerate(order, start=1):
        assert all(code.startswith(f"32{i:02d}") for code, _ in JIANGSU_COUNTIES[city])


def test_taxonomies_when_doctests_run_then_they_pass() -> None:
    result = doctest.testmod(anonymize.taxonomies.base)
    assert result.attempted > 0 and result.failed == 0
