"""Shared by the DP tests: many independent releases in one vectorized call."""

from __future__ import annotations

import dataclasses

import polars as pl

from jobs.kinds.aggregate.engine import DatasetContext, exact_partials, release
from jobs.kinds.aggregate.spec import AggregateSpec

RUN = "__run"


def repeated(
    frame: pl.DataFrame, spec: AggregateSpec, context: DatasetContext, runs: int, seed: int
) -> pl.DataFrame:
    """``runs`` independent releases of an ungrouped ``spec`` on ``frame``, one per row.

    The exact measurements are computed once and copied into ``runs`` cells
    keyed by a public run number; one release then draws independent noise
    for every cell. With ``max_groups_per_unit == 1`` the grouped plan has
    the same sensitivities, shares and grids as the ungrouped one, so each
    row is distributed exactly like ``evaluate(frame, spec, context)``.
    """
    assert not spec.group_by and spec.max_groups_per_unit == 1
    exact = exact_partials(frame, spec, context)
    runs_frame = pl.DataFrame({RUN: pl.Series(range(runs), dtype=pl.Int64)})
    copies = runs_frame.join(exact, how="cross")
    by_run = spec.model_copy(update={"group_by": [RUN]})
    keys = dict(context.public_keys) | {RUN: list(range(runs))}
    return release(copies, by_run, dataclasses.replace(context, public_keys=keys), seed=seed).table
