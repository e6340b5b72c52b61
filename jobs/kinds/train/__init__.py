"""Differentially private model training: the ``train`` job kind.

- :mod:`~jobs.kinds.train.spec` — :class:`TrainSpec`, its model families,
  features and label.
- :mod:`~jobs.kinds.train.kind` — ``KIND``, the kind's answers to
  :class:`jobs.kinds.base.JobKind`.
- :mod:`~jobs.kinds.train.engine` — the run (with :mod:`~jobs.kinds.train.data`,
  :mod:`~jobs.kinds.train.models` for diffprivlib, :mod:`~jobs.kinds.train.mlp`
  for DP-SGD and :mod:`~jobs.kinds.train.clipping` for its per-row clipping).
"""

from jobs.kinds.train.kind import KIND
from jobs.kinds.train.spec import TrainSpec

__all__ = ["KIND", "TrainSpec"]
