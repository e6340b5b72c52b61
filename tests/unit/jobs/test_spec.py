"""Job specs: parse_job_spec at the edge (the aggregate kind's spec as the example)."""

from __future__ import annotations

from typing import Any

import pytest

from jobs.errors import InvalidJobSpec
from jobs.spec import parse_job_spec

SECRET = "SECRET-VALUE"
PHONE = "13912345678"


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


def _invalid(data: object) -> str:
    with pytest.raises(InvalidJobSpec) as info:
        parse_job_spec(data)
    return str(info.value)


def test_parse_job_spec_when_valid_then_round_trips_through_json() -> None:
    spec = parse_job_spec(
        _spec(
            filters=[
                {"column": "age", "op": "lt", "value": 65},
                {"column": "city", "op": "in", "value": ["南京市", "苏州市"]},
                {"column": "income", "op": "ne", "value": 0.5},
            ],
            aggregates=[
                {"op": "count", "name": "n"},
                {"op": "sum", "column": "income", "lower": -10, "upper": 10},
                {"op": "mean", "column": "income", "lower": 0, "upper": 1, "name": "avg"},
            ],
        )
    )
    dumped = spec.model_dump(mode="json")
    assert parse_job_spec(dumped) == spec
    assert dumped["filters"][1]["value"] == ["南京市", "苏州市"]
    assert [type(f.value) for f in spec.filters] == [int, list, float]  # scalars keep their type
    assert spec.datasets == ["residents"] and spec.delta == 0.0
    assert [getattr(a, "output_name", None) for a in spec.aggregates[1:]] == ["sum_income", "avg"]


@pytest.mark.parametrize(
    "data",
    [
        _spec(owner="me"),  # unknown top-level field
        _spec(filters=[{"column": "age", "op": "eq", "value": 1, "negate": True}]),  # in a filter
        _spec(aggregates=[{"op": "count", "column": "age"}]),  # a count takes no column
        _spec(aggregates=[{"op": "sum", "column": "x", "lower": 0, "upper": 1, "clip": False}]),
    ],
)
def test_parse_job_spec_when_extra_field_then_rejected(data: dict[str, Any]) -> None:
    assert "a field that is not allowed here" in _invalid(data)


@pytest.mark.parametrize(
    ("lower", "upper"),
    [
        (1, 1),  # empty range
        (10, 0),  # reversed
        (float("-inf"), 0),  # unbounded below: infinite sensitivity
        (0, float("inf")),  # unbounded above
        (float("nan"), 1),  # NaN compares false with everything
    ],
)
def test_parse_job_spec_when_bad_bounds_then_rejected(lower: float, upper: float) -> None:
    for op in ("sum", "mean"):
        message = _invalid(
            _spec(aggregates=[{"op": op, "column": "income", "lower": lower, "upper": upper}])
        )
        assert f"aggregates.0.{op}" in message


@pytest.mark.parametrize(
    ("op", "value", "needle"),
    [
        ("in", "南京市", "'in' takes a list"),  # 'in' with one value
        ("eq", ["南京市"], "'in' takes a list"),  # a list for any other op
        ("in", [], "between 1 and 1000"),  # empty list
        ("in", list(range(1001)), "between 1 and 1000"),  # too long a list
    ],
)
def test_parse_job_spec_when_value_does_not_fit_op_then_rejected(
    op: str, value: Any, needle: str
) -> None:
    assert needle in _invalid(_spec(filters=[{"column": "city", "op": op, "value": value}]))


@pytest.mark.parametrize(
    ("bins", "needle"),
    [
        ([0, 1, 1, 2], "increase strictly"),  # a repeated edge
        ([3, 2], "increase strictly"),  # decreasing
        ([0, float("inf")], "finite"),  # an open-ended bin
    ],
)
def test_parse_job_spec_when_bad_histogram_edges_then_rejected(
    bins: list[float], needle: str
) -> None:
    assert needle in _invalid(
        _spec(aggregates=[{"op": "histogram", "column": "income", "bins": bins}])
    )


def test_parse_job_spec_when_gaussian_without_delta_then_rejected() -> None:
    assert "gaussian noise needs delta > 0" in _invalid(_spec(noise="gaussian"))
    spec = parse_job_spec(_spec(noise="gaussian", delta=1e-6))
    assert (spec.noise, spec.delta) == ("gaussian", 1e-6)


def test_parse_job_spec_when_defaults_then_laplace_one_row_one_group_no_delta() -> None:
    spec = parse_job_spec(_spec())
    assert (spec.noise, spec.delta, spec.max_rows_per_unit, spec.max_groups_per_unit) == (
        "laplace",
        0.0,
        1,
        1,
    )


def test_parse_job_spec_when_every_aggregation_then_default_output_names() -> None:
    bounded = {"column": "income", "lower": 0, "upper": 10}
    spec = parse_job_spec(
        _spec(
            group_by=[],
            aggregates=[
                {"op": "count"},
                {"op": "count_distinct"},
                {"op": "sum", **bounded},
                {"op": "mean", **bounded},
                {"op": "variance", **bounded},
                {"op": "median", **bounded},
                {"op": "quantile", "q": 0.9, **bounded},
                {"op": "histogram", "column": "age", "bins": [0, 18, 65, 120]},
            ],
        )
    )
    assert [a.output_name for a in spec.aggregates] == [
        "count",
        "count_distinct",
        "sum_income",
        "mean_income",
        "variance_income",
        "median_income",
        "quantile_income_0.9",
        "histogram_age",
    ]
    assert spec.aggregates[5].q == 0.5  # type: ignore[union-attr]


