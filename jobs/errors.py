"""Errors of the jobs package, under the common tree of :mod:`policies.errors`."""

from __future__ import annotations

from policies.errors import (
    InternalError,
    InvalidJobSpec,
    JobFailed,
    SandboxError,
    redacted_traceback,
)

__all__ = ["InternalError", "InvalidJobSpec", "JobFailed", "SandboxError", "redacted_traceback"]
