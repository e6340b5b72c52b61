"""The job view each role gets, the grade × product table, grants in force, small cells."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from policies.airlock import JobStatus, min_cell_for, min_cell_size
from policies.catalog import Grade, Product, check_grade_allows, grade_allows
from policies.errors import PolicyViolation
from policies.grants import GrantState, check_can_submit, check_in_force, in_force
from policies.roles import Role
from policies.views import (
    ReportAccess,
    can_read_manifest,
    check_can_read_manifest,
    job_view,
    operator_sees_failure,
    shows_decision,
)

NOW = datetime(2026, 1, 1)
PENDING = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.AWAITING_REVIEW)


@pytest.mark.parametrize("status", list(JobStatus))
def test_job_view_when_operator_and_untimed_then_pending_reads_awaiting_review(
    status: JobStatus,
) -> None:
    view = job_view(Role.OPERATOR, untimed=True)
    expected = JobStatus.AWAITING_REVIEW if status in PENDING else status
    assert view.status(status) is expected
    assert not view.timing and view.report is ReportAccess.NONE
    assert job_view(Role.OPERATOR, untimed=False).status(status) is status


@pytest.mark.parametrize(
    ("role", "reviewer", "report"),
    [
        (Role.OPERATOR, False, ReportAccess.NONE),
        (Role.ADMIN, False, ReportAccess.NONE),
        (Role.STEWARD, False, ReportAccess.NONE),  # another bureau's steward: no exact facts
        (Role.STEWARD, True, ReportAccess.FULL),
        (Role.AUDITOR, False, ReportAccess.REDACTED),
    ],
)
def test_job_view_when_role_then_report_per_table(
    role: Role, reviewer: bool, report: ReportAccess
) -> None:
    view = job_view(role, untimed=True, reviewer=reviewer)
    assert view.report is report
    if role is not Role.OPERATOR:  # everyone else sees progress and times, whatever the kind
        assert view.timing and view.status(JobStatus.RUNNING) is JobStatus.RUNNING


def test_operator_sees_failure_when_untimed_then_not() -> None:
    assert operator_sees_failure(untimed=False) and not operator_sees_failure(untimed=True)


def test_manifest_when_not_released_then_only_non_operators_may_ask() -> None:
    with pytest.raises(PolicyViolation, match="only released products have a manifest"):
        check_can_read_manifest(Role.OPERATOR, JobStatus.AWAITING_REVIEW)
    assert can_read_manifest(Role.OPERATOR, JobStatus.RELEASED)
    assert can_read_manifest(Role.STEWARD, JobStatus.AWAITING_REVIEW)


@pytest.mark.parametrize(
    ("status", "shown"),
    [
        (JobStatus.QUEUED, False),  # nothing decided yet
        (JobStatus.RUNNING, False),
        (JobStatus.AWAITING_REVIEW, False),  # a first approval of two is no decision yet
        (JobStatus.RELEASED, True),  # approved: why, by which bureau, when
        (JobStatus.REJECTED, True),  # the operator reads why it was refused
        (JobStatus.RETURNED, True),  # and what to change
        (JobStatus.FAILED, False),  # no steward decided on a failed run
    ],
)
def test_shows_decision_when_status_then_only_decided_jobs(status: JobStatus, shown: bool):
    assert shows_decision(status) is shown


@pytest.mark.parametrize("product", list(Product))
@pytest.mark.parametrize("grade", list(Grade))
def test_grade_allows_when_core_then_no_product_else_every_one(
    grade: Grade, product: Product
) -> None:
    assert grade_allows(grade, product) is (grade is not Grade.CORE)
    if grade is Grade.CORE:
        with pytest.raises(PolicyViolation, match=r"art\. 62"):
            check_grade_allows(grade, product)
    else:
        check_grade_allows(grade, product)


@pytest.mark.parametrize(
    ("product", "needle"),
    [
        (Product.STATISTICS, "admits no row-level or small-area output"),
        (Product.RECORDS, "cannot be extracted row by row"),
        (Product.MODEL, "admits no model training"),
        (Product.PROGRAM_OUTPUT, "operator code may not run on core data"),
    ],
)
def test_grade_allows_when_core_then_the_message_operators_know(product: Product, needle: str):
    with pytest.raises(PolicyViolation, match=needle):
        check_grade_allows(Grade.CORE, product)


@pytest.mark.parametrize(
    ("state", "expires", "ok"),
    [
        (GrantState.ACTIVE, NOW + timedelta(seconds=1), True),
        (GrantState.ACTIVE, NOW, False),  # expires at this instant: no longer in force
        (GrantState.SUSPENDED, NOW + timedelta(days=1), False),
        (GrantState.TERMINATED, NOW + timedelta(days=1), False),
    ],
)
def test_in_force_when_state_and_expiry_then_one_rule(
    state: GrantState, expires: datetime, ok: bool
) -> None:
    assert in_force(state, expires, NOW) is ok
    if ok:
        check_in_force(state, expires, NOW)
        check_can_submit(state, expires, NOW, "k", ["k"], ["d"], ["d"])
    else:
        with pytest.raises(PolicyViolation):
            check_in_force(state, expires, NOW)
        with pytest.raises(PolicyViolation):
            check_can_submit(state, expires, NOW, "k", ["k"], ["d"], ["d"])


def test_min_cell_for_when_grades_and_grant_then_the_strictest() -> None:
    assert min_cell_for([Grade.GENERAL]) == min_cell_size(Grade.GENERAL)
    assert min_cell_for([Grade.GENERAL, Grade.IMPORTANT]) == min_cell_size(Grade.IMPORTANT)
    assert min_cell_for([Grade.GENERAL], 50) == 50
    assert min_cell_for([Grade.IMPORTANT], 1) == min_cell_size(Grade.IMPORTANT)  # never looser
    with pytest.raises(PolicyViolation, match=r"art\. 62"):
        min_cell_for([Grade.GENERAL, Grade.CORE], 50)
