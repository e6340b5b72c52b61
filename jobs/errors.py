"""Errors of the jobs package, under the common tree of :mod:`policies.errors`."""

from __future__ import annotations

from policies.errors import (
    InternalError,
    InvalidJobSpec,
    JobFailed,
    SandboxError,
    redacted_traceback,
)

__all__ = [
    "InternalError",
    "InvalidJobSpec",
    "JobFailed",
    "RunnerStopped",
    "SandboxError",
    "redacted_traceback",
]


class RunnerStopped(InternalError):
    """The runner was stopped (the service is stopping): the run did not happen or was
    cancelled. The job is not failed: the drain handed it back, or its lease expires
    and it is queued again."""
