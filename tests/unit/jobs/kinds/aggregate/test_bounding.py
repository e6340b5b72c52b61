"""Contribution bounding: at most k rows and g groups per person, the same on any partitioning."""

from __future__ import annotations

import polars as pl
import pytest

from jobs.kinds import parse_job_spec
from jobs.kinds.aggregate.bounding import bound_contributions, salt

# 20 people; person p has p + 1 rows spread over cities c0..c(p mod 4)
FRAME = pl.DataFrame(
    [(p, f"c{r % (p % 4 + 1)}", float(r)) for p in range(20) for r in range(p + 1)],
    schema={"pid": pl.Int64, "city": pl.String, "x": pl.Float64},
    orient="row",
)


def _bounded(frame: pl.DataFrame, k: int, g: int, seed: int = 7) -> pl.DataFrame:
    lazy = bound_contributions(frame.lazy(), "pid", ["city"], ["x"], k, g, seed)
    return lazy.collect().sort("pid", "city", "x")


@pytest.mark.parametrize(("k", "g"), [(1, 1), (3, 1), (3, 2), (5, 5), (100, 100)])
def test_bound_contributions_when_applied_then_at_most_k_rows_and_g_groups(k: int, g: int) -> None:
    kept = _bounded(FRAME, k, g)
    per_person = kept.group_by("pid").agg(pl.len(), pl.col("city").n_unique().alias("groups"))
    assert per_person["len"].max() <= k  # type: ignore[operator]
    assert per_person["groups"].max() <= g  # type: ignore[operator]
    expected = FRAME.group_by("pid").len().with_columns(pl.col("len").clip(upper_bound=k))
    if g >= k:  # nobody loses rows to the group bound
        assert kept.height == expected["len"].sum()


def test_bound_contributions_when_partitioned_by_person_then_same_rows_as_whole() -> None:
    whole = _bounded(FRAME, 3, 2)
    parts = [_bounded(FRAME.filter(pl.col("pid") % 3 == i), 3, 2) for i in range(3)]
    assert pl.concat(parts).sort("pid", "city", "x").equals(whole)


def test_bound_contributions_when_salt_changes_then_other_rows_kept() -> None:
    kept = {tuple(_bounded(FRAME, 1, 1, seed)["x"].to_list()) for seed in range(10)}
    assert len(kept) > 1  # not always the first row


def test_bound_contributions_when_no_privacy_unit_then_rows_untouched() -> None:
    lazy = bound_contributions(FRAME.lazy(), None, ["city"], ["x"], 1, 1, 0)
    assert lazy.collect().equals(FRAME)


@pytest.mark.parametrize(
    ("unit", "missing"),
    [
        (pl.Series("pid", [None] * 5, dtype=pl.Int64), "null"),  # no ID in an integer column
        (pl.Series("pid", [float("nan")] * 5), "NaN"),  # NaN is no ID in a float column
        (pl.Series("pid", [None] * 5, dtype=pl.String), "null"),  # nor null in a string column
        (pl.Series("pid", ["", " ", "", "\t", "\u3000"]), "blank"),  # nor "" or blanks (CSV "")
        (pl.Series("pid", ["", ""] * 2 + [" "], dtype=pl.Categorical), "blank"),  # categorical
    ],
)
def test_bound_contributions_when_unit_missing_then_those_rows_dropped_not_pooled(
    unit: pl.Series, missing: str
) -> None:
    known = FRAME.with_columns(pl.col("pid").cast(pl.String).cast(unit.dtype))
    unknown = pl.DataFrame({"pid": unit, "city": ["c0"] * 5, "x": [1.0, 2.0, 3.0, 4.0, 5.0]})
    kept = _bounded(pl.concat([known, unknown]), 2, 2)
    # rows without a unit are no one's: they do not share one quota as if one person
    assert kept.height == _bounded(known, 2, 2).height, missing
    assert kept["pid"].null_count() == 0
    if missing == "blank":
        assert kept["pid"].cast(pl.String).str.strip_chars().str.len_chars().min() > 0


def test_salt_when_specs_differ_then_salts_differ_and_same_spec_same_salt() -> None:
    base = {"kind": "aggregate", "dataset": "d", "epsilon": 1.0, "aggregates": [{"op": "count"}]}
    one, two = parse_job_spec(base), parse_job_spec(base | {"epsilon": 2.0})
    assert salt(one) == salt(parse_job_spec(base)) != salt(two)
    assert 0 <= salt(one) < 2**63
