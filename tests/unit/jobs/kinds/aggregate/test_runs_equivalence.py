"""Measuring people as runs of rows gives the exact table that bounding every row gives.

:func:`jobs.kinds.aggregate.exact.exact` reads a partition stored person by
person (:func:`jobs.privacy_unit.person_order`) as runs: people with at most
k rows in one group are measured as they are, the others bounded. Checked
against the row path (bound every row, then measure) on random frames: null,
NaN and blank units, integer / string / categorical units, every key type
(floats too) with nulls, duplicated rows, any k and g, the salt of the spec;
and unsorted frames, which take the row path.
"""

from __future__ import annotations

import datetime
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from jobs.kinds import parse_job_spec
from jobs.kinds.aggregate import exact as exact_module
from jobs.kinds.aggregate.engine import (
    DatasetContext,
    evaluate,
    evaluate_partitioned,
    plan,
)
from jobs.kinds.aggregate.exact import exact
from jobs.kinds.aggregate.plan import Plan
from jobs.kinds.aggregate.spec import AggregateSpec
from jobs.privacy_unit import person_order
from tests.unit.jobs.kinds.aggregate.test_bounding_equivalence import UNITS, frames

# units whose values group exactly (floats take the row path whatever the order)
RUN_UNITS = {k: v for k, v in UNITS.items() if k != "float"}
AGGREGATES: list[dict[str, Any]] = [
    {"op": "count"},
    {"op": "count_distinct"},
    {"op": "sum", "column": "x", "lower": -2, "upper": 2},
    {"op": "mean", "column": "x", "lower": -4, "upper": 4},
    {"op": "variance", "column": "x", "lower": 0, "upper": 3},
]


def _row_path(frame: pl.DataFrame, job: Plan) -> pl.DataFrame:
    """Bound every row, then measure: the path every plan could take."""
    restricted = exact_module._restrict(frame.lazy(), job)
    return exact_module._by_rows(exact_module._bound(restricted, job), job)


def _job(keys: list[str], k: int, g: int, aggregates: list[dict[str, Any]]) -> Plan:
    spec = parse_job_spec(
        {
            "kind": "aggregate",
            "dataset": "d",
            "group_by": keys,
            "epsilon": 1.0,
            "delta": 1e-6,
            "max_rows_per_unit": k,
            "max_groups_per_unit": g,
            "aggregates": aggregates,
        }
    )
    assert isinstance(spec, AggregateSpec)
    return plan(spec, DatasetContext(privacy_unit="pid", max_rows=10_000))


@st.composite
def _cases(draw: st.DrawFn) -> tuple[pl.DataFrame, Plan]:
    frame, keys = draw(frames(RUN_UNITS, max_keys=2))
    aggregates = draw(st.lists(st.sampled_from(AGGREGATES), min_size=1, max_size=3, unique_by=str))
    job = _job(keys, draw(st.integers(1, 6)), draw(st.integers(1, 6)), aggregates)
    return frame, job


