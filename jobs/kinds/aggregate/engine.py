"""The differentially private aggregate engine: the API the runner and the service call.

One job = filters → public-key domains → contribution bounding → exact
integer measurements per group → noise once → partition selection →
small-cell suppression → answers with 95 % intervals. The privacy unit is a
person (the dataset's privacy-unit column, or a row when there is none);
neighbouring tables differ by all of one person's rows.

Single process::

    result = evaluate(frame, spec, context)
    result = evaluate_partitioned(partitions, spec, context)  # one partition at a time

Partitioned (the Ray runner; partitions split people, all of a person's rows
in one partition)::

    parts = [exact_partials(p, spec, context) for p in partitions]   # in parallel
    result = release(combine_partials(parts, spec), spec, context)  # noise once

Both give the same exact measurements, so the same answer for the same seed.
The pieces live in :mod:`jobs.dp`; see :mod:`jobs.kinds.aggregate.plan` for mechanisms,
sensitivities and the budget split.

>>> import polars as pl
>>> from jobs.kinds import parse_job_spec
>>> spec = parse_job_spec({"kind": "aggregate", "dataset": "d", "epsilon": 1.0,
...                        "aggregates": [{"op": "count"}]})
>>> evaluate(pl.DataFrame({"x": range(50)}), spec, seed=1).table.columns
['count', 'count_ci_low', 'count_ci_high', 'suppressed']
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

import polars as pl

from jobs.dp.accounting import Charge
from jobs.dp.mechanisms import make_rng
from jobs.kinds.aggregate import exact as _exact
from jobs.kinds.aggregate.estimate import (
    AggregateEstimate,
    Estimate,
    GroupSize,
    estimate_plan,
)
from jobs.kinds.aggregate.plan import DatasetContext, Plan, make_plan
from jobs.kinds.aggregate.release import AggregateResult
from jobs.kinds.aggregate.release import release as _release
from jobs.kinds.aggregate.spec import AggregateSpec

_THREADS = max(1, min(4, os.cpu_count() or 1))  # partitions in memory at once

__all__ = [
    "AggregateEstimate",
    "AggregateResult",
    "DatasetContext",
    "Estimate",
    "GroupSize",
    "charge",
    "combine_partials",
    "cost",
    "estimate",
    "evaluate",
    "evaluate_partitioned",
    "exact_partials",
    "plan",
    "release",
]


def plan(spec: AggregateSpec, context: DatasetContext | None = None) -> Plan:
    """The calibrated plan of ``spec`` on a dataset described by ``context``.

    Raises:
        InvalidJobSpec: The spec cannot run on this dataset as written.
    """
    return make_plan(spec, context or DatasetContext())


def exact_partials(
    frame: pl.LazyFrame | pl.DataFrame, spec: AggregateSpec, context: DatasetContext | None = None
) -> pl.DataFrame:
    """Exact clamped, contribution-bounded integer measurements of one partition; no noise.

    Sensitive: keep it inside the worker. Mergeable with :func:`combine_partials`.

    Raises:
        InvalidJobSpec: See :func:`plan`.
    """
    return _exact.exact(frame.lazy(), plan(spec, context))


def combine_partials(parts: Sequence[pl.DataFrame], spec: AggregateSpec) -> pl.DataFrame:
    """Merge the partial tables of partitions that split people (exact integer sums).

    Raises:
        ValueError: ``parts`` is empty.
    """
    return _exact.combine(parts, spec)


def release(
    exact: pl.DataFrame,
    spec: AggregateSpec,
    context: DatasetContext | None = None,
    *,
    seed: int | None = None,
) -> AggregateResult:
    """Noise once, partition selection, suppression and intervals over exact measurements.

    Args:
        exact: From :func:`exact_partials` (or :func:`combine_partials`).
        spec: The job spec; carries ε and δ.
        context: The dataset's public facts; ``None``: one row per person, no
            public keys, no suppression.
        seed: Tests only; ``None`` draws fresh OS randomness.

    Raises:
        InvalidJobSpec: See :func:`plan`.
        JobFailed: The data contradict the catalog (more rows than catalogued,
            declared keys of the wrong type); the message carries no value.
    """
    return _release(exact, plan(spec, context), make_rng(seed))


def evaluate(
    frame: pl.LazyFrame | pl.DataFrame,
    spec: AggregateSpec,
    context: DatasetContext | None = None,
    *,
    seed: int | None = None,
) -> AggregateResult:
    """Run ``spec`` on one table in this process.

    Args:
        frame: The dataset (lazy is faster: the group-by streams). With a
            privacy unit, the measured columns of its known people are held in
            memory; for a stored dataset, :func:`evaluate_partitioned` holds one
            partition at a time.
        spec: The validated job spec; carries ε and δ.
        context: The dataset's public facts; see :func:`release`.
        seed: Tests only; ``None`` draws fresh OS randomness.

    Returns:
        The noisy table with intervals, and what it cost.

    Raises:
        InvalidJobSpec: See :func:`plan`.
        JobFailed: See :func:`release`.
    """
    job = plan(spec, context)
    return _release(_exact.exact(frame.lazy(), job), job, make_rng(seed))


def evaluate_partitioned(
    partitions: Iterable[pl.LazyFrame | pl.DataFrame],
    spec: AggregateSpec,
    context: DatasetContext | None = None,
    *,
    seed: int | None = None,
) -> AggregateResult:
    """Run ``spec`` in this process one stored partition at a time, as the Ray runner does.

    The same answer as :func:`evaluate` on their union for the same seed (the
    partitions split people). Up to four partitions are measured at a time, each
    held in memory (its measured columns) while it is; a partition stored by
    person (:func:`jobs.privacy_unit.person_order`, as the catalog stores them)
    is measured as runs of people.

    Raises:
        InvalidJobSpec: See :func:`plan`.
        JobFailed: See :func:`release`.
        ValueError: No partitions.
    """
    job = plan(spec, context)
    # Polars and numpy release the GIL: partitions side by side keep the cores busy
    # where one partition's steps run on one (the runs, the small bounded remainder).
    with ThreadPoolExecutor(max_workers=_THREADS) as pool:
        parts = list(pool.map(lambda p: _exact.exact(p.lazy(), job), partitions))
    return _release(_exact.combine(parts, spec), job, make_rng(seed))


def estimate(
    spec: AggregateSpec,
    context: DatasetContext | None = None,
    *,
    group_size: int | GroupSize | None = None,
) -> Estimate:
    """Cost, expected accuracy and small-cell warnings of ``spec``, without touching data.

    Args:
        spec: The job spec.
        context: The dataset's public facts.
        group_size: Rows per group assumed for means, variances, quantiles and the
            small-cell warnings (a band: :func:`jobs.kinds.aggregate.estimate.group_size_for`);
            ``None``: :data:`jobs.kinds.aggregate.estimate.DEFAULT_GROUP_SIZE`.

    Raises:
        InvalidJobSpec: See :func:`plan`.
    """
    return estimate_plan(plan(spec, context), group_size)


def charge(spec: AggregateSpec, context: DatasetContext | None = None) -> Charge:
    """The job's spend in the accountant's terms (pure ε, ρ, δ); see :mod:`jobs.dp.accounting`.

    Raises:
        InvalidJobSpec: See :func:`plan`.
    """
    return plan(spec, context).charge


def cost(spec: AggregateSpec) -> tuple[float, float]:
    """(ε, δ) the ledger charges for ``spec``: exactly what it declares.

    The engine spends at most this (:mod:`jobs.kinds.aggregate.plan` splits it), so the
    estimate and the run charge the same amount.
    """
    return spec.epsilon, spec.delta
