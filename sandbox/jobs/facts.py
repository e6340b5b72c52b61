"""The public facts of catalogued datasets and grants, read once from the store.

One frozen :class:`jobs.facts.DatasetFacts` per input dataset replaces the
copies that were built by hand (the aggregate engine's context, the Ray task's
dicts, the automatic checks' context): every part downstream is built here,
from the same value.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jobs import storage
from jobs.facts import Column, DatasetFacts, GrantFacts, StoredHierarchy
from jobs.kinds.base import JobKind
from jobs.runner import Task
from policies.airlock import min_cell_for
from policies.catalog import ColumnTag, Grade, GroupSizeBand
from sandbox.checks import CheckContext
from sandbox.store.models import Dataset, Grant


def dataset_facts(dataset: Dataset) -> DatasetFacts:
    """The public facts of a catalogued dataset (its exact row count stays inside the sandbox)."""
    return DatasetFacts(
        name=dataset.name,
        parts=storage.join(dataset.path, "part-*.parquet"),
        grade=Grade(dataset.grade),
        row_count=dataset.row_count,
        public_row_count=dataset.public_row_count,
        privacy_unit=dataset.privacy_unit,
        public_keys={k: tuple(v) for k, v in dataset.public_keys.items()},
        columns=tuple(
            Column(c.name, c.dtype, ColumnTag(c.tag), c.nullable) for c in dataset.columns
        ),
        # validated at ingest (policies.catalog.check_group_size_bands)
        group_size_bands={
            key: GroupSizeBand(int(b["low"]), int(b["high"]))
            for key, b in (dataset.group_size_bands or {}).items()
        },
        hierarchies=tuple(StoredHierarchy(h.name, h.column, h.csv) for h in dataset.hierarchies),
    )


def grant_facts(grant: Grant) -> GrantFacts:
    """The terms of a grant a kind's options read."""
    return GrantFacts(
        id=grant.id,
        min_cell=grant.min_cell,
        extract_k=grant.extract_k,
        allow_linkage=grant.allow_linkage,
        limits=dict(grant.limits or {}),
    )


def min_cell(datasets: Sequence[DatasetFacts], grant: GrantFacts) -> int:
    """The job's small-cell threshold: the strictest grade's, or the grant's if stricter.

    Raises:
        PolicyViolation: ``core`` data (no small-area output, art. 62).
    """
    return min_cell_for((d.grade for d in datasets), grant.min_cell)


def task(
    job_id: int,
    spec: dict[str, Any],
    datasets: Sequence[DatasetFacts],
    *,
    output_path: str | Path,
    min_cell: int,
    options: dict[str, Any],
    seed: int | None = None,
) -> Task:
    """The Ray task of a job: plain values built from the datasets' facts."""
    return Task(
        job_id=job_id,
        spec=spec,
        inputs={d.name: d.parts for d in datasets},
        row_counts={d.name: d.row_count for d in datasets},
        public_rows={d.name: d.public_row_count for d in datasets},
        output_path=str(output_path),
        min_cell=min_cell,
        seed=seed,
        privacy_units={d.name: d.privacy_unit for d in datasets},
        public_keys={d.name: {k: list(v) for k, v in d.public_keys.items()} for d in datasets},
        non_null_columns={d.name: sorted(d.non_null_columns) for d in datasets},
        columns={
            d.name: {c.name: {"dtype": c.dtype, "tag": c.tag.value} for c in d.columns}
            for d in datasets
        },
        grades={d.name: d.grade.value for d in datasets},
        options=options,
    )


def check_context(kind: JobKind, spec: Any, task: Task) -> CheckContext:
    """What the automatic checks need to know about a job's output.

    What is kind-specific (its product and formats, which columns are counts,
    the k and pseudonyms of records, the row cap) is the kind's say
    (:meth:`JobKind.check_facts`); the rest are the task's public facts.
    """
    return CheckContext.build(
        kind,
        kind.check_facts(spec, task),
        min_cell=task.min_cell,
        public_keys={c: v for keys in task.public_keys.values() for c, v in keys.items()},
        inputs=dict(task.inputs),
        tags={d: {c: v["tag"] for c, v in cols.items()} for d, cols in task.columns.items()},
        privacy_units={d: u for d, u in task.privacy_units.items() if u},
    )
