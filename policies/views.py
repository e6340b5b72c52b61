"""What each role sees of a job: its status, its run times, its run report, its manifest.

Operator code could encode data in how long it runs or in why it fails (a
channel that would bypass review, art. 37), and a run report holds exact facts
of the data that are no differentially private statistics (art. 63): these
rules say who sees what, by role and by the kind's ``untimed`` flag, never by
a kind's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from policies.airlock import JobStatus
from policies.errors import PolicyViolation
from policies.roles import Role


class ReportAccess(StrEnum):
    """How much of a job's run report a caller reads."""

    #: Nothing (operators, admins, stewards of another bureau: the report holds exact,
    #: non-private facts of the data, art. 63).
    NONE = "none"
    #: Without what the job's code printed and, for operator code, without the names
    #: it chose (auditors; see :func:`sandbox.airlock.review.for_non_reviewers`).
    REDACTED = "redacted"
    #: All of it (the stewards who review the output).
    FULL = "full"


_PENDING = frozenset({JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.AWAITING_REVIEW})


@dataclass(frozen=True, slots=True)
class JobView:
    """What one caller sees of one job: its progress, its run times, its report.

    Attributes:
        progress: Sees ``queued`` and ``running`` as they are (else: awaiting review).
        timing: Sees when the job started and finished.
        report: How much of the run report.
    """

    progress: bool
    timing: bool
    report: ReportAccess

    def status(self, status: JobStatus) -> JobStatus:
        """The status this caller is shown for a job in ``status``.

        >>> job_view(Role.OPERATOR, untimed=True).status(JobStatus.RUNNING)
        <JobStatus.AWAITING_REVIEW: 'awaiting_review'>
        >>> job_view(Role.OPERATOR, untimed=False).status(JobStatus.RUNNING)
        <JobStatus.RUNNING: 'running'>
        """
        if not self.progress and status in _PENDING:
            return JobStatus.AWAITING_REVIEW
        return status


def job_view(role: Role, *, untimed: bool, reviewer: bool = False) -> JobView:
    """The view ``role`` gets of a job (art. 37: nothing leaves unreviewed; art. 63).

    An operator sees an untimed job (operator code, which could encode data in how
    long it runs: a timing channel that would bypass review) as awaiting review from
    the moment it is queued, without run times, and reads no run report. Everyone
    else sees progress and times; the run report goes in full to the stewards
    reviewing the output (``reviewer``: of the bureau owning every input), redacted
    to auditors, and not at all to admins and other bureaus' stewards.

    >>> job_view(Role.AUDITOR, untimed=True).report
    <ReportAccess.REDACTED: 'redacted'>
    >>> job_view(Role.STEWARD, untimed=True, reviewer=True).report
    <ReportAccess.FULL: 'full'>
    """
    if role is Role.OPERATOR:
        return JobView(progress=not untimed, timing=not untimed, report=ReportAccess.NONE)
    if role is Role.STEWARD:
        return JobView(True, True, ReportAccess.FULL if reviewer else ReportAccess.NONE)
    if role is Role.AUDITOR:
        return JobView(True, True, ReportAccess.REDACTED)
    return JobView(True, True, ReportAccess.NONE)


def operator_sees_failure(*, untimed: bool) -> bool:
    """Whether an operator may see that a started job failed (art. 37).

    Operator code can make its run fail on purpose (run past a limit, crash the
    wrapper with a hostile output) only when the data holds some value: a
    failure the operator saw would carry that bit out unreviewed. Such a run (an
    untimed kind's) goes to review with a failing check instead, like any other output.

    >>> operator_sees_failure(untimed=True), operator_sees_failure(untimed=False)
    (False, True)
    """
    return not untimed


#: The states a steward's decision closed a job in: the job shows that decision.
_DECIDED = frozenset({JobStatus.RELEASED, JobStatus.REJECTED, JobStatus.RETURNED})


def shows_decision(status: JobStatus) -> bool:
    """Whether a job in ``status`` shows the review decision that closed it.

    Everyone who may see the job reads the decision (its kind, the steward's reason, the
    deciding bureau and time; never the steward's name): the operator learns why its
    output was released, rejected or returned. An approval still waiting for a second
    steward (important data) is no decision yet and is not shown: it would tell the
    operator that an untimed job's run has ended (art. 37).

    >>> shows_decision(JobStatus.RETURNED), shows_decision(JobStatus.AWAITING_REVIEW)
    (True, False)
    """
    return status in _DECIDED


def check_can_read_manifest(role: Role, status: JobStatus) -> None:
    """Raise unless the caller, who may see the job, may read its release manifest.

    An operator reads the manifest of a released product only; stewards and
    auditors read any release's (a job without one has none to read).

    Raises:
        PolicyViolation: An operator asked for the manifest of a job not released.

    >>> check_can_read_manifest(Role.OPERATOR, JobStatus.RELEASED)
    >>> can_read_manifest(Role.OPERATOR, JobStatus.AWAITING_REVIEW)
    False
    """
    if role is Role.OPERATOR and status is not JobStatus.RELEASED:
        raise PolicyViolation("only released products have a manifest")


def can_read_manifest(role: Role, status: JobStatus) -> bool:
    """Whether the caller reads the manifest; see :func:`check_can_read_manifest`."""
    return role is not Role.OPERATOR or status is JobStatus.RELEASED
