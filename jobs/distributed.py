"""Ray's side of a job: the functions the runner sends to Ray, each asking the job's kind.

A partitioned kind (:class:`jobs.kinds.base.PartitionedKind`) runs as one Ray
task per partition computing exact partial measurements (mergeable integer
sums, returned as Arrow tables: the cheap way to move tables between Ray
tasks) and one final task that combines them, adds noise once and writes
the result into quarantine (:func:`partial`, :func:`finish`). Every other
kind runs whole in one task (:func:`single`). A stored dataset is a folder of
``part-NNNNN.parquet`` files split by a hash of the privacy-unit column, so
every person's rows sit in one partition. Only metadata comes back to the
service: the exact partials stay in Ray's object store and are freed when
the job ends.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from jobs.errors import InternalError
from jobs.kinds import KINDS, JobKind, PartitionedKind, parse_job_spec
from jobs.task import Task, staged

__all__ = ["finish", "partial", "single"]


def _kind(task: Task) -> JobKind:
    return KINDS[parse_job_spec(task.spec).kind]


def _partitioned(task: Task) -> PartitionedKind:
    kind = _kind(task)
    if not (kind.partitioned and isinstance(kind, PartitionedKind)):
        raise InternalError("the runner sent a job of a kind that is not partitioned")
    return kind


def partial(task: dict[str, Any], path: str) -> Any:
    """Exact partial measurements of one partition, as an Arrow table (sensitive: stays in Ray)."""
    t = Task(**task)
    return _partitioned(t).partial(t, path)


def finish(task: dict[str, Any], *parts: Any) -> dict[str, Any]:
    """Combine the partials, release once (noise, selection, suppression), write quarantine."""
    t = Task(**task)
    return asdict(staged(t, lambda local: _partitioned(local).finish(local, parts)))


def single(task: dict[str, Any]) -> dict[str, Any]:
    """Run a job whole in one Ray task; write quarantine; return metadata."""
    t = Task(**task)
    return asdict(staged(t, lambda local: _kind(local).run(local)))
