"""What may leave the sandbox: job states, review and release rules.

Only a released product crosses the boundary (art. 37, 63). A job's output
waits in quarantine until a steward of another organisation approves it.
"""

from __future__ import annotations

from enum import StrEnum

from policies.catalog import Grade
from policies.errors import Conflict, NotFound, PolicyViolation
from policies.roles import Role


class JobStatus(StrEnum):
    """Life of a job."""

    QUEUED = "queued"
    RUNNING = "running"
    AWAITING_REVIEW = "awaiting_review"
    RELEASED = "released"
    REJECTED = "rejected"
    FAILED = "failed"

    def is_terminal(self) -> bool:
        """Whether the job will not change state again."""
        return self in _TERMINAL


_TERMINAL = frozenset({JobStatus.RELEASED, JobStatus.REJECTED, JobStatus.FAILED})

_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.FAILED}),
    JobStatus.RUNNING: frozenset({JobStatus.AWAITING_REVIEW, JobStatus.FAILED}),
    JobStatus.AWAITING_REVIEW: frozenset({JobStatus.RELEASED, JobStatus.REJECTED}),
    JobStatus.RELEASED: frozenset(),
    JobStatus.REJECTED: frozenset(),
    JobStatus.FAILED: frozenset(),
}


def check_can_transition(current: JobStatus, target: JobStatus) -> None:
    """Raise unless a job may move from ``current`` to ``target`` (same state: no-op).

    Raises:
        Conflict: The transition is not allowed.

    >>> check_can_transition(JobStatus.RUNNING, JobStatus.AWAITING_REVIEW)
    >>> can_transition(JobStatus.RELEASED, JobStatus.REJECTED)
    False
    """
    if current != target and target not in _TRANSITIONS[current]:
        raise Conflict(f"a {current.value} job cannot become {target.value}")


def can_transition(current: JobStatus, target: JobStatus) -> bool:
    """Whether the transition is allowed; see :func:`check_can_transition`."""
    return current == target or target in _TRANSITIONS[current]


class Decision(StrEnum):
    """A steward's review decision."""

    APPROVE = "approve"
    REJECT = "reject"


#: A rejection or approval reason shorter than this tells the operator nothing.
MIN_REASON_LENGTH = 5


def check_can_review(
    role: Role,
    reviewer_org: int,
    job_org: int,
    status: JobStatus,
    reason: str,
) -> None:
    """Raise unless this reviewer may decide on this job now.

    Raises:
        PolicyViolation: Not a steward, or a steward of the job's own
            organisation (no one reviews their own outputs).
        Conflict: The job is not awaiting review.
        InvalidRequest: No reason given.

    >>> check_can_review(Role.STEWARD, 1, 2, JobStatus.AWAITING_REVIEW, "checked")
    >>> can_review(Role.STEWARD, 2, 2, JobStatus.AWAITING_REVIEW, "checked")
    False
    """
    from policies.errors import InvalidRequest

    if role is not Role.STEWARD:
        raise PolicyViolation("only a data bureau steward reviews outputs (art. 63)")
    if reviewer_org == job_org:
        raise PolicyViolation("a reviewer cannot review a job of their own organisation")
    if status is not JobStatus.AWAITING_REVIEW:
        raise Conflict(f"the job is {status.value}, not awaiting review")
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise InvalidRequest(f"a review needs a reason of at least {MIN_REASON_LENGTH} characters")


def can_review(role: Role, reviewer_org: int, job_org: int, status: JobStatus, reason: str) -> bool:
    """Whether the review may happen; see :func:`check_can_review`."""
    from policies.errors import SandboxError

    try:
        check_can_review(role, reviewer_org, job_org, status, reason)
    except SandboxError:
        return False
    return True


def check_can_see_job(role: Role, caller_org: int, job_org: int) -> None:
    """Raise unless the caller may know the job exists.

    Operators see their own organisation's jobs only; another org's job is
    reported as not found, so its existence does not leak.

    Raises:
        NotFound: An operator asked for another organisation's job.
    """
    if role is Role.OPERATOR and caller_org != job_org:
        raise NotFound("no such job")


def check_can_download(
    role: Role, caller_org: int, job_org: int, status: JobStatus, grant_active: bool = True
) -> None:
    """Raise unless the caller may download the job's output.

    Stewards read quarantined outputs to review them; everyone else gets
    only released products, and only the grantee's organisation gets them.

    Raises:
        NotFound: An operator asked for another organisation's job.
        PolicyViolation: The output is not released, the caller is not of the
            grantee org, or the grant is suspended, terminated or expired (art. 76).

    >>> check_can_download(Role.OPERATOR, 1, 1, JobStatus.RELEASED)
    >>> can_download(Role.OPERATOR, 1, 1, JobStatus.AWAITING_REVIEW)
    False
    """
    check_can_see_job(role, caller_org, job_org)
    if role is Role.STEWARD:
        if status in (JobStatus.AWAITING_REVIEW, JobStatus.RELEASED):
            return
        raise PolicyViolation(f"the job is {status.value}: it has no output to read")
    if status is not JobStatus.RELEASED:
        raise PolicyViolation(
            "this output has not been approved for release; only released products "
            "leave the sandbox (art. 37)"
        )
    if role is not Role.OPERATOR or caller_org != job_org:
        raise PolicyViolation("only the grantee organisation downloads a released product")
    if not grant_active:
        # art. 76: a suspended or terminated operator receives no more products
        raise PolicyViolation("the grant is no longer active (art. 76); contact the data bureau")


def can_download(
    role: Role, caller_org: int, job_org: int, status: JobStatus, grant_active: bool = True
) -> bool:
    """Whether the caller may download; see :func:`check_can_download`."""
    try:
        check_can_download(role, caller_org, job_org, status, grant_active)
    except (NotFound, PolicyViolation):
        return False
    return True


# Minimum noisy count for a released cell, by grade (art. 62: more important
# data, stricter output rules).
_MIN_CELL: dict[Grade, int] = {Grade.GENERAL: 10, Grade.IMPORTANT: 20}


def min_cell_size(grade: Grade) -> int:
    """The smallest noisy count a released cell may show for data of ``grade``.

    Raises:
        PolicyViolation: ``core`` data gets no row-level or small-area output.

    >>> min_cell_size(Grade.GENERAL)
    10
    """
    if grade is Grade.CORE:
        raise PolicyViolation(
            "core data (核心数据) admits no row-level or small-area output (art. 62)"
        )
    return _MIN_CELL[grade]
