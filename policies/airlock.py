"""What may leave the sandbox: job states, review and release rules.

Only a released product crosses the boundary (art. 37, 63). A job's output
waits in quarantine until a steward of another organisation approves it;
outputs of ``important`` data wait for two different stewards (art. 62), as
OpenSAFELY's airlock asks two output checkers for every release. A failing
automatic check blocks approval unless the steward overrides it with a
written reason, which is audited. One steward's rejection, or return for
changes (OpenSAFELY's "return to researcher"), closes the job unreleased;
the operator reads the reason.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from enum import StrEnum

from policies.catalog import Grade, Product, check_grade_allows
from policies.errors import Conflict, NotFound, PolicyViolation
from policies.roles import Role


class JobStatus(StrEnum):
    """Life of a job."""

    QUEUED = "queued"
    RUNNING = "running"
    AWAITING_REVIEW = "awaiting_review"
    RELEASED = "released"
    REJECTED = "rejected"
    #: A steward returned the output for changes (OpenSAFELY's "return to researcher"):
    #: closed without release; the operator reads the comment and may submit again.
    RETURNED = "returned"
    FAILED = "failed"

    def is_terminal(self) -> bool:
        """Whether the job will not change state again."""
        return self in _TERMINAL


_TERMINAL = frozenset(
    {JobStatus.RELEASED, JobStatus.REJECTED, JobStatus.RETURNED, JobStatus.FAILED}
)

_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.FAILED}),
    # running -> queued: a lost lease (a restart, a killed worker) hands the job back
    JobStatus.RUNNING: frozenset({JobStatus.AWAITING_REVIEW, JobStatus.FAILED, JobStatus.QUEUED}),
    JobStatus.AWAITING_REVIEW: frozenset(
        {JobStatus.RELEASED, JobStatus.REJECTED, JobStatus.RETURNED}
    ),
    JobStatus.RELEASED: frozenset(),
    JobStatus.REJECTED: frozenset(),
    JobStatus.RETURNED: frozenset(),
    JobStatus.FAILED: frozenset(),
}


#: The states a job row is created in: queued, or released when it re-issues an answer
#: already released under another of the firm's grants (no new run, no new noise).
_INITIAL = frozenset({JobStatus.QUEUED, JobStatus.RELEASED})


def check_can_create(target: JobStatus) -> None:
    """Raise unless a new job may start its life in ``target``.

    Raises:
        Conflict: Not a state a job is created in.

    >>> check_can_create(JobStatus.QUEUED)
    >>> can_create(JobStatus.RUNNING)
    False
    """
    if target not in _INITIAL:
        raise Conflict(f"a new job cannot be {target.value}")


def can_create(target: JobStatus) -> bool:
    """Whether a job may be created in ``target``; see :func:`check_can_create`."""
    return target in _INITIAL


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
    #: Return for changes with a comment: the job closes without release.
    RETURN = "return"


#: The shortest reason a steward writes (a review, an override, a withdrawal, a grant's
#: change): two characters, so that a reason in Chinese such as "同意" passes; a single
#: character tells the operator nothing.
MIN_REASON_LENGTH = 2

# art. 62 asks more eyes for what leaves, not for what stays: one steward's rejection or
# return closes the job (OpenSAFELY's airlock: any output checker may return a request).
_CLOSES_ALONE: dict[Decision, JobStatus] = {
    Decision.REJECT: JobStatus.REJECTED,
    Decision.RETURN: JobStatus.RETURNED,
}


def closing_state(decision: Decision) -> JobStatus | None:
    """The state one steward's ``decision`` closes the job in, or None for an approval
    (the output is released once enough stewards approved: :func:`release_due`).

    >>> closing_state(Decision.RETURN), closing_state(Decision.APPROVE)
    (<JobStatus.RETURNED: 'returned'>, None)
    """
    return _CLOSES_ALONE.get(decision)


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

    >>> check_can_review(Role.STEWARD, 1, 2, JobStatus.AWAITING_REVIEW, "同意")
    >>> can_review(Role.STEWARD, 2, 2, JobStatus.AWAITING_REVIEW, "checked")
    False
    >>> can_review(Role.STEWARD, 1, 2, JobStatus.AWAITING_REVIEW, "同")
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
        raise InvalidRequest(
            f"a review needs a reason of at least {MIN_REASON_LENGTH} characters "
            "(the operator reads it)"
        )


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


def check_can_export(
    role: Role, caller_org: int, job_org: int, status: JobStatus, grant_active: bool = True
) -> None:
    """Raise unless the caller may export the job's product for a data trading venue.

    art. 40: a product offered on a trading venue must have left the sandbox lawfully,
    so only a released product is exported, and only by whom may download it: the
    grantee organisation's operators while the grant is in force, or a steward
    (whose bureau owns the inputs: the service checks that, as for a download).

    Raises:
        NotFound: An operator asked for another organisation's job.
        PolicyViolation: The product is not released, or the caller may not download it.

    >>> check_can_export(Role.STEWARD, 1, 2, JobStatus.RELEASED)
    >>> can_export(Role.STEWARD, 1, 2, JobStatus.AWAITING_REVIEW)
    False
    >>> can_export(Role.AUDITOR, 1, 1, JobStatus.RELEASED)
    False
    """
    check_can_see_job(role, caller_org, job_org)
    if status is not JobStatus.RELEASED:
        raise PolicyViolation(
            f"the job is {status.value}: only a released product is exported for a data "
            "trading venue (art. 40)"
        )
    check_can_download(role, caller_org, job_org, status, grant_active)


def can_export(
    role: Role, caller_org: int, job_org: int, status: JobStatus, grant_active: bool = True
) -> bool:
    """Whether the caller may export; see :func:`check_can_export`."""
    try:
        check_can_export(role, caller_org, job_org, status, grant_active)
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
    check_grade_allows(grade, Product.STATISTICS)
    return _MIN_CELL[grade]


def min_cell_for(grades: Iterable[Grade], grant_min_cell: int | None = None) -> int:
    """The small-cell threshold of a job on data of ``grades`` under a grant.

    The strictest grade's default, raised to the grant's own threshold (a grant
    may only make it stricter, never looser).

    Raises:
        PolicyViolation: One of the grades is ``core``.

    >>> min_cell_for([Grade.GENERAL, Grade.IMPORTANT]), min_cell_for([Grade.GENERAL], 25)
    (20, 25)
    >>> min_cell_for([Grade.IMPORTANT], 5)
    20
    """
    return max(max(min_cell_size(g) for g in grades), grant_min_cell or 0)


# art. 62: more important data, more eyes on what leaves. Two stewards for
# important data (OpenSAFELY asks two output checkers for every release).
_APPROVALS: dict[Grade, int] = {Grade.GENERAL: 1, Grade.IMPORTANT: 2}


def approvals_required(grade: Grade) -> int:
    """How many different stewards must approve an output of data of ``grade``.

    Raises:
        PolicyViolation: ``core`` data is never released from the sandbox.

    >>> approvals_required(Grade.GENERAL), approvals_required(Grade.IMPORTANT)
    (1, 2)
    """
    if grade is Grade.CORE:
        raise PolicyViolation("outputs of core data (核心数据) are not released (art. 62)")
    return _APPROVALS[grade]


def approvals_required_for(grades: Iterable[Grade]) -> int:
    """Approvals an output of several datasets needs: the strictest of their grades.

    Raises:
        PolicyViolation: One of them is ``core`` data.

    >>> approvals_required_for([Grade.GENERAL, Grade.IMPORTANT])
    2
    """
    return max((approvals_required(g) for g in grades), default=1)


def check_can_approve(failing: Sequence[str], override_reason: str) -> tuple[str, ...]:
    """Raise unless an approval may go ahead despite the failing automatic checks.

    A failing check blocks approval unless the steward overrides it with a
    written reason (which the caller audits).

    Args:
        failing: Names of the automatic checks that fail.
        override_reason: The steward's written reason for overriding them.

    Returns:
        The names of the checks the approval overrides (empty when none fail).

    Raises:
        Conflict: Checks fail and no override reason of at least
            :data:`MIN_REASON_LENGTH` characters was given.

    >>> check_can_approve([], "")
    ()
    >>> check_can_approve(["small_cells"], "cells are public counts")
    ('small_cells',)
    >>> can_approve(["pii_scan"], "")
    False
    """
    if not failing:
        return ()
    if len(override_reason.strip()) < MIN_REASON_LENGTH:
        raise Conflict(
            f"automatic checks fail ({', '.join(failing)}); the output cannot be approved as "
            "it is: reject it or return it for changes (the operator can resubmit a coarser "
            "query), or override the "
            f"checks with a written override reason of at least {MIN_REASON_LENGTH} "
            "characters (audited)"
        )
    return tuple(failing)


def can_approve(failing: Sequence[str], override_reason: str) -> bool:
    """Whether the approval may go ahead; see :func:`check_can_approve`."""
    try:
        check_can_approve(failing, override_reason)
    except Conflict:
        return False
    return True


def check_can_add_approval(reviewer_id: int, approvers: Collection[int]) -> None:
    """Raise unless this steward's approval counts towards the approvals required.

    Args:
        reviewer_id: The steward approving now.
        approvers: Stewards who approved the same output before.

    Raises:
        Conflict: The steward approved this output already; another must (art. 62).

    >>> check_can_add_approval(7, [3])
    >>> can_add_approval(3, [3])
    False
    """
    if reviewer_id in approvers:
        raise Conflict(
            "you approved this output already; a second, different steward must approve "
            "it (art. 62: important data)"
        )


def can_add_approval(reviewer_id: int, approvers: Collection[int]) -> bool:
    """Whether the approval counts; see :func:`check_can_add_approval`."""
    try:
        check_can_add_approval(reviewer_id, approvers)
    except Conflict:
        return False
    return True


def release_due(required: int, approvers: Collection[int]) -> bool:
    """Whether ``approvers`` (distinct steward ids, this approval included) release the output.

    >>> release_due(2, {3}), release_due(2, {3, 7})
    (False, True)
    """
    return len(set(approvers)) >= required
