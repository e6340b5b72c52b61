"""Tests for the seeded synthetic Jiangsu residents (sandbox.cli.demo_data)."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from stdnum.cn import ric

from sandbox.cli.demo_data import DEMO_TAGS, JIANGSU_CITIES, generate_residents, write_demo_csv

N = 2000
EXPECTED_COLUMNS = [
    "resident_id", "name", "sex", "age", "phone", "city", "district", "address",
    "education", "occupation", "income", "household_size",
]  # fmt: skip
CITY_PREFIX = {
    "南京市": "3201", "无锡市": "3202", "徐州市": "3203", "常州市": "3204", "苏州市": "3205",
    "南通市": "3206", "连云港市": "3207", "淮安市": "3208", "盐城市": "3209", "扬州市": "3210",
    "镇江市": "3211", "泰州市": "3212", "宿迁市": "3213",
}  # fmt: skip


@pytest.fixture(scope="module")
def residents() -> pl.DataFrame:
    return generate_residents(N, seed=7)


def _age_on(birth: datetime.date, day: datetime.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def test_generate_residents_when_same_seed_then_identical_frames() -> None:
    assert_frame_equal(generate_residents(300, seed=11), generate_residents(300, seed=11))


def test_generate_residents_when_different_seed_then_different_frames() -> None:
    first, second = generate_residents(300, seed=11), generate_residents(300, seed=12)
    assert not first.equals(second)
    assert first["resident_id"].to_list() != second["resident_id"].to_list()
    assert first["name"].to_list() != second["name"].to_list()


def test_generate_residents_when_called_then_columns_and_dtypes_match_contract(
    residents: pl.DataFrame,
) -> None:
    assert residents.columns == EXPECTED_COLUMNS
    assert residents.height == N
    assert residents.schema["age"] == pl.Int64
    assert residents.schema["household_size"] == pl.Int64
    assert residents.schema["income"] == pl.Float64
    assert residents.schema["phone"] == pl.String
    assert residents.null_count().sum_horizontal().item() == 0


def test_demo_tags_when_compared_to_columns_then_cover_each_exactly(
    residents: pl.DataFrame,
) -> None:
    assert list(DEMO_TAGS) == residents.columns
    kinds = {"direct_identifier", "quasi_identifier", "sensitive", "plain"}
    assert set(DEMO_TAGS.values()) <= kinds
    assert DEMO_TAGS["income"] == "sensitive"
    assert {c for c, t in DEMO_TAGS.items() if t == "direct_identifier"} == {
        "resident_id", "name", "phone", "address",
    }  # fmt: skip


def test_resident_id_when_generated_then_valid_gb11643(residents: pl.DataFrame) -> None:
    for rid, age, city in residents.select("resident_id", "age", "city").iter_rows():
        assert len(rid) == 18
        assert rid[:17].isdigit()
        assert rid.startswith(CITY_PREFIX[city])
        # stdnum rejects codes younger than the birth year, so fall back to the parts.
        if not ric.is_valid(rid):
            assert rid[-1] == ric.calc_check_digit(rid)
        birth = datetime.date(int(rid[6:10]), int(rid[10:12]), int(rid[12:14]))
        assert _age_on(birth, datetime.date(2025, 1, 1)) == age


def test_resident_id_when_generated_then_unique(residents: pl.DataFrame) -> None:
    assert residents["resident_id"].n_unique() == N


def test_sex_when_compared_to_id_then_odd_order_code_is_male(residents: pl.DataFrame) -> None:
    for rid, sex in residents.select("resident_id", "sex").iter_rows():
        assert sex == ("男" if int(rid[16]) % 2 == 1 else "女")
    assert set(residents["sex"].unique()) == {"男", "女"}


def test_age_when_generated_then_between_18_and_90(residents: pl.DataFrame) -> None:
    assert residents["age"].min() >= 18
    assert residents["age"].max() <= 90


def test_city_when_generated_then_jiangsu_and_weighted_by_population(
    residents: pl.DataFrame,
) -> None:
    assert len(JIANGSU_CITIES) == 13
    assert set(residents["city"].unique()) <= set(JIANGSU_CITIES)
    counts = dict(residents["city"].value_counts().iter_rows())
    assert counts["苏州市"] == max(counts.values())
    assert counts["南京市"] > counts["镇江市"]


def test_address_when_generated_then_starts_with_province_city_district(
    residents: pl.DataFrame,
) -> None:
    for city, district, address in residents.select("city", "district", "address").iter_rows():
        assert address.startswith(f"江苏省{city}{district}")
        assert address.endswith("号")


def test_phone_when_generated_then_mainland_mobile_format(residents: pl.DataFrame) -> None:
    pattern = re.compile(r"^1[3-9]\d{9}$")
    assert all(pattern.match(p) for p in residents["phone"])


def test_household_size_when_generated_then_between_1_and_6(residents: pl.DataFrame) -> None:
    assert residents["household_size"].is_between(1, 6).all()


def test_income_when_generated_then_positive_and_rises_with_education(
    residents: pl.DataFrame,
) -> None:
    assert (residents["income"] > 0).all()
    assert (residents["income"] == residents["income"].round(2)).all()
    medians = dict(residents.group_by("education").agg(pl.col("income").median()).iter_rows())
    assert medians["小学"] < medians["高中"] < medians["本科"] < medians["研究生"]


def test_generate_residents_when_n_negative_then_value_error() -> None:
    with pytest.raises(ValueError, match="at least 0"):
        generate_residents(-1)


def test_generate_residents_when_n_zero_then_empty_frame_with_same_schema() -> None:
    empty = generate_residents(0)
    assert empty.height == 0
    assert empty.schema == generate_residents(5).schema


def test_write_demo_csv_when_written_then_round_trips(tmp_path: Path) -> None:
    target = write_demo_csv(tmp_path / "nested" / "residents.csv", n=50, seed=3)
    assert target.exists()
    read = pl.read_csv(target, schema_overrides={"resident_id": pl.String, "phone": pl.String})
    assert_frame_equal(read, generate_residents(50, seed=3))
