"""Differentially private aggregates: the ``aggregate`` job kind.

- :mod:`~jobs.kinds.aggregate.spec` — :class:`AggregateSpec` and its
  aggregations; :func:`validate_against_schema` against the catalog.
- :mod:`~jobs.kinds.aggregate.kind` — ``KIND``, the kind's answers to
  :class:`jobs.kinds.base.JobKind` (validate, charge, run on Ray partition
  by partition, describe, privacy statement).
- :mod:`~jobs.kinds.aggregate.engine` — the DP engine's entry points
  (:mod:`jobs.dp` holds its parts); loaded when a job runs or is estimated.
"""

from jobs.kinds.aggregate.kind import KIND
from jobs.kinds.aggregate.spec import AggregateSpec

__all__ = ["KIND", "AggregateSpec"]
