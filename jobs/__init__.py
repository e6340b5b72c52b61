"""What runs: job specifications, their evaluation, and the Ray runner.

Map of the package:

- :mod:`jobs.spec` — pydantic job specs (discriminated by ``kind``),
  :func:`parse_job_spec`, :func:`validate_against_schema`.
- :mod:`jobs.kinds.aggregate.engine` — the DP engine's entry points: :func:`evaluate`,
  :func:`estimate`, :func:`exact_partials` / :func:`combine_partials` /
  :func:`release` (partitioned runs), :func:`charge` for the ledger.
- :mod:`jobs.privacy_unit` — :func:`known_unit`: rows without a privacy unit
  are no one's and every kind drops them.
- :mod:`jobs.dp` — its core: exact discrete samplers (vectorized), accounting
  (pure ε, zCDP), contribution bounding, partition selection, error bars.
- :mod:`jobs.kinds.extract.engine` — anonymized row-level release: identifiers dropped or
  pseudonymized, quasi-identifiers generalized to k-anonymity (l-diversity for
  sensitive columns), free text redacted, with a risk report.
- :mod:`jobs.kinds.train.engine` — DP models: diffprivlib (logistic / linear regression,
  naive Bayes, k-means, random forest) and opacus DP-SGD for a small MLP;
  JSON / safetensors outputs, never pickle.
- :mod:`jobs.kinds.custom.engine` — operator code run in a bubblewrap jail
  (:mod:`jobs.kinds.custom.jail`: namespaces, no network, a seccomp filter, rlimits,
  wall-clock kill); ``jobs.kinds.custom.outputs`` is the gate its outputs pass
  (sizes capped, PNGs re-encoded, files renamed ``file-N``).
- :mod:`jobs.runner` — :class:`RayRunner` and the :class:`Task` / :class:`Outcome`
  it exchanges with the service; :mod:`jobs.distributed` — one Ray task per
  partition, noise once, and one task for each extract, train or custom job.

Every kind other than ``aggregate`` has the same three functions:
``validate(spec, dtypes, tags, grade, options)`` (before any budget is spent),
``charge(spec[, rows])`` (the ledger's charge) and ``run(task) -> Outcome`` (in Ray).

``import jobs`` stays light: Ray and the engine load when first used.
"""

from typing import Any

from jobs.errors import InvalidJobSpec, JobFailed
from jobs.runner import Outcome, RayRunner, Task, execute
from jobs.spec import AggregateSpec, JobSpec, parse_job_spec, validate_against_schema

__all__ = [
    "AggregateSpec",
    "InvalidJobSpec",
    "JobFailed",
    "JobSpec",
    "Outcome",
    "RayRunner",
    "Task",
    "evaluate",
    "execute",
    "parse_job_spec",
    "validate_against_schema",
]


def __getattr__(name: str) -> Any:
    if name == "evaluate":
        from jobs.kinds.aggregate.engine import evaluate

        return evaluate
    raise AttributeError(f"module 'jobs' has no attribute {name!r}")
