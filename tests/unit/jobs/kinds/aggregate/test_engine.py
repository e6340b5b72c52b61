"""Aggregate jobs in one process: exact measurements, cells, suppression, noise, the API."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from scipy import stats

from jobs.errors import InvalidJobSpec, JobFailed
from jobs.kinds import parse_job_spec
from jobs.kinds.aggregate.engine import (
    DatasetContext,
    cost,
    estimate,
    evaluate,
    exact_partials,
    plan,
)
from jobs.kinds.aggregate.spec import AggregateSpec
from tests.unit.jobs.dp.helpers import repeated

# city, age and income of six people; income clamped to [0, 100] is 0, 50, 100, 100, -, 10
# (-5 clamps up to 0, 150 down to 100, a null adds 0 to a sum and is not a value for a mean).
FRAME = pl.DataFrame(
    {
        "city": ["A", "A", "A", "B", "B", "C"],
        "age": [20, 30, 40, 50, 60, 70],
        "income": [-5.0, 50.0, 150.0, 100.0, None, 10.0],
    }
)
SUM_0_100 = {"op": "sum", "column": "income", "lower": 0, "upper": 100}
MEAN_0_100 = {"op": "mean", "column": "income", "lower": 0, "upper": 100}
CITIES = DatasetContext(public_keys={"city": ["A", "B", "C", "D"]}, max_rows=100)


def _spec(**overrides: Any) -> AggregateSpec:
    base: dict[str, Any] = {
        "kind": "aggregate",
        "dataset": "d",
        "aggregates": [{"op": "count"}, SUM_0_100],
        "epsilon": 1.0,
    }
    return parse_job_spec(base | overrides)


def _measured(
    spec: AggregateSpec, context: DatasetContext = CITIES, frame: pl.DataFrame = FRAME
) -> dict[str, list[float]]:
    """Exact measurements by kind, in value units (a sum's integers times its grid)."""
    job = plan(spec, context)
    exact = exact_partials(frame, spec, context)
    return {
        m.request.kind: [v * m.grid for v in exact[m.columns[0]].to_list()]
        for m in job.measurements
    }


# --- exact measurements ---------------------------------------------------------------------


def test_exact_partials_when_grouped_then_counts_and_clamped_sums() -> None:
    spec = _spec(group_by=["city"])
    assert exact_partials(FRAME, spec, CITIES)["city"].to_list() == ["A", "B", "C"]
    assert _measured(spec) == {"units": [3, 2, 1], "sum": [150.0, 100.0, 10.0]}


def test_exact_partials_when_lower_bound_positive_then_values_clamped_up() -> None:
    spec = _spec(aggregates=[{"op": "sum", "column": "income", "lower": 20, "upper": 60}])
    # 20 + 50 + 60 + 60 + (null adds nothing) + 20
    assert _measured(spec)["sum"] == [210.0]


@pytest.mark.parametrize(
    ("filters", "count", "clamped_sum"),
    [
        ([{"column": "age", "op": "eq", "value": 40}], 1, 100.0),  # eq: one person
        ([{"column": "age", "op": "ne", "value": 40}], 5, 160.0),  # ne: everyone else
        ([{"column": "age", "op": "lt", "value": 40}], 2, 50.0),  # lt excludes the bound
        ([{"column": "age", "op": "le", "value": 40}], 3, 150.0),  # le includes it
        ([{"column": "age", "op": "gt", "value": 50}], 2, 10.0),  # gt excludes the bound
        ([{"column": "age", "op": "ge", "value": 50}], 3, 110.0),  # ge includes it
        ([{"column": "city", "op": "in", "value": ["A", "C"]}], 4, 160.0),  # in: a set
        ([{"column": "city", "op": "eq", "value": "B"}], 2, 100.0),  # eq on text
        ([{"column": "income", "op": "gt", "value": 60.0}], 2, 200.0),  # raw value, not clamped
        (
            [
                {"column": "age", "op": "ge", "value": 30},
                {"column": "city", "op": "eq", "value": "A"},
            ],
            2,
            150.0,
        ),  # filters combine with AND
        ([{"column": "age", "op": "gt", "value": 99}], 0, 0.0),  # nobody left
    ],
)
def test_exact_partials_when_filtered_then_only_matching_rows(
    filters: list[dict[str, Any]], count: int, clamped_sum: float
) -> None:
    assert _measured(_spec(filters=filters)) == {"units": [count], "sum": [clamped_sum]}


def test_plan_when_mean_of_nullable_column_then_counts_non_null_values_separately() -> None:
    spec = _spec(aggregates=[MEAN_0_100])
    # the mean's denominator is the 5 non-null incomes, its numerator centred on 50
    assert _measured(spec) == {"units": [6], "csum": [-50.0 + 0 + 50 + 50 - 40], "nonnull": [5]}
    declared = DatasetContext(non_null_columns=frozenset({"income"}))
    assert [m.request.kind for m in plan(spec, declared).measurements] == ["units", "csum"]


def test_exact_partials_when_nan_or_infinite_values_then_nan_is_null_and_inf_clamped() -> None:
    frame = pl.DataFrame({"income": [float("nan"), float("inf"), -float("inf"), 40.0]})
    spec = _spec(aggregates=[SUM_0_100, MEAN_0_100])
    # NaN adds nothing and is no value; +inf clamps to 100, -inf to 0
    assert _measured(spec, DatasetContext(), frame) == {
        "units": [4],
        "sum": [140.0],
        "nonnull": [3],
    }


def _query_passes(monkeypatch: pytest.MonkeyPatch, frame: pl.DataFrame, spec: AggregateSpec) -> int:
    """How many lazy queries :func:`exact_partials` executes on ``frame`` (instrumented)."""
    runs = [0]
    collect_all, collect = pl.collect_all, pl.LazyFrame.collect

    def counting_all(queries: Any, *args: Any, **kwargs: Any) -> Any:
        queries = list(queries)
        runs[0] += len(queries)
        return collect_all(queries, *args, **kwargs)

    def counting(self: pl.LazyFrame, *args: Any, **kwargs: Any) -> Any:
        runs[0] += 1
        return collect(self, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(pl, "collect_all", counting_all)
        patched.setattr(pl.LazyFrame, "collect", counting)
        exact_partials(frame, spec, CITIES)
    return runs[0]


@pytest.mark.parametrize(
    "aggregates",
    [
        [SUM_0_100],  # a sum
        [MEAN_0_100],  # a centred sum and a non-null count
        [{"op": "variance", "column": "income", "lower": 0, "upper": 100}],  # and squares
        [SUM_0_100, {"op": "median", "column": "income", "lower": 0, "upper": 100}],  # + a tree
    ],
)
def test_exact_partials_when_a_nan_is_in_the_rows_then_as_many_query_passes_as_without(
    monkeypatch: pytest.MonkeyPatch, aggregates: list[dict[str, Any]]
) -> None:
    spec = _spec(group_by=["city"], aggregates=aggregates)
    with_nan = FRAME.with_columns(pl.Series("income", [-5.0, 50.0, 150.0, 100.0, math.nan, 10.0]))
    # the run time must not tell whether the filtered rows hold a NaN: one pass either way
    assert _query_passes(monkeypatch, with_nan, spec) == _query_passes(monkeypatch, FRAME, spec)
    # and a NaN reads exactly as the null it replaces
    assert_frame_equal(exact_partials(with_nan, spec, CITIES), exact_partials(FRAME, spec, CITIES))


def test_plan_when_mean_and_sum_share_bounds_then_one_sum_serves_both() -> None:
    spec = _spec(aggregates=[{"op": "count"}, SUM_0_100, MEAN_0_100])
    kinds = [m.request.kind for m in plan(spec, CITIES).measurements]
    assert kinds == ["units", "sum", "nonnull"]  # the count is the people count: no row column
    with_unit = DatasetContext(privacy_unit="city")
    kinds = [m.request.kind for m in plan(spec, with_unit).measurements]
    assert kinds == ["units", "rows", "sum", "nonnull"]


# --- cells, keys and suppression ------------------------------------------------------------


def test_evaluate_when_same_seed_then_same_table_and_interval_columns() -> None:
    spec = _spec(group_by=["city"], aggregates=[{"op": "count"}, SUM_0_100, MEAN_0_100])
    first = evaluate(FRAME, spec, CITIES, seed=42).table
    assert first.columns == [
        "city",
        *(
            f"{n}{end}"
            for n in ("count", "sum_income", "mean_income")
            for end in ("", "_ci_low", "_ci_high")
        ),
        "suppressed",
    ]
    assert_frame_equal(first, evaluate(FRAME, spec, CITIES, seed=42).table)


def test_evaluate_when_different_seeds_then_tables_differ() -> None:
    spec = _spec(group_by=["city"])
    tables = {evaluate(FRAME, spec, CITIES, seed=s).table.write_csv() for s in range(10)}
    assert len(tables) > 1


def test_evaluate_when_no_seed_then_fresh_randomness() -> None:
    spec = _spec(epsilon=0.1, aggregates=[{"op": "count"}])
    frame = pl.DataFrame({"x": range(100)})
    assert len({evaluate(frame, spec).table["count"][0] for _ in range(20)}) > 1


def test_evaluate_when_public_keys_then_every_declared_key_in_declared_order() -> None:
    context = DatasetContext(public_keys={"city": ["C", "X", "A", "B"]}, max_rows=100)
    table = evaluate(FRAME, _spec(group_by=["city"], epsilon=10.0), context, seed=0).table
    assert table["city"].to_list() == ["C", "X", "A", "B"]  # X has no rows but is declared


def test_evaluate_when_rows_outside_declared_domain_then_their_keys_never_appear() -> None:
    context = DatasetContext(public_keys={"city": ["A", "B"]}, max_rows=100)
    table = evaluate(FRAME, _spec(group_by=["city"], epsilon=10.0), context, seed=0).table
    assert table["city"].to_list() == ["A", "B"]  # C's row is not in the domain


SIZES = {"a": 9, "b": 10, "c": 11, "d": 100}
SIZED = pl.DataFrame({"g": [g for g, n in SIZES.items() for _ in range(n)]})


def test_evaluate_when_small_public_cells_then_shown_as_nulls() -> None:
    # ε = 10 makes the count noise almost always 0.
    context = DatasetContext(public_keys={"g": list(SIZES)}, min_cell=10, max_rows=200)
    spec = _spec(group_by=["g"], aggregates=[{"op": "count"}], epsilon=10.0)
    result = evaluate(SIZED, spec, context, seed=0)
    assert result.table["g"].to_list() == ["a", "b", "c", "d"]
    assert result.table["count"].to_list() == [None, 10, 11, 100]
    assert result.table.row(0)[1:] == (None, None, None, "people<10: all")  # interval too
    assert (result.cells, result.suppressed_cells) == (4, 1)
    assert (result.epsilon, result.delta, result.rho) == (10.0, 0.0, None)


def test_evaluate_when_small_discovered_cells_then_dropped() -> None:
    context = DatasetContext(min_cell=10, max_rows=200)
    spec = _spec(group_by=["g"], aggregates=[{"op": "count"}], epsilon=10.0, delta=1e-6)
    result = evaluate(SIZED, spec, context, seed=0)
    assert result.threshold is not None and result.threshold <= 9  # so only min_cell hides a
    assert result.table["g"].to_list() == ["b", "c", "d"]
    assert (result.cells, result.suppressed_cells) == (4, 1)


def test_evaluate_when_discovered_keys_then_rare_keys_need_to_clear_the_threshold() -> None:
    # 40 people in each of 5 cities, one person alone in a sixth.
    frame = pl.DataFrame({"city": [f"c{i % 5}" for i in range(200)] + ["lonely"]})
    spec = _spec(group_by=["city"], aggregates=[{"op": "count"}], delta=1e-6)
    shown = [
        evaluate(frame, spec, DatasetContext(), seed=s).table["city"].to_list() for s in range(20)
    ]
    assert all(keys == [f"c{i}" for i in range(5)] for keys in shown)


def test_evaluate_when_ungrouped_and_small_then_one_null_row() -> None:
    context = DatasetContext(min_cell=10)
    table = evaluate(FRAME, _spec(epsilon=10.0), context, seed=0).table
    assert table.height == 1 and table["count"][0] is None


@pytest.mark.parametrize("seed", range(10))
def test_evaluate_when_noisy_then_shown_cells_meet_min_cell_and_counts_add_up(seed: int) -> None:
    frame = pl.DataFrame({"g": [i % 13 for i in range(13 * 12)] + [99] * 3})  # 13 × 12 and 3
    context = DatasetContext(public_keys={"g": [*range(13), 99]}, min_cell=12, max_rows=200)
    spec = _spec(group_by=["g"], aggregates=[{"op": "count"}], epsilon=0.5)
    result = evaluate(frame, spec, context, seed=seed)
    shown = result.table["count"].drop_nulls()
    assert shown.min() >= 12  # type: ignore[operator]
    assert result.cells == 14 == result.table.height
    assert shown.len() + result.suppressed_cells == result.cells


# --- people, not rows -----------------------------------------------------------------------


def _people(rows_of_person_0: int) -> pl.DataFrame:
    """Person 0 has many rows in city A; 30 other people have one row each."""
    return pl.DataFrame(
        {
            "pid": [0] * rows_of_person_0 + list(range(1, 31)),
            "city": ["A"] * rows_of_person_0 + ["A", "B", "C"] * 10,
            "income": [100.0] * rows_of_person_0 + [10.0] * 30,
        }
    )


def test_exact_partials_when_person_has_many_rows_then_at_most_k_count() -> None:
    context = DatasetContext(privacy_unit="pid", public_keys={"city": ["A", "B", "C"]})
    spec = _spec(
        group_by=["city"],
        max_rows_per_unit=2,
        epsilon=10.0,
        aggregates=[{"op": "count"}, {"op": "count_distinct"}, SUM_0_100],
    )
    measured = _measured(spec, context, _people(500))
    assert measured["rows"] == [12, 10, 10]  # person 0 keeps 2 of 500 rows
    assert measured["units"] == [11, 10, 10]
    assert measured["sum"] == [2 * 100 + 10 * 10, 100, 100]
    table = evaluate(_people(500), spec, context, seed=0).table
    assert table["count"].to_numpy() == pytest.approx([12, 10, 10], abs=5)


def test_exact_partials_when_person_spans_groups_then_at_most_g_groups() -> None:
    frame = pl.DataFrame({"pid": [0] * 6 + [1] * 6, "city": ["A", "B", "C"] * 4})
    context = DatasetContext(privacy_unit="pid", public_keys={"city": ["A", "B", "C"]})
    spec = _spec(
        group_by=["city"],
        max_rows_per_unit=6,
        max_groups_per_unit=1,
        aggregates=[{"op": "count"}, {"op": "count_distinct"}],
    )
    measured = _measured(spec, context, frame)
    assert sum(measured["units"]) == 2  # each person is in one city only
    assert sum(measured["rows"]) == 4  # and keeps their 2 rows there


# --- the answers ----------------------------------------------------------------------------


def test_evaluate_when_every_aggregation_at_high_epsilon_then_close_to_truth() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    frame = pl.DataFrame({"g": rng.integers(0, 2, n), "x": rng.uniform(0, 100, n)})
    bounded = {"column": "x", "lower": 0, "upper": 100}
    spec = _spec(
        group_by=["g"],
        epsilon=10.0,
        aggregates=[
            {"op": "count"},
            {"op": "sum", **bounded},
            {"op": "mean", **bounded},
            {"op": "variance", **bounded},
            {"op": "median", **bounded},
            {"op": "quantile", "q": 0.9, **bounded},
            {"op": "histogram", "column": "x", "bins": [0, 25, 50, 100]},
        ],
    )
    context = DatasetContext(public_keys={"g": [0, 1]}, max_rows=n)
    got = evaluate(frame, spec, context, seed=1).table.sort("g")
    truth = (
        frame.group_by("g")
        .agg(
            pl.len().alias("count"),
            pl.col("x").sum().alias("sum_x"),
            pl.col("x").mean().alias("mean_x"),
            pl.col("x").var(ddof=0).alias("variance_x"),
            pl.col("x").median().alias("median_x"),
            pl.col("x").quantile(0.9).alias("quantile_x_0.9"),
        )
        .sort("g")
    )
    for column, tolerance in [
        ("count", 0.01),
        ("sum_x", 0.01),
        ("mean_x", 0.01),
        ("variance_x", 0.05),
        ("median_x", 0.03),
        ("quantile_x_0.9", 0.03),
    ]:
        assert got[column].to_numpy() == pytest.approx(truth[column].to_numpy(), rel=tolerance)
    group_0 = frame.filter(pl.col("g") == 0)["x"].to_numpy()
    assert got["histogram_x"][0].to_list() == pytest.approx(
        np.histogram(group_0, bins=[0, 25, 50, 100])[0], abs=20
    )


def test_evaluate_when_mean_of_tiny_groups_then_clipped_to_bounds() -> None:
    # One or two rows per group and ε = 0.05: the noisy sum / noisy count is wild.
    spec = _spec(
        group_by=["city"],
        epsilon=0.05,
        aggregates=[{"op": "mean", "column": "income", "lower": 10, "upper": 60}],
    )
    means = np.concatenate(
        [
            evaluate(FRAME, spec, CITIES, seed=s).table["mean_income"].drop_nulls().to_numpy()
            for s in range(30)
        ]
    )
    assert means.size == 120  # no min_cell: nothing is suppressed
    assert np.all((means >= 10) & (means <= 60))
    assert np.any((means == 10) | (means == 60))  # clipping did happen


def test_evaluate_when_gaussian_then_rho_reported_and_answers_close() -> None:
    frame = pl.DataFrame({"x": np.linspace(0, 100, 10_000)})
    spec = _spec(
        noise="gaussian",
        delta=1e-6,
        epsilon=2.0,
        aggregates=[{"op": "count"}, {"op": "mean", "column": "x", "lower": 0, "upper": 100}],
    )
    result = evaluate(frame, spec, DatasetContext(non_null_columns=frozenset({"x"})), seed=0)
    assert result.rho is not None and result.noise == "gaussian"
    assert result.table["count"][0] == pytest.approx(10_000, abs=50)
    assert result.table["mean_x"][0] == pytest.approx(50, abs=0.5)


# Noise law. With every row a person, a count-only job has one measurement (people = rows)
# with sensitivity 1 and gets two-sided geometric noise with p = exp(-ε) (Ghosh et al.
# 2009); scipy's dlaplace(a) is that law with p = exp(-a). A count and a sum are two
# measurements, ε/2 each. 20,000 runs in one vectorized release.
RUNS = 20_000
N_ROWS = 60  # far above any noise drawn, so clamping at 0 never bites


@pytest.mark.parametrize(
    ("aggregates", "share"),
    [
        ([{"op": "count"}], 1.0),  # count only: the count gets all of ε
        ([{"op": "count"}, {"op": "sum", "column": "x", "lower": 0, "upper": 1}], 0.5),  # split
    ],
)
def test_release_when_many_runs_then_count_noise_is_two_sided_geometric(
    aggregates: list[dict[str, Any]], share: float
) -> None:
    frame = pl.DataFrame({"x": [1.0] * N_ROWS})
    table = repeated(frame, _spec(aggregates=aggregates), DatasetContext(), RUNS, seed=7)
    noise = table["count"].to_numpy() - N_ROWS
    law = stats.dlaplace(share)
    assert math.isclose(law.var(), 2 * math.exp(-share) / (1 - math.exp(-share)) ** 2)
    assert abs(noise.mean()) < 5 * math.sqrt(law.var() / RUNS)
    assert noise.var(ddof=1) == pytest.approx(law.var(), rel=0.06)
    edges = np.arange(-3, 4)
    observed = [np.sum(noise < -3)] + [np.sum(noise == k) for k in edges] + [np.sum(noise > 3)]
    expected = [law.cdf(-4)] + [law.pmf(k) for k in edges] + [law.sf(3)]
    _, p_value = stats.chisquare(observed, np.array(expected) * RUNS)
    assert p_value > 1e-3


# --- cost, estimate, errors -----------------------------------------------------------------


def test_cost_when_estimated_and_run_then_identical() -> None:
    spec = _spec(group_by=["city"], delta=1e-6, noise="gaussian")
    est = estimate(spec, DatasetContext())
    result = evaluate(FRAME, spec, DatasetContext(), seed=0)
    assert cost(spec) == (est.epsilon, est.delta) == (result.epsilon, result.delta) == (1.0, 1e-6)
    assert est.rho == result.rho


def test_evaluate_when_keys_not_public_and_no_delta_then_invalid_naming_the_column() -> None:
    with pytest.raises(InvalidJobSpec, match="group key\\(s\\) city have no public domain"):
        evaluate(FRAME, _spec(group_by=["city"]), DatasetContext())


def test_evaluate_when_public_cells_too_many_then_invalid() -> None:
    context = DatasetContext(public_keys={"a": range(1001), "b": range(1001)})
    with pytest.raises(InvalidJobSpec, match="more than 1,000,000 cells"):
        estimate(_spec(group_by=["a", "b"]), context)


def test_evaluate_when_more_rows_than_catalogued_then_fails_without_values() -> None:
    with pytest.raises(JobFailed, match="more rows than its catalogue entry"):
        evaluate(FRAME, _spec(), DatasetContext(max_rows=5))


def test_evaluate_when_declared_keys_have_wrong_type_then_fails_naming_the_column() -> None:
    context = DatasetContext(public_keys={"age": ["twenty"]})
    with pytest.raises(JobFailed, match="declared keys for 'age'") as info:
        evaluate(FRAME, _spec(group_by=["age"], aggregates=[{"op": "count"}]), context)
    assert "twenty" not in str(info.value)


def test_dataset_context_when_round_tripped_through_dict_then_equal() -> None:
    context = DatasetContext("pid", {"city": ["A", "B", "A"]}, 10, 500, frozenset({"x"}))
    assert context.public_keys == {"city": ("A", "B")}  # duplicates removed, order kept
    assert DatasetContext.from_dict(context.as_dict()) == context


# --- through the runner's execute -----------------------------------------------------------


def _task(tmp_path: Any, spec: dict[str, Any], **extra: Any) -> Any:
    from jobs.task import Task

    data = tmp_path / "d.parquet"
    SIZED.with_columns(pl.Series("pid", range(SIZED.height))).write_parquet(data)
    return Task(
        job_id=1,
        spec=spec,
        inputs={"d": str(data)},
        row_counts={"d": 200},
        output_path=str(tmp_path / "out.parquet"),
        min_cell=10,
        seed=0,
        **extra,
    )


def test_execute_when_task_carries_key_domains_then_intervals_and_null_small_cells(
    tmp_path: Any,
) -> None:
    from jobs.runner import execute

    spec = _spec(group_by=["g"], aggregates=[{"op": "count"}], epsilon=10.0)
    task = _task(
        tmp_path,
        spec.model_dump(mode="json"),
        privacy_units={"d": "pid"},
        public_keys={"d": {"g": list(SIZES)}},
    )
    outcome = execute(task)
    table = pl.read_parquet(outcome.output_path)
    assert table.columns == ["g", "count", "count_ci_low", "count_ci_high", "suppressed"]
    assert table["count"].to_list() == [None, 10, 11, 100]
    assert (outcome.rows, outcome.cells, outcome.suppressed_cells, outcome.rho) == (4, 4, 1, None)


def test_execute_when_task_lacks_catalog_context_then_refuses_to_run(tmp_path: Any) -> None:
    from jobs.errors import InternalError
    from jobs.runner import execute

    # Without the catalog's key domains the observed keys would be released,
    # which is not DP: the task must not run at all.
    spec = _spec(group_by=["g"], aggregates=[{"op": "count"}], epsilon=10.0)
    with pytest.raises(InternalError, match="no catalog context"):
        execute(_task(tmp_path, spec.model_dump(mode="json")))
    assert not list(tmp_path.rglob("*.parquet.partial"))


def test_execute_when_spec_does_not_fit_dataset_then_job_failed_without_values(
    tmp_path: Any,
) -> None:
    from jobs.runner import execute

    spec = _spec(group_by=["g"], aggregates=[{"op": "count"}])
    with pytest.raises(JobFailed, match="no public domain"):
        execute(_task(tmp_path, spec.model_dump(mode="json"), public_keys={"d": {}}))


@pytest.mark.parametrize("exact", [200_000, 900_000, 1_049_999])
def test_dataset_context_when_exact_counts_differ_then_the_grid_follows_the_public_count(
    tmp_path: Any, exact: int
) -> None:
    # the grid of released sums was sized from the exact count, so a sum's resolution told
    # the count's power-of-two band above 2^17 rows; now it follows the public count (issue 12)
    import dataclasses

    from jobs.kinds.aggregate.kind import dataset_context
    from jobs.kinds.aggregate.plan import make_plan, rows_bound

    spec = _spec(aggregates=[{"op": "sum", "column": "x", "lower": 0, "upper": 100}])
    base = _task(tmp_path, spec.model_dump(mode="json"), public_keys={"d": {}})
    public = dataclasses.replace(base, public_rows={"d": 1_000_000})
    reference = dataset_context(dataclasses.replace(public, row_counts={"d": 1_000_000}), "d")
    context = dataset_context(dataclasses.replace(public, row_counts={"d": exact}), "d")
    assert context.max_rows == reference.max_rows == rows_bound(1_000_000) > exact
    grids = [[m.grid for m in make_plan(spec, c).measurements] for c in (context, reference)]
    assert grids[0] == grids[1]
