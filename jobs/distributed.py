"""Partitioned evaluation on Ray: exact partials per partition in parallel, noise once.

A stored dataset is a folder of ``part-NNNNN.parquet`` files split by a hash
of the privacy-unit column, so every person's rows sit in one partition and
contribution bounding is exact within it. One Ray task per partition
computes exact, clamped, bounded partial measurements (mergeable integer
sums, returned as Arrow tables: the cheap way to move tables between Ray
tasks); one final task combines them, adds noise once, applies partition
selection and suppression, and writes the result into quarantine. Only
metadata comes back to the service: the exact partials stay in Ray's object
store and are freed when the job ends.
"""

from __future__ import annotations

import glob
import importlib
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from jobs.runner import Outcome, Task, dataset_context, evaluation_errors, write_result
from jobs.spec import AggregateSpec, parse_job_spec


def partition_files(pattern: str) -> list[str]:
    """The partition files a task's input names (a glob), in partition order."""
    return sorted(glob.glob(pattern))


def partial(task: dict[str, Any], path: str) -> Any:
    """Exact partial measurements of one partition, as an Arrow table (sensitive: stays in Ray)."""
    import polars as pl

    from jobs.kinds.aggregate.engine import exact_partials

    t = Task(**task)
    spec = parse_job_spec(t.spec)
    assert isinstance(spec, AggregateSpec)  # the runner sends only aggregates here
    with evaluation_errors():
        frame = exact_partials(pl.scan_parquet(path), spec, dataset_context(t, spec.dataset))
    return frame.to_arrow()


def finish(task: dict[str, Any], *parts: Any) -> dict[str, Any]:
    """Combine the partials, release once (noise, selection, suppression), write quarantine."""
    import polars as pl

    from jobs.kinds.aggregate.engine import combine_partials, release

    t = Task(**task)
    spec = parse_job_spec(t.spec)
    assert isinstance(spec, AggregateSpec)  # the runner sends only aggregates here
    with evaluation_errors():
        exact = combine_partials([pl.DataFrame(pl.from_arrow(p)) for p in parts], spec)
        result = release(exact, spec, dataset_context(t, spec.dataset), seed=t.seed)
    return asdict(write_result(t, result))


#: Job kinds run whole in one task, and the module whose ``run(task) -> Outcome`` runs each.
_EXECUTORS = {
    "extract": "jobs.kinds.extract.engine",
    "train": "jobs.kinds.train.engine",
    "custom": "jobs.kinds.custom.engine",
}


def executor(kind: str) -> Callable[[Task], Outcome]:
    """The executor of a kind run in one task (a fixed table: no name from a spec is imported).

    Raises:
        KeyError: ``kind`` is not one of them.
    """
    run: Callable[[Task], Outcome] = importlib.import_module(_EXECUTORS[kind]).run
    return run


def single(task: dict[str, Any]) -> dict[str, Any]:
    """Run an extract, train or custom job in one Ray task; write quarantine; return metadata."""
    t = Task(**task)
    return asdict(executor(t.spec["kind"])(t))
