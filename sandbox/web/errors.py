"""The HTTP status of each error of the tree: the one place the web side writes it.

Domain code raises the error tree of :mod:`policies.errors`, which knows
stable machine-readable ``code`` values but nothing of HTTP. The API's JSON
handler (:mod:`sandbox.web.api.errors`) and the console's error pages
(:mod:`sandbox.web.console.web`) both answer with :func:`status_of`.

>>> from policies.errors import BudgetExhausted, NotFound
>>> status_of(NotFound("no such job")), status_of(BudgetExhausted)
(404, 409)
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from anonymize.errors import AnonymizationError
from policies import errors as E

#: The status each class of the tree answers with. A class not listed takes the
#: status of its nearest listed ancestor (``BudgetExhausted`` is a ``Conflict``: 409).
STATUS: Mapping[type[E.SandboxError], int] = MappingProxyType(
    {
        E.SandboxError: 500,
        E.Unauthenticated: 401,
        E.TooManyAttempts: 429,
        E.PolicyViolation: 403,
        E.NotFound: 404,
        E.Conflict: 409,
        E.InvalidJobSpec: 422,
        E.InvalidRequest: 422,
        AnonymizationError: 422,
        E.JobFailed: 500,
        E.InternalError: 500,
    }
)


def status_of(error: E.SandboxError | type[E.SandboxError]) -> int:
    """The HTTP status an error (or an error class) is answered with."""
    cls = error if isinstance(error, type) else type(error)
    for ancestor in cls.__mro__:
        if ancestor in STATUS:
            return STATUS[ancestor]
    return 500  # not of the tree: a fault of the service
