"""The query builder: invalid queries fail where written; valid ones make the service's spec."""

from __future__ import annotations

import polars as pl
import pytest

from jobs.kinds.aggregate.spec import AggregateSpec, validate_against_schema
from policies.errors import InvalidJobSpec
from sandbox.client import (
    AggregateQuery,
    GroupedQuery,
    PrivateQuery,
    count,
    count_distinct,
    histogram,
    mean,
    median,
    quantile,
    sum_,
    variance,
)
from tests.unit.sandbox.client._fake import CITIES, client


@pytest.fixture
def ds():
    with client() as c:
        yield c.dataset("residents")


def test_builder_when_chained_then_types_narrow_to_a_private_query(ds):
    grouped = ds.query().filter("age", ">=", 18).group_by("city")
    assert isinstance(grouped, GroupedQuery) and not hasattr(grouped, "filter")
    q = grouped.agg(count(), mean("income", 0, 500_000))
    assert isinstance(q, AggregateQuery)
    private = q.epsilon(0.5)
    assert isinstance(private, PrivateQuery)


def test_builder_when_complete_then_spec_validates_like_the_service(ds):
    spec = (
        ds.query()
        .filter("age", ">=", 18)
        .filter("city", "in", ("南京市", "苏州市"))
        .group_by("city")
        .agg(count(name="people"), mean("income", 0, 500_000), quantile("income", 0.9, 0, 1e6))
        .epsilon(1.0)
        .delta(1e-7)
        .noise("gaussian")
        .contribution(max_rows_per_unit=2)
        .to_spec()
    )
    parsed = AggregateSpec.model_validate(spec)
    validate_against_schema(
        parsed, {c.name: c.dtype for c in ds.columns}, {c.name: c.tag for c in ds.columns}
    )
    assert spec["filters"] == [
        {"column": "age", "op": "ge", "value": 18},
        {"column": "city", "op": "in", "value": ["南京市", "苏州市"]},
    ]
    assert spec["group_by"] == ["city"] and spec["noise"] == "gaussian"
    assert (spec["epsilon"], spec["delta"], spec["max_rows_per_unit"]) == (1.0, 1e-7, 2)
    assert [a["op"] for a in spec["aggregates"]] == ["count", "mean", "quantile"]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        # unknown column: the message lists the real ones
        (lambda q: q.filter("salary", "ge", 1), "has no column 'salary'; its columns are: "),
        # art. 37: a direct identifier never enters a query, not even as a key
        (lambda q: q.group_by("resident_id"), "tagged direct_identifier"),
        (lambda q: q.filter("phone", "eq", "139"), "tagged direct_identifier"),
        # a sensitive column is measured, never a group key
        (lambda q: q.group_by("income"), "cannot be used as group_by"),
        # measuring a column that holds no numbers
        (lambda q: q.group_by("city").agg(mean("note", 0, 1)), "is not numeric"),
        # comparing numbers with text
        (lambda q: q.filter("age", "ge", "18"), "holds numbers"),
        # 'in' takes a list, the others one value
        (lambda q: q.filter("age", "eq", [1, 2]), "'in' takes a list"),
        # empty steps
        (lambda q: q.group_by(), "at least one column"),
        (lambda q: q.agg(), "at least one aggregate"),
        # the spec's own rules, checked when the cost is set
        (lambda q: q.agg(count()).epsilon(50.0), "epsilon"),
        (lambda q: q.agg(count()).epsilon(1.0).noise("gaussian"), "gaussian noise needs delta"),
        (lambda q: q.agg(count(), count()).epsilon(1.0), "output names must be distinct"),
    ],
)
def test_builder_when_query_is_invalid_then_it_fails_where_written(ds, build, message):
    with pytest.raises(InvalidJobSpec, match=message.replace("(", r"\(")):
        build(ds.query())


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: mean("income", 10, 1), "lower must be smaller than upper"),  # bounds reversed
        (lambda: sum_("income", 0, float("inf")), "finite"),  # unbounded sensitivity
        (lambda: quantile("income", 1.5, 0, 1), "q"),  # not a quantile
        (lambda: histogram("age", [0, 50, 20]), "increase strictly"),  # edges out of order
    ],
)
def test_aggregate_when_arguments_are_invalid_then_invalid_job_spec(make, message):
    with pytest.raises(InvalidJobSpec, match=message):
        make()


def test_aggregate_query_when_no_cost_set_then_submit_says_to_set_epsilon(ds):
    q = ds.query().agg(count())
    with pytest.raises(AttributeError, match=r"query.epsilon\(0.5\).submit"):
        q.submit(purpose="x")  # type: ignore[attr-defined]


