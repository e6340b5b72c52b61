"""Operator code, run jailed and always reviewed: the ``custom`` job kind.

- :mod:`~jobs.kinds.custom.spec` — :class:`CustomSpec` (inline source or a zip).
- :mod:`~jobs.kinds.custom.kind` — ``KIND``, the kind's answers to
  :class:`jobs.kinds.base.JobKind` (untimed; no Ray CPU slot).
- :mod:`~jobs.kinds.custom.engine` — the run: data prepared, code jailed,
  outputs collected into a zip for review.
- :mod:`~jobs.kinds.custom.jail` — the bubblewrap jail (namespaces, no network,
  rlimits, wall-clock kill) with :mod:`~jobs.kinds.custom.seccomp` (its
  syscall filter); :mod:`~jobs.kinds.custom.outputs` — the gate the outputs pass.
"""

from jobs.kinds.custom.kind import KIND
from jobs.kinds.custom.spec import CustomSpec

__all__ = ["KIND", "CustomSpec"]