def _stored(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` in the order the catalog stores a partition."""
    order = person_order("pid", frame.schema["pid"])
    return frame.sort(order, nulls_last=True, maintain_order=True)


@settings(max_examples=300, deadline=None)
@given(case=_cases())
def test_exact_when_rows_stored_by_person_then_runs_give_the_row_paths_table(
    case: tuple[pl.DataFrame, Plan],
) -> None:
    frame, job = case
    stored = _stored(frame)
    expected = _row_path(frame, job)
    if exact_module._runs_apply(job, frame.schema):  # not with a float key
        known = stored.filter(exact_module.known_unit("pid", frame.schema["pid"]))
        assert_frame_equal(exact_module._by_runs(known, job, "pid"), expected, check_exact=True)
    assert_frame_equal(exact(stored.lazy(), job), expected, check_exact=True)
    assert_frame_equal(exact(frame.lazy(), job), expected, check_exact=True)  # any order


# people 0-9 one row in one group, 10-14 six rows in one group, 15-19 two rows in two
# groups, 20 twelve rows in three groups; rows interleaved as they arrive
_PEOPLE = (
    [(p, 0) for p in range(10)]
    + [(p, 1) for p in range(10, 15) for _ in range(6)]
    + [(p, g) for p in range(15, 20) for g in (0, 2)]
    + [(20, g % 3) for g in range(12)]
)
_DTYPES: list[tuple[pl.DataType, Any]] = [
    (pl.Int64(), lambda i: i - 10),
    (pl.UInt8(), lambda i: i),
    (pl.Int128(), lambda i: i * 10**19),  # a 20-digit ID
    (pl.UInt64(), lambda i: 2**64 - 1 - i),
    (pl.String(), lambda i: f"id-{i:03d}"),
    (pl.Categorical(), lambda i: f"c{(i * 7) % 23}"),
    (pl.Date(), lambda i: datetime.date(2020, 1, 1) + datetime.timedelta(days=i)),
    (pl.Boolean(), lambda i: i % 2 == 0),
]


@pytest.mark.parametrize(("dtype", "value"), _DTYPES, ids=[str(d) for d, _ in _DTYPES])
@pytest.mark.parametrize("role", ["unit", "key"])
def test_exact_when_unit_or_key_of_each_type_then_runs_give_the_row_paths_table(
    dtype: pl.DataType, value: Any, role: str
) -> None:
    people, groups = zip(*_PEOPLE, strict=True)
    order = sorted(range(len(people)), key=lambda i: (i * 37) % len(people))  # interleaved
    pid = [people[i] for i in order]
    key = [groups[i] for i in order]
    if role == "unit":
        pid = [value(p) for p in pid]  # a Boolean unit: two people
    else:
        key = [value(g) for g in key]
    frame = pl.DataFrame(
        {
            "pid": pl.Series(pid, dtype=dtype if role == "unit" else pl.Int64),
            "k0": pl.Series(key, dtype=dtype if role == "key" else pl.Int64),
            "x": [float(i % 5) - 2 for i in range(len(pid))],
        }
    )
    for k, g in ((4, 1), (4, 2), (1, 1), (20, 3)):
        job = _job(["k0"], k, g, AGGREGATES)
        assert exact_module._runs_apply(job, frame.schema)
        expected = _row_path(frame, job)
        assert_frame_equal(exact(_stored(frame).lazy(), job), expected, check_exact=True)


def test_exact_when_float_key_then_the_row_path() -> None:
    # a person with two rows in two float groups: the runs would need NaN and -0.0 rules
    frame = pl.DataFrame({"pid": [1, 1, 2], "k0": [0.0, 1.0, 0.0], "x": [1.0, 2.0, 3.0]})
    job = _job(["k0"], 2, 1, AGGREGATES)
    assert not exact_module._runs_apply(job, frame.schema)
    assert_frame_equal(exact(frame.lazy(), job), _row_path(frame, job), check_exact=True)


def test_by_runs_when_someone_is_over_a_bound_then_the_same_steps_as_when_nobody_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the run time must not tell whether anyone is over a bound: the same queries either way
    calls: list[str] = []
    bound = exact_module.bound_every_unit
    rows = exact_module._by_rows
    monkeypatch.setattr(
        exact_module, "bound_every_unit", lambda *a: calls.append("bound") or bound(*a)
    )
    monkeypatch.setattr(exact_module, "_by_rows", lambda *a: calls.append("rows") or rows(*a))
    job = _job(["k0"], 2, 1, AGGREGATES)
    steps = []
    for pid in ([1, 2, 3, 4], [1, 1, 1, 4]):  # nobody over k = 2; person 1 over it
        calls.clear()
        frame = pl.DataFrame({"pid": pid, "k0": ["a", "a", "b", "b"], "x": [1.0, 2.0, 3.0, 4.0]})
        table = exact(frame.lazy(), job)
        steps.append(list(calls))
        assert_frame_equal(table, _row_path(frame, job), check_exact=True)
    assert steps[0] == steps[1] == ["bound", "bound", "rows"]


def test_exact_when_rows_stored_by_person_then_runs_are_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # many people, some far over the bound and some in two groups, k = 4, g = 1
    frame = pl.DataFrame(
        {
            "pid": [p // 3 if p % 40 else p % 7 for p in range(6_000)],
            "k0": [f"c{(p // 6) % 4}" for p in range(6_000)],
            "x": [float(p % 5) - 2 for p in range(6_000)],
        }
    )
    job = _job(["k0"], 4, 1, AGGREGATES)
    calls: list[int] = []
    runs = exact_module._by_runs
    monkeypatch.setattr(
        exact_module, "_by_runs", lambda rows, *a: calls.append(rows.height) or runs(rows, *a)
    )
    expected = _row_path(frame, job)
    assert_frame_equal(exact(frame.lazy(), job), expected, check_exact=True)
    assert calls == []  # not stored by person: the row path
    assert_frame_equal(exact(_stored(frame).lazy(), job), expected, check_exact=True)
    assert calls == [6_000]


def test_evaluate_partitioned_when_partitions_split_people_then_same_release_as_whole() -> None:
    frame = pl.DataFrame(
        {
            "pid": [p // 3 if p % 40 else p % 7 for p in range(3_000)],
            "k0": [f"c{(p // 6) % 4}" for p in range(3_000)],
            "x": [float(p % 5) - 2 for p in range(3_000)],
        }
    )
    spec = _job(["k0"], 4, 1, AGGREGATES).spec
    context = DatasetContext(
        privacy_unit="pid", public_keys={"k0": ["c0", "c1", "c2", "c3"]}, max_rows=10_000
    )
    parts = [_stored(frame.filter(pl.col("pid") % 3 == i)).lazy() for i in range(3)]
    whole = evaluate(frame, spec, context, seed=5)
    partitioned = evaluate_partitioned(parts, spec, context, seed=5)
    assert_frame_equal(partitioned.table, whole.table)
