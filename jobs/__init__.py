"""What runs: job kinds, their specs and engines, and the Ray runner.

Map of the package:

- :mod:`jobs.kinds` — the registry :data:`~jobs.kinds.KINDS` of job kinds and
  the :class:`~jobs.kinds.base.JobKind` protocol every kind satisfies. One
  package per kind, ``jobs/kinds/<kind>/``: its spec (``spec.py``), its
  ``KIND`` object (``kind.py``: options, validate, charge, cost, estimate,
  run, check facts, description, privacy statement) and its engine:

  - :mod:`jobs.kinds.aggregate` — differentially private statistics; the DP
    engine's entry points (:mod:`jobs.kinds.aggregate.engine`) over :mod:`jobs.dp`.
  - :mod:`jobs.kinds.extract` — anonymized row-level release: identifiers dropped
    or pseudonymized, quasi-identifiers generalized to k-anonymity (l-diversity
    for sensitive columns), free text redacted, with a risk report.
  - :mod:`jobs.kinds.train` — DP models: diffprivlib (logistic / linear
    regression, naive Bayes, k-means, random forest) and opacus DP-SGD for a
    small MLP; JSON / safetensors outputs, never pickle.
  - :mod:`jobs.kinds.custom` — operator code run in a bubblewrap jail (namespaces,
    no network, a seccomp filter, rlimits, wall-clock kill); its outputs pass a
    gate (sizes capped, PNGs re-encoded, files renamed ``file-N``).

- :mod:`jobs.spec` — what the specs share (base model, filters, limits) and
  :func:`parse_job_spec`, a union discriminated by ``kind`` built from the registry.
- :mod:`jobs.facts` — :class:`~jobs.facts.DatasetFacts` and
  :class:`~jobs.facts.GrantFacts`, the public facts a kind reads.
- :mod:`jobs.dp` — the DP core: exact discrete samplers (vectorized), accounting
  (pure ε, zCDP), contribution bounding, partition selection, error bars.
- :mod:`jobs.privacy_unit` — :func:`~jobs.privacy_unit.known_unit`: rows without
  a privacy unit are no one's and every kind drops them.
- :mod:`jobs.task` — the :class:`Task` / :class:`Outcome` the service exchanges
  with a run, and :func:`execute` (a run in this process).
- :mod:`jobs.runner` — :class:`RayRunner`; :mod:`jobs.distributed` — the
  functions Ray runs: one task per partition and noise once for a partitioned
  kind, one task for the others.
- :mod:`jobs.scan` — a job's PII scan of a table (rules fused with the trained
  tagger); a large free-text column is read in row slices, one Ray task each.

``import jobs`` stays light: Ray and the engines load when first used.
"""

from jobs.errors import InvalidJobSpec, JobFailed
from jobs.kinds import KINDS, JobKind, parse_job_spec
from jobs.runner import RayRunner, execute
from jobs.task import Outcome, Task

__all__ = [
    "KINDS",
    "InvalidJobSpec",
    "JobFailed",
    "JobKind",
    "Outcome",
    "RayRunner",
    "Task",
    "execute",
    "parse_job_spec",
]
