"""Airlock approval rules: approvals per grade, overrides of failing checks, distinct stewards."""

from __future__ import annotations

import doctest

import pytest

from policies import airlock
from policies.airlock import Decision, JobStatus
from policies.catalog import Grade
from policies.errors import Conflict, InvalidRequest, PolicyViolation
from policies.roles import Role


@pytest.mark.parametrize(
    ("grade", "expected"),
    [
        (Grade.GENERAL, 1),  # one steward of another organisation
        (Grade.IMPORTANT, 2),  # art. 62: two different stewards
    ],
)
def test_approvals_required_when_grade_then_per_table(grade: Grade, expected: int) -> None:
    assert airlock.approvals_required(grade) == expected


def test_approvals_required_when_core_then_policy_violation_naming_art_62() -> None:
    with pytest.raises(PolicyViolation, match=r"art\. 62"):
        airlock.approvals_required(Grade.CORE)


@pytest.mark.parametrize(
    ("grades", "expected"),
    [
        ([Grade.GENERAL], 1),  # one dataset
        ([Grade.GENERAL, Grade.IMPORTANT], 2),  # the strictest grade decides
        ([Grade.IMPORTANT, Grade.IMPORTANT], 2),  # not one per dataset
        ([], 1),  # no dataset named (never for a real job): at least one approval
    ],
)
def test_approvals_required_for_when_several_datasets_then_strictest(
    grades: list[Grade], expected: int
) -> None:
    assert airlock.approvals_required_for(grades) == expected


def test_approvals_required_for_when_one_is_core_then_refused() -> None:
    with pytest.raises(PolicyViolation):
        airlock.approvals_required_for([Grade.GENERAL, Grade.CORE])


@pytest.mark.parametrize(
    ("failing", "override", "result"),
    [
        ([], "", ()),  # nothing fails: no override needed
        ([], "irrelevant reason", ()),  # nor recorded when given
        (["small_cells"], "", None),  # a failing check blocks
        (["small_cells"], "   同  ", None),  # a padded single character is no reason
        (["small_cells"], "同意", ("small_cells",)),  # 2 characters: a reason (in Chinese)
        (["small_cells"], " ok ", ("small_cells",)),  # 2 characters padded: a reason
        (["pii_scan", "size"], "reviewed by hand", ("pii_scan", "size")),  # every one recorded
    ],
)
def test_check_can_approve_when_checks_fail_then_override_reason_needed(
    failing: list[str], override: str, result: tuple[str, ...] | None
) -> None:
    if result is None:
        with pytest.raises(Conflict) as info:
            airlock.check_can_approve(failing, override)
        assert "override" in str(info.value)
        assert all(name in str(info.value) for name in failing)
    else:
        assert airlock.check_can_approve(failing, override) == result
    assert airlock.can_approve(failing, override) is (result is not None)


@pytest.mark.parametrize(
    ("reason", "ok"),
    [
        ("同意", True),  # two Chinese characters: a reason the operator can read
        ("  同意  ", True),  # padding does not count, the characters do
        ("ok", True),  # two Latin characters likewise
        ("同", False),  # one character tells the operator nothing
        ("  同 ", False),  # nor does one character padded
        ("", False),  # no reason
    ],
)
def test_check_can_review_when_reason_length_then_two_characters_needed(
    reason: str, ok: bool
) -> None:
    args = (Role.STEWARD, 1, 2, JobStatus.AWAITING_REVIEW, reason)
    if ok:
        airlock.check_can_review(*args)
    else:
        with pytest.raises(InvalidRequest, match="at least 2 characters"):
            airlock.check_can_review(*args)
    assert airlock.can_review(*args) is ok


@pytest.mark.parametrize(
    ("decision", "closes"),
    [
        (Decision.REJECT, JobStatus.REJECTED),  # one steward's rejection closes the job
        (Decision.RETURN, JobStatus.RETURNED),  # so does one steward's return for changes
        (Decision.APPROVE, None),  # an approval releases once enough stewards approved
    ],
)
def test_closing_state_when_decision_then_reject_and_return_close_alone(
    decision: Decision, closes: JobStatus | None
) -> None:
    assert airlock.closing_state(decision) is closes
    if closes is not None:  # a state an awaiting output may move to, and a final one
        assert airlock.can_transition(JobStatus.AWAITING_REVIEW, closes)
        assert closes.is_terminal()


@pytest.mark.parametrize(
    ("reviewer", "approvers", "ok"),
    [
        (7, [], True),  # the first approval
        (7, [3], True),  # a second, different steward
        (3, [3], False),  # the same steward twice does not count as two
        (3, [7, 3], False),
    ],
)
def test_check_can_add_approval_when_steward_approved_before_then_conflict(
    reviewer: int, approvers: list[int], ok: bool
) -> None:
    if ok:
        airlock.check_can_add_approval(reviewer, approvers)
    else:
        with pytest.raises(Conflict, match=r"art\. 62"):
            airlock.check_can_add_approval(reviewer, approvers)
    assert airlock.can_add_approval(reviewer, approvers) is ok


@pytest.mark.parametrize(
    ("required", "approvers", "due"),
    [
        (1, {3}, True),  # general data: one approval releases
        (2, {3}, False),  # important data: one is not enough
        (2, {3, 7}, True),  # two different stewards
        (2, [3, 3], False),  # a repeated id is one steward
    ],
)
def test_release_due_when_approvals_counted_then_distinct_stewards(
    required: int, approvers: set[int] | list[int], due: bool
) -> None:
    assert airlock.release_due(required, approvers) is due


def test_policies_airlock_when_doctests_run_then_they_pass() -> None:
    result = doctest.testmod(airlock)
    assert result.attempted > 0
    assert result.failed == 0