def test_run_on_when_grouped_by_public_key_then_every_key_in_catalog_order(ds):
    frame = pl.DataFrame(
        {
            "resident_id": ["a", "b", "c", "d"],
            "city": ["苏州市", "苏州市", "南京市", "上海市"],  # 上海市 is outside the domain
            "age": [30, 40, 17, 50],
            "income": [100.0, 300.0, 50.0, 10.0],
        }
    )
    q = ds.query().filter("age", "ge", 18).group_by("city")
    q = q.agg(count(), count_distinct(), sum_("income", 0, 200), mean("income", 0, 1000))
    out = q.run_on(frame)
    assert out.columns == q.output_columns
    assert out["city"].to_list() == CITIES  # 无锡市 has no rows and still appears
    assert out["count"].to_list() == [0, 2, 0]
    assert out["sum_income"].to_list() == [0.0, 300.0, 0.0]  # 300 clamped to 200
    assert out["mean_income"][1] == 200.0
    assert out["count_ci_low"].null_count() == 3 and out["count_ci_low"].dtype == pl.Int64


def test_run_on_when_ungrouped_then_one_row_with_every_measure(ds):
    frame = ds.dummy(500, seed=3)
    q = ds.query().agg(
        variance("income", 0, 1e6),
        median("household_size", 0, 10, name="median_size"),
        histogram("household_size", [0, 2, 4, 10]),
    )
    out = q.epsilon(1.0).run_on(frame)
    assert out.height == 1
    assert out["histogram_household_size"].dtype == pl.Array(pl.Int64, 3)
    assert sum(out["histogram_household_size"][0]) == 500  # every value in one bin
    assert out["median_size"].item() == frame["household_size"].median()
    assert out["variance_income"].item() == pytest.approx(frame["income"].clip(0, 1e6).var(ddof=0))


def test_run_on_when_a_value_is_nan_then_skipped_like_the_engine_skips_it(ds):
    frame = pl.DataFrame(
        {
            "resident_id": ["a", "b", "c"],
            "city": ["苏州市"] * 3,
            "age": [30, 40, 50],
            "income": [100.0, float("nan"), 50.0],
        }
    )
    q = ds.query().agg(
        sum_("income", 0, 200), mean("income", 0, 1000), histogram("income", [0, 60, 200])
    )
    out = q.run_on(frame)
    assert out["sum_income"].item() == 150.0  # NaN adds nothing, as a null
    assert out["mean_income"].item() == 75.0  # and is no value
    assert out["histogram_income"][0].to_list() == [1, 1]  # nor in any bin


def test_run_on_when_a_row_has_no_privacy_unit_then_dropped_like_the_engine_drops_it(ds):
    frame = pl.DataFrame(
        {
            "resident_id": ["a", None, None, "b"],
            "city": ["苏州市"] * 4,
            "age": [30, 40, 50, 60],
            "income": [100.0, 20.0, 30.0, 50.0],
        }
    )
    out = ds.query().agg(count(), count_distinct(), sum_("income", 0, 200)).run_on(frame)
    assert out["count"].item() == 2  # the two rows without an ID are no one's
    assert out["count_distinct"].item() == 2  # and not one more person
    assert out["sum_income"].item() == 150.0


def test_run_on_when_a_privacy_unit_is_blank_then_dropped_like_the_engine_drops_it(ds):
    frame = pl.DataFrame(
        {
            "resident_id": ["a", "", "  ", "b", ""],
            "city": ["苏州市"] * 5,
            "age": [30, 40, 50, 60, 70],
            "income": [100.0, 20.0, 30.0, 50.0, 40.0],
        }
    )
    out = ds.query().agg(count(), count_distinct(), sum_("income", 0, 200)).run_on(frame)
    assert out["count"].item() == 2  # an empty or blank ID names no one
    assert out["count_distinct"].item() == 2  # and is not one more person
    assert out["sum_income"].item() == 150.0


def test_run_on_when_frame_lacks_a_column_then_error_names_it(ds):
    with pytest.raises(InvalidJobSpec, match="lacks income"):
        ds.query().agg(mean("income", 0, 1)).run_on(pl.DataFrame({"age": [1]}))


def test_query_html_when_rendered_then_values_are_escaped(ds):
    html = ds.query().filter("city", "eq", "<b>").agg(count()).epsilon(0.5)._repr_html_()
    assert "&lt;b&gt;" in html and "<b>" not in html.replace("<b>private", "")