def test_parse_job_spec_when_group_key_repeats_then_rejected() -> None:
    assert "group_by lists a column twice" in _invalid(_spec(group_by=["city", "city"]))


def test_parse_job_spec_when_in_has_list_then_accepted() -> None:
    spec = parse_job_spec(_spec(filters=[{"column": "city", "op": "in", "value": ["a"]}]))
    assert spec.filters[0].value == ["a"]


@pytest.mark.parametrize(
    ("aggregates", "group_by", "duplicate"),
    [
        ([{"op": "count"}, {"op": "count"}], [], "count"),  # two default-named counts
        ([{"op": "count", "name": "city"}], ["city"], "city"),  # output clashes with a group key
        (
            [
                {"op": "sum", "column": "x", "lower": 0, "upper": 1},
                {"op": "sum", "column": "x", "lower": 0, "upper": 2},
            ],
            [],
            "sum_x",
        ),  # same default name
        (
            [
                {"op": "count"},
                {"op": "mean", "column": "x", "lower": 0, "upper": 1, "name": "count"},
            ],
            [],
            "count",
        ),  # an explicit name reusing another's
        (
            [{"op": "count"}, {"op": "count_distinct", "name": "count_ci_low"}],
            [],
            "count_ci_low",
        ),  # a name taken by another's interval column
        ([{"op": "count"}], ["count_ci_high"], "count_ci_high"),  # a key named like an interval
    ],
)
def test_parse_job_spec_when_duplicate_output_names_then_rejected(
    aggregates: list[dict[str, Any]], group_by: list[str], duplicate: str
) -> None:
    message = _invalid(_spec(aggregates=aggregates, group_by=group_by))
    assert f"output names must be distinct: {duplicate}" in message


@pytest.mark.parametrize(
    "data",
    [
        _spec(kind="export"),  # a kind that does not exist
        {key: value for key, value in _spec().items() if key != "kind"},  # no kind at all
        _spec(aggregates=[{"op": "mode", "column": "income"}]),  # unknown aggregation
    ],
)
def test_parse_job_spec_when_unknown_kind_then_rejected(data: dict[str, Any]) -> None:
    message = _invalid(data)
    assert "'kind'" in message or "'op'" in message


@pytest.mark.parametrize(
    "data",
    [
        _spec(epsilon=0),  # free queries are not a thing
        _spec(epsilon=0.0005),  # below the smallest useful epsilon
        _spec(epsilon=-1),
        _spec(epsilon=10.5),  # above MAX_EPSILON_PER_JOB
        _spec(epsilon=float("nan")),
        _spec(aggregates=[]),  # nothing to compute
        _spec(group_by=["a", "b", "c", "d", "e"]),  # more than 4 keys
        _spec(dataset=""),  # empty identifier
        _spec(group_by=["city\n"]),  # control character in an identifier
        _spec(dataset="x" * 65),  # identifier too long
        [_spec()],  # not an object
        _spec(delta=-1e-9),  # negative delta
        _spec(delta=0.01),  # delta far above 1/n
        _spec(max_rows_per_unit=0),  # a person contributes at least one row
        _spec(max_groups_per_unit=101),  # above the cap
        _spec(noise="uniform"),  # not a vetted mechanism
        _spec(aggregates=[{"op": "quantile", "column": "x", "lower": 0, "upper": 1, "q": 1.5}]),
        _spec(aggregates=[{"op": "histogram", "column": "x", "bins": [0]}]),  # one edge
        _spec(aggregates=[{"op": "sum", "column": "x", "lower": 0, "upper": 1e16}]),  # too wide
    ],
)
def test_parse_job_spec_when_field_out_of_range_then_rejected(data: object) -> None:
    assert _invalid(data).startswith("invalid job spec: ")


@pytest.mark.parametrize(
    "data",
    [
        _spec(filters=[{"column": "phone", "op": "in", "value": PHONE}]),  # 'in' without a list
        _spec(filters=[{"column": "phone", "op": "eq", "value": [PHONE]}]),  # list for 'eq'
        _spec(filters=[{"column": "phone", "op": "eq", "value": {"v": PHONE}}]),  # not a scalar
        _spec(filters=[{"column": "name", "op": "eq", "value": SECRET, "x": SECRET}]),  # extra
        _spec(epsilon=SECRET),  # not a number
        _spec(epsilon=13912345678),  # a number out of range
        _spec(aggregates=[{"op": "sum", "column": "income", "lower": SECRET, "upper": 1}]),
        _spec(aggregates=[{"op": "sum", "column": "income", "lower": 13912345678, "upper": 1}]),
        _spec(dataset=SECRET * 10),  # too long an identifier
        _spec(delta=SECRET),  # not a number
        _spec(noise=SECRET),  # an unknown mechanism
        _spec(aggregates=[{"op": SECRET, "column": "income"}]),  # unknown aggregation
        _spec(aggregates=[{"op": "histogram", "column": "income", "bins": [13912345678, 1]}]),
        _spec(group_by=[SECRET + "\x00"]),  # control character
        _spec(filters=[{"column": "phone", "op": "in", "value": [PHONE] * 1001}]),  # list too long
        SECRET,  # not an object at all
    ],
)
def test_parse_job_spec_when_invalid_then_message_carries_no_input_value(data: object) -> None:
    message = _invalid(data)
    assert SECRET not in message
    assert PHONE not in message


# --- validate_against_schema --------------------------------------------------------------
