"""The one error tree of Data Sandbox.

Every package raises subclasses of :class:`SandboxError`; each class has a
stable machine-readable ``code`` and knows nothing of HTTP: the web side maps
the tree to status codes in one table (:mod:`sandbox.web.errors`), so domain
code never raises ``HTTPException``, and the client raises the class a
response's code names (:data:`BY_CODE`). Messages say what to do next and
never carry a data value (a cell, a row, an identifier): they may reach an
operator.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType


class SandboxError(Exception):
    """Base of every error a caller of Data Sandbox is expected to handle."""

    #: Stable machine-readable code for clients.
    code: str = "internal_error"


class Unauthenticated(SandboxError):
    """No valid credentials were presented."""

    code = "unauthenticated"


class TooManyAttempts(Unauthenticated):
    """Too many failed sign-ins from one address: wait before trying again."""

    code = "too_many_attempts"

    def __init__(self, message: str, retry_after_s: int = 0) -> None:
        super().__init__(message)
        #: Seconds until the address may try again (the ``Retry-After`` header).
        self.retry_after_s = retry_after_s


class PolicyViolation(SandboxError):
    """The action is forbidden by a rule in :mod:`policies` (the message names the article)."""

    code = "policy_violation"


class NotFound(SandboxError):
    """The object does not exist, or the caller may not know that it exists."""

    code = "not_found"


class Conflict(SandboxError):
    """The object is in a state that does not allow the action."""

    code = "conflict"


class BudgetExhausted(Conflict):
    """The privacy budget left on a grant cannot pay for the job."""

    code = "budget_exhausted"


class InvalidJobSpec(SandboxError):
    """A job specification is malformed or refers to what the catalog does not allow."""

    code = "invalid_job_spec"


class InvalidRequest(SandboxError):
    """A request other than a job spec is malformed (bad file, bad tag, bad value)."""

    code = "invalid_request"


class JobFailed(SandboxError):
    """A job failed while running; the message is safe to show to its operator."""

    code = "job_failed"


class InternalError(SandboxError):
    """A fault of the service itself; details go to the server log, not the caller."""

    code = "internal_error"


def _tree(root: type[SandboxError]) -> Iterator[type[SandboxError]]:
    yield root
    for sub in root.__subclasses__():
        yield from _tree(sub)


#: Every class of the tree defined here, by its ``code``: a client answered with a
#: code raises that class (a class added here is known to clients for free).
BY_CODE: Mapping[str, type[SandboxError]] = MappingProxyType(
    {c.code: c for c in _tree(SandboxError) if c.__module__ == __name__ and c is not SandboxError}
)


def redacted_traceback(err: BaseException) -> str:
    """A traceback for the server log without any exception's message.

    Messages of polars, pyarrow, csv and friends quote the values they choke
    on; the log must hold no data value, so it keeps only where the failure
    happened (frames and source lines, which are code) and of what type.
    Chained causes are kept the same way, outermost last as Python prints them.

    >>> cell = "secret 42"
    >>> try:
    ...     int(cell)
    ... except ValueError as e:
    ...     text = redacted_traceback(e)
    >>> "secret" in text, text.splitlines()[-1]
    (False, 'ValueError (message withheld: it may quote data)')
    """
    import traceback

    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    parts = []
    for e in reversed(chain):
        frames = "".join(traceback.format_tb(e.__traceback__))
        parts.append(
            f"Traceback (most recent call last):\n{frames}"
            f"{type(e).__qualname__} (message withheld: it may quote data)"
        )
    return "\n\nThe above led to:\n\n".join(parts)
