"""Errors of the anonymization package, under the common tree of :mod:`policies.errors`."""

from __future__ import annotations

from policies.errors import InvalidRequest, SandboxError


class AnonymizationError(SandboxError):
    """De-identification could not be done as asked."""

    code = "anonymization_error"


__all__ = ["AnonymizationError", "InvalidRequest", "SandboxError"]
