"""The registry of automatic checks: :data:`CHECKS`.

A check is one module ``sandbox/checks/<name>.py`` (see
:class:`sandbox.checks.base.CheckModule`); adding one is that file and one
entry here. The engine runs them in this order, which is the order reports,
reviews and the demo show them.
"""

from __future__ import annotations

from sandbox.checks import (
    file_type,
    identifier_columns,
    pii_scan,
    raw_rows,
    size,
    small_cells,
)
from sandbox.checks.base import CheckModule

__all__ = ["CHECKS"]

#: Every check, in the order the engine runs them.
CHECKS: tuple[CheckModule, ...] = (
    file_type,
    size,
    pii_scan,
    raw_rows,
    small_cells,
    identifier_columns,
)
