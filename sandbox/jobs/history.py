"""Release history of an organisation on a dataset, with a differencing warning.

Two aggregate releases whose filters select almost the same people let an
operator subtract one from the other and learn about the few people in
between (a differencing attack; Dinur & Nissim 2003 on what many overlapping
answers reveal). Differential privacy bounds what the pair reveals, but a
reviewer should still see when a new table and an earlier release differ by
fewer people than the grant's small-cell threshold.

The count is computed here, inside the sandbox, over the stored Parquet and
the dataset's privacy-unit column: a person is selected by a query when any
of their rows passes all its filters. Only the flag and a coarse band of the
count (:func:`count_band`) ever leave this module.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

# The engine's own filter semantics, so that "selected" here means what the job computed.
from jobs.kinds import KINDS
from jobs.spec import Filter
from policies.airlock import JobStatus, min_cell_for
from policies.budget import PrivacyBudget
from policies.catalog import Grade, Product
from policies.errors import PolicyViolation, SandboxError, redacted_traceback
from sandbox.catalog.datasets import get as get_dataset
from sandbox.catalog.datasets import scan_dataset
from sandbox.store.models import Dataset, Grant, Job

log = logging.getLogger(__name__)
#: Upper ends of the bands a count is shown in; counts themselves are never shown.
_BANDS: tuple[tuple[int, str], ...] = ((1, "none"), (10, "fewer than 10"), (100, "10–99"))
#: Earlier releases compared with a new output (the most recent ones).
MAX_COMPARED = 50


def count_band(n: int) -> str:
    """The band a count of people is shown in.

    >>> [count_band(n) for n in (0, 3, 42, 100)]
    ['none', 'fewer than 10', '10–99', '100 or more']
    """
    for upper, label in _BANDS:
        if n < upper:
            return label
    return "100 or more"


def differencing_threshold(grade: Grade, grant_min_cell: int | None) -> int | None:
    """Fewer people than this between two releases is flagged: the grant's small-cell threshold.

    Returns:
        The threshold, or None for ``core`` data (which has no aggregate releases).
    """
    try:
        return min_cell_for([grade], grant_min_cell)
    except PolicyViolation:
        return None


def _datasets(job: Job) -> set[str]:
    """The datasets a job reads (as its kind's spec model says)."""
    return set(job.dataset_names)


def _filtered_table(job: Job) -> tuple[str, list[dict[str, Any]]] | None:
    """(dataset, filters) of a released table of statistics on one dataset, else None.

    Two such tables are compared by the people their filters select; other
    products (records, models, program output) have no filters to compare.
    """
    if job.kind not in KINDS or KINDS[job.kind].product is not Product.STATISTICS:
        return None
    try:
        spec = job.parsed_spec
    except SandboxError:  # stored before its kind's spec changed: nothing to compare
        return None
    if len(spec.datasets) != 1:
        return None
    filters = getattr(spec, "filters", None) or []
    return spec.datasets[0], [f.model_dump(mode="json") for f in filters]


def _selected(filters: Sequence[dict[str, Any]]) -> pl.Expr:
    exprs = [Filter.model_validate(f).expr() for f in filters]
    if not exprs:
        return pl.lit(True)
    return pl.all_horizontal(exprs).fill_null(False)


def people_between(
    dataset: Dataset, new_filters: Sequence[dict[str, Any]], earlier: Sequence[Sequence[Any]]
) -> list[int]:
    """People selected by exactly one of the new filters and each earlier filter list.

    Args:
        dataset: The stored dataset (its Parquet and privacy-unit column).
        new_filters: The new job's ``filters`` (spec JSON).
        earlier: Each earlier job's ``filters``.

    Returns:
        The size of each symmetric difference, in the order of ``earlier``.
        Internal: these exact counts must not be shown; see :func:`count_band`.
    """
    key = (
        dataset.path,
        dataset.sha256,
        dataset.privacy_unit,
        json.dumps(list(new_filters), sort_keys=True),
        tuple(json.dumps(list(f), sort_keys=True) for f in earlier),
    )
    return list(_people_between(*key))


@lru_cache(maxsize=256)
def _people_between(
    path: str, sha256: str, unit: str | None, new: str, earlier: tuple[str, ...]
) -> tuple[int, ...]:
    """Cached by the dataset's content hash: a stored dataset never changes under its hash."""
    if not earlier:
        return ()
    masks = [_selected(json.loads(new)).alias("m0")] + [
        _selected(json.loads(f)).alias(f"m{i + 1}") for i, f in enumerate(earlier)
    ]
    frame = scan_dataset(path)
    if unit is None:  # one row per person
        per_person = frame.select(masks)
    else:
        per_person = frame.group_by(unit).agg([m.any() for m in masks])
    counts = per_person.select(
        [(pl.col("m0") != pl.col(f"m{i + 1}")).sum().alias(str(i)) for i in range(len(earlier))]
    ).collect()
    return tuple(int(counts[str(i)][0]) for i in range(len(earlier)))


@dataclass(frozen=True, slots=True)
class Difference:
    """How an earlier release differs from the new output in the people it covers."""

    #: Band of the number of people in one selection and not the other.
    band: str
    #: Fewer people than the grant's threshold, but some: a differencing risk.
    flagged: bool


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """An earlier release of the same organisation on the same dataset."""

    job_id: int
    kind: str
    created_at: dt.datetime
    epsilon: float
    purpose: str
    #: None when the pair is not two aggregates on one dataset (nothing to compare).
    difference: Difference | None


def release_history(session: Session, job: Job) -> list[HistoryEntry]:
    """Released jobs of ``job``'s organisation on ``job``'s datasets, newest first, flagged.

    Each earlier aggregate release on the same single dataset is compared
    with ``job`` (when it is an aggregate) by the people their filters select.
    """
    names = _datasets(job)
    rows = [
        j
        for j in session.scalars(
            select(Job)
            .where(
                Job.org_id == job.org_id,
                Job.id != job.id,
                Job.status == JobStatus.RELEASED.value,
            )
            .order_by(Job.id.desc())
        )
        if names & _datasets(j)
    ][:MAX_COMPARED]
    table = _filtered_table(job)
    comparable = [
        (j, other[1])
        for j in rows
        if table is not None and (other := _filtered_table(j)) is not None and other[0] == table[0]
    ]
    differences: dict[int, Difference] = {}
    if table is not None and comparable:
        dataset = get_dataset(session, table[0])
        grant = session.get(Grant, job.grant_id)
        threshold = differencing_threshold(
            Grade(dataset.grade), grant.min_cell if grant is not None else None
        )
        if threshold is not None:
            try:
                counts = people_between(dataset, table[1], [f for _, f in comparable])
            except (pl.exceptions.PolarsError, OSError, ValueError) as err:
                # the page still shows the history, without the comparison
                log.error(
                    "release history of job %s could not be compared\n%s",
                    job.id,
                    redacted_traceback(err),
                )
                counts = []
            for (j, _), n in zip(comparable, counts, strict=False):
                differences[j.id] = Difference(count_band(n), 0 < n < threshold)
    return [
        HistoryEntry(
            job_id=j.id,
            kind=j.kind,
            created_at=j.created_at,
            epsilon=PrivacyBudget.from_units(j.epsilon, 0).epsilon,
            purpose=j.purpose,
            difference=differences.get(j.id),
        )
        for j in rows
    ]
