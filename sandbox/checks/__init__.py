"""Automatic disclosure checks of a job's output, run in a child process.

A map of the package:

- :mod:`sandbox.checks.base` — what a check reads and answers: :class:`Contents`,
  :class:`CheckContext` (built from a kind's facts by :meth:`CheckContext.build`),
  :class:`Check`; :func:`blocking`.
- :mod:`sandbox.checks.registry` — :data:`~sandbox.checks.registry.CHECKS`, every
  check in the order reports show them.
- One module per check, ``sandbox/checks/<name>.py``: :mod:`~sandbox.checks.file_type`,
  :mod:`~sandbox.checks.size`, :mod:`~sandbox.checks.pii_scan`,
  :mod:`~sandbox.checks.raw_rows`, :mod:`~sandbox.checks.small_cells`,
  :mod:`~sandbox.checks.identifier_columns`.
- :mod:`sandbox.checks.engine` — reads an output once and runs the registry.
- :mod:`sandbox.checks.process` — the engine in a child process with memory, CPU
  and time limits (what the service calls).
- :mod:`sandbox.checks.support` — what the checks share: opening files by content,
  reading them within a budget, matching rows and columns with the inputs, cells.

This package's ``__init__`` imports only :mod:`sandbox.checks.base` (no polars):
the checks' child process imports it before it limits itself.
"""

from sandbox.checks.base import MAX_REASON, Check, CheckContext, Contents, Verdict, blocking

__all__ = ["MAX_REASON", "Check", "CheckContext", "Contents", "Verdict", "blocking"]
