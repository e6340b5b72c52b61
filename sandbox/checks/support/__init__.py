"""What the checks share: reading an output safely and comparing it with the inputs.

- :mod:`~sandbox.checks.support.files` — open an output, identify each file by content.
- :mod:`~sandbox.checks.support.tables` — read its tables and texts within one budget.
- :mod:`~sandbox.checks.support.rows` — match its columns with the inputs', find rows
  that single out records.
- :mod:`~sandbox.checks.support.cells` — counts, classes, nearly unique columns,
  public keys.
"""
