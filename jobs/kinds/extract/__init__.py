"""Anonymized row extracts (k-anonymity, l-diversity, art. 37): the ``extract`` job kind.

- :mod:`~jobs.kinds.extract.spec` — :class:`ExtractSpec`.
- :mod:`~jobs.kinds.extract.kind` — ``KIND``, the kind's answers to
  :class:`jobs.kinds.base.JobKind`.
- :mod:`~jobs.kinds.extract.engine` — the run: one record per person,
  identifiers dropped or pseudonymized, generalization, redaction, risk report
  (with :mod:`~jobs.kinds.extract.rows`, :mod:`~jobs.kinds.extract.hierarchies`,
  :mod:`~jobs.kinds.extract.text`, :mod:`~jobs.kinds.extract.failures`).
"""

from jobs.kinds.extract.kind import KIND
from jobs.kinds.extract.spec import ExtractSpec

__all__ = ["KIND", "ExtractSpec"]
