"""The aggregate spec against the catalog: validate_against_schema."""

from __future__ import annotations

from typing import Any

import pytest

from jobs.errors import InvalidJobSpec
from jobs.kinds.aggregate.spec import AggregateSpec, validate_against_schema
from jobs.spec import parse_job_spec
from policies.catalog import ColumnTag


def _spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "kind": "aggregate",
        "dataset": "residents",
        "filters": [{"column": "age", "op": "ge", "value": 18}],
        "group_by": ["city"],
        "aggregates": [
            {"op": "count"},
            {"op": "mean", "column": "income", "lower": 0, "upper": 100_000},
        ],
        "epsilon": 1.0,
    }
    return spec | overrides


DTYPES = {
    "resident_id": "String",
    "city": "String",
    "age": "Int64",
    "income": "Float64",
    "occupation": "String",
    "household_size": "UInt8",
}
TAGS = {
    "resident_id": ColumnTag.DIRECT_IDENTIFIER,
    "city": ColumnTag.QUASI_IDENTIFIER,
    "age": ColumnTag.QUASI_IDENTIFIER,
    "income": ColumnTag.SENSITIVE,
    "occupation": ColumnTag.PLAIN,
    "household_size": ColumnTag.PLAIN,
}


def _validated(**overrides: Any) -> AggregateSpec:
    spec = parse_job_spec(_spec(**overrides))
    validate_against_schema(spec, DTYPES, TAGS)
    return spec


def test_validate_against_schema_when_uses_are_allowed_then_passes() -> None:
    _validated(
        filters=[
            {"column": "income", "op": "gt", "value": 0},  # sensitive filter
            {"column": "occupation", "op": "eq", "value": "教师"},
        ],
        group_by=["city", "age"],  # quasi-identifiers
        aggregates=[
            {"op": "sum", "column": "household_size", "lower": 0, "upper": 9},
            {"op": "mean", "column": "income", "lower": 0, "upper": 1},
        ],
    )


def _count() -> list[dict[str, Any]]:
    return [{"op": "count"}]


def _sum(column: str) -> list[dict[str, Any]]:
    return [{"op": "sum", "column": column, "lower": 0, "upper": 1}]


@pytest.mark.parametrize(
    ("overrides", "needles"),
    [
        # a filter on a column the dataset does not have
        ({"filters": [{"column": "salary", "op": "gt", "value": 1}]}, ["no column 'salary'"]),
        # grouping by an unknown column
        ({"group_by": ["county"], "aggregates": _count()}, ["no column 'county'"]),
        # measuring an unknown column
        ({"group_by": [], "aggregates": _sum("wage")}, ["no column 'wage'"]),
        # art. 37: a filter on a direct identifier singles out a person
        (
            {"filters": [{"column": "resident_id", "op": "eq", "value": "x"}]},
            ["'resident_id'", "direct_identifier", "art. 37"],
        ),
        # ... grouping by one releases per-person cells
        ({"group_by": ["resident_id"]}, ["'resident_id'", "group_by", "art. 37"]),
        # ... and it is never a measure
        ({"group_by": [], "aggregates": _sum("resident_id")}, ["'resident_id'", "measure"]),
        # a sensitive column never labels a released cell
        ({"group_by": ["income"], "aggregates": _count()}, ["'income'", "sensitive", "art. 37"]),
        # a quasi-identifier is not a measure
        ({"group_by": [], "aggregates": _sum("age")}, ["'age'", "quasi_identifier"]),
        # a plain but non-numeric column cannot be summed
        ({"group_by": [], "aggregates": _sum("occupation")}, ["'occupation'", "not numeric"]),
    ],
)
def test_validate_against_schema_when_forbidden_use_then_rejected(
    overrides: dict[str, Any], needles: list[str]
) -> None:
    with pytest.raises(InvalidJobSpec) as info:
        _validated(**overrides)
    for needle in needles:
        assert needle in str(info.value)


def test_validate_against_schema_when_count_only_then_no_column_checked() -> None:
    spec = parse_job_spec(_spec(filters=[], group_by=[], aggregates=_count()))
    validate_against_schema(spec, {}, {})
    distinct = parse_job_spec(_spec(filters=[], group_by=[], aggregates=[{"op": "count_distinct"}]))
    validate_against_schema(distinct, {}, {})


@pytest.mark.parametrize(
    "aggregate",
    [
        {"op": "variance", "column": "occupation", "lower": 0, "upper": 1},
        {"op": "median", "column": "occupation", "lower": 0, "upper": 1},
        {"op": "quantile", "column": "occupation", "lower": 0, "upper": 1, "q": 0.1},
        {"op": "histogram", "column": "occupation", "bins": [0, 1]},
    ],
)
def test_validate_against_schema_when_new_measure_on_text_then_rejected(
    aggregate: dict[str, Any],
) -> None:
    with pytest.raises(InvalidJobSpec, match="not numeric"):
        _validated(group_by=[], aggregates=[aggregate])
