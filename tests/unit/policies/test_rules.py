"""Every rule in :mod:`policies`, a table row per branch; check_* and can_* must agree."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from policies import airlock, catalog, grants, roles
from policies.airlock import JobStatus
from policies.budget import PrivacyBudget
from policies.catalog import ColumnTag, ColumnUse, Grade, OpenAttribute
from policies.errors import (
    BudgetExhausted,
    Conflict,
    InvalidJobSpec,
    InvalidRequest,
    NotFound,
    PolicyViolation,
    SandboxError,
)
from policies.grants import GrantState
from policies.roles import OrgKind, Role

NOW = datetime(2026, 1, 1, 12, 0)
LATER = NOW + timedelta(days=30)


def _assert_rule(
    check: Callable[..., object],
    can: Callable[..., bool] | None,
    args: tuple[Any, ...],
    error: type[Exception] | None,
    article: str | None,
) -> None:
    """``check(*args)`` raises exactly ``error`` (naming ``article``) or nothing; ``can`` agrees."""
    if error is None:
        check(*args)
    else:
        with pytest.raises(error) as info:
            check(*args)
        assert type(info.value) is error
        if article is not None:
            assert article in str(info.value)
    if can is not None:
        assert can(*args) is (error is None)


# --- catalog ------------------------------------------------------------------------------

T, U = ColumnTag, ColumnUse


@pytest.mark.parametrize(
    ("tag", "use", "allowed"),
    [
        (T.DIRECT_IDENTIFIER, U.FILTER, False),  # a filter on an ID singles out one person
        (T.DIRECT_IDENTIFIER, U.GROUP_BY, False),  # grouping by ID releases per-person cells
        (T.DIRECT_IDENTIFIER, U.MEASURE, False),  # an ID is never aggregated either
        (T.QUASI_IDENTIFIER, U.FILTER, True),  # age, district: filter is fine
        (T.QUASI_IDENTIFIER, U.GROUP_BY, True),  # and grouping too
        (T.QUASI_IDENTIFIER, U.MEASURE, False),  # but not a measure
        (T.SENSITIVE, U.FILTER, True),  # income may restrict rows
        (T.SENSITIVE, U.GROUP_BY, False),  # but never labels a released cell
        (T.SENSITIVE, U.MEASURE, True),  # and may be summed with noise
        (T.PLAIN, U.FILTER, True),  # plain columns: any use
        (T.PLAIN, U.GROUP_BY, True),
        (T.PLAIN, U.MEASURE, True),
    ],
)
def test_check_column_use_when_tag_and_use_then_allowed_per_art_37(
    tag: ColumnTag, use: ColumnUse, allowed: bool
) -> None:
    _assert_rule(
        lambda t, u: catalog.check_column_use("col_x", t, u),
        catalog.can_use_column,
        (tag, use),
        None if allowed else InvalidJobSpec,
        "art. 37",
    )


@pytest.mark.parametrize(
    ("rows", "null_units", "allowed"),
    [
        (1000, 0, True),  # every row names a person
        (1000, 500, True),  # exactly half without a unit: still allowed
        (1000, 501, False),  # mostly without a unit: the unit identifies no one
        (1000, 1000, False),  # no unit at all
        (1, 1, False),  # one row, no unit
    ],
)
def test_check_privacy_unit_coverage_when_null_units_then_refused_past_half_per_art_37(
    rows: int, null_units: int, allowed: bool
) -> None:
    assert catalog.MAX_NULL_UNIT_SHARE == 0.5
    _assert_rule(
        lambda r, n: catalog.check_privacy_unit_coverage("resident_id", r, n),
        catalog.can_cover_privacy_units,
        (rows, null_units),
        None if allowed else InvalidRequest,
        "art. 37",
    )


# --- roles --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actual", "allowed", "ok"),
    [
        (Role.STEWARD, (Role.STEWARD,), True),  # the one role asked for
        (Role.ADMIN, (Role.STEWARD, Role.ADMIN), True),  # one of several
        (Role.OPERATOR, (Role.STEWARD,), False),  # an operator cannot act as steward
        (Role.AUDITOR, (Role.STEWARD, Role.ADMIN), False),  # none of several
        (Role.ADMIN, (), False),  # nothing allowed: nobody passes
    ],
)
def test_check_role_when_role_given_then_allowed_only_if_listed(
    actual: Role, allowed: tuple[Role, ...], ok: bool
) -> None:
    _assert_rule(
        lambda a: roles.check_role(a, *allowed),
        lambda a: roles.has_role(a, *allowed),
        (actual,),
        None if ok else PolicyViolation,
        "art. 63",
    )


@pytest.mark.parametrize(
    ("role", "org_kind", "ok"),
    [
        (Role.ADMIN, OrgKind.PLATFORM, True),  # admins run the platform
        (Role.ADMIN, OrgKind.BUREAU, False),  # not the bureau
        (Role.ADMIN, OrgKind.OPERATOR, False),  # nor a firm
        (Role.STEWARD, OrgKind.BUREAU, True),  # stewards are the bureau
        (Role.STEWARD, OrgKind.OPERATOR, False),  # a firm's steward would review its own jobs
        (Role.STEWARD, OrgKind.PLATFORM, False),
        (Role.OPERATOR, OrgKind.OPERATOR, True),  # analysts belong to authorized firms
        (Role.OPERATOR, OrgKind.BUREAU, False),
        (Role.OPERATOR, OrgKind.PLATFORM, False),
        (Role.AUDITOR, OrgKind.BUREAU, True),  # auditors: bureau ...
        (Role.AUDITOR, OrgKind.PLATFORM, True),  # ... or platform
        (Role.AUDITOR, OrgKind.OPERATOR, False),  # never the audited firm
    ],
)
def test_check_role_fits_org_when_role_and_org_kind_then_allowed_per_table(
    role: Role, org_kind: OrgKind, ok: bool
) -> None:
    _assert_rule(
        roles.check_role_fits_org, None, (role, org_kind), None if ok else PolicyViolation, None
    )


# --- grants -------------------------------------------------------------------------------

G = GrantState


@pytest.mark.parametrize(
    ("current", "target", "ok"),
    [
        (G.ACTIVE, G.ACTIVE, True),  # idempotent
        (G.ACTIVE, G.SUSPENDED, True),  # art. 76: suspend an operator exceeding its scope
        (G.ACTIVE, G.TERMINATED, True),  # or terminate it
        (G.SUSPENDED, G.SUSPENDED, True),  # idempotent
        (G.SUSPENDED, G.ACTIVE, True),  # reinstated once remedied
        (G.SUSPENDED, G.TERMINATED, True),
        (G.TERMINATED, G.TERMINATED, True),  # idempotent even when final
        (G.TERMINATED, G.ACTIVE, False),  # terminated is final
        (G.TERMINATED, G.SUSPENDED, False),
    ],
)
def test_grant_check_can_transition_when_pair_then_allowed_per_art_76(
    current: GrantState, target: GrantState, ok: bool
) -> None:
    _assert_rule(
        grants.check_can_transition,
        grants.can_transition,
        (current, target),
        None if ok else Conflict,
        "art. 76",
    )


def test_grant_state_is_terminal_when_state_then_only_terminated() -> None:
    assert [s for s in GrantState if s.is_terminal()] == [GrantState.TERMINATED]


PURPOSE = "statistics for the annual report"


@pytest.mark.parametrize(
    ("open_attribute", "purpose", "commitment", "ok"),
    [
        (OpenAttribute.UNCONDITIONAL, "", False, True),  # unconditional: no conditions at all
        (OpenAttribute.CLOSED, PURPOSE, True, False),  # closed (不予开放) is never granted
        (OpenAttribute.CONDITIONAL, PURPOSE, True, True),  # purpose and commitment: granted
        (OpenAttribute.CONDITIONAL, "", True, False),  # no purpose
        (OpenAttribute.CONDITIONAL, "科", True, False),  # 1 character: too short
        (OpenAttribute.CONDITIONAL, "科研", True, True),  # 2 characters ("research"): enough
        (OpenAttribute.CONDITIONAL, "   科      ", True, False),  # padding does not count
        (OpenAttribute.CONDITIONAL, PURPOSE, False, False),  # commitment not required
    ],
)
def test_check_can_grant_when_open_attribute_and_conditions_then_per_art_34(
    open_attribute: OpenAttribute, purpose: str, commitment: bool, ok: bool
) -> None:
    _assert_rule(
        grants.check_can_grant,
        grants.can_grant,
        ("residents", open_attribute, purpose, commitment),
        None if ok else PolicyViolation,
        "art. 34",
    )


C, UN = OpenAttribute.CONDITIONAL, OpenAttribute.UNCONDITIONAL


@pytest.mark.parametrize(
    ("attributes", "required", "accepted", "ok"),
    [
        ([C], True, False, False),  # conditional, required, not accepted: refused
        ([UN, C], True, False, False),  # one conditional dataset among others is enough
        ([C], True, True, True),  # accepted by the firm
        ([C], False, True, True),  # accepted before the steward's flag existed (pre-0009)
        ([C], False, False, True),  # not required (a grant from before 0009)
        ([UN], True, False, True),  # unconditional data only: no commitment needed
        ([], True, False, True),  # no dataset
    ],
)
def test_check_commitment_met_when_required_and_accepted_then_per_art_34(
    attributes: list[OpenAttribute], required: bool, accepted: bool, ok: bool
) -> None:
    _assert_rule(
        grants.check_commitment_met,
        grants.commitment_met,
        (7, attributes, required, accepted),
        None if ok else PolicyViolation,
        "art. 34",
    )


def test_check_commitment_met_when_refused_then_message_says_how_to_accept() -> None:
    with pytest.raises(PolicyViolation) as info:
        grants.check_commitment_met(7, [C], True, False)
    message = str(info.value)
    assert "sandbox grants accept-commitment 7" in message
    assert "accept_commitment(7)" in message and "/v1/grants/7/commitment" in message
    assert message.index("承诺") < message.index("commitment")  # Chinese first


@pytest.mark.parametrize(
    ("required", "accepted", "ok"),
    [
        (True, False, True),  # required: the firm accepts
        (True, True, True),  # accepted already: idempotent
        (False, True, True),  # accepted before migration 0009: idempotent
        (False, False, False),  # nothing to accept
    ],
)
def test_check_can_accept_commitment_when_required_then_allowed(
    required: bool, accepted: bool, ok: bool
) -> None:
    _assert_rule(
        grants.check_can_accept_commitment,
        None,
        (required, accepted),
        None if ok else Conflict,
        "art. 34",
    )


def test_commitment_text_when_purpose_then_chinese_first_naming_art_34_and_purpose() -> None:
    text = grants.commitment_text("  统计年度报告  ")
    assert text.index("第三十四条") < text.index("art. 34")
    assert text.count("“统计年度报告”") == 2


@pytest.mark.parametrize(
    ("expires_at", "kinds", "ok"),
    [
        (LATER, ["aggregate"], True),  # future expiry, one kind
        (NOW, ["aggregate"], False),  # expires now: already over
        (NOW - timedelta(days=1), ["aggregate"], False),  # expired yesterday
        (LATER, [], False),  # a grant that allows nothing
        (LATER, iter(["aggregate"]), True),  # any iterable of kinds
    ],
)
def test_check_grant_terms_when_expiry_and_kinds_then_valid_only_if_sensible(
    expires_at: datetime, kinds: Any, ok: bool
) -> None:
    _assert_rule(
        grants.check_grant_terms,
        None,
        (expires_at, NOW, kinds),
        None if ok else InvalidRequest,
        None,
    )


@pytest.mark.parametrize(
    ("state", "expires_at", "kind", "datasets", "ok", "article"),
    [
        (G.ACTIVE, LATER, "aggregate", ["residents"], True, None),  # in scope
        (G.SUSPENDED, LATER, "aggregate", ["residents"], False, "art. 76"),  # suspended
        (G.TERMINATED, LATER, "aggregate", ["residents"], False, "art. 76"),  # terminated
        (G.ACTIVE, NOW, "aggregate", ["residents"], False, None),  # expires at this instant
        (G.ACTIVE, NOW - timedelta(seconds=1), "aggregate", ["residents"], False, None),  # expired
        (G.ACTIVE, LATER, "custom", ["residents"], False, None),  # kind not granted
        (G.ACTIVE, LATER, "aggregate", ["residents", "tax"], False, "art. 76"),  # one outside
        (G.ACTIVE, LATER, "aggregate", [], True, None),  # no dataset: nothing outside
    ],
)
def test_check_can_submit_when_grant_and_job_then_allowed_only_in_scope(
    state: GrantState,
    expires_at: datetime,
    kind: str,
    datasets: list[str],
    ok: bool,
    article: str | None,
) -> None:
    _assert_rule(
        grants.check_can_submit,
        grants.can_submit,
        (state, expires_at, NOW, kind, ["aggregate", "extract"], datasets, ["residents", "firms"]),
        None if ok else PolicyViolation,
        article,
    )


# --- airlock ------------------------------------------------------------------------------

J = JobStatus


@pytest.mark.parametrize(
    ("current", "target", "ok"),
    [
        (J.QUEUED, J.QUEUED, True),  # same state: idempotent no-op
        (J.QUEUED, J.RUNNING, True),  # picked up
        (J.QUEUED, J.FAILED, True),  # failed before starting
        (J.RUNNING, J.AWAITING_REVIEW, True),  # output quarantined
        (J.RUNNING, J.FAILED, True),  # crashed
        (J.AWAITING_REVIEW, J.RELEASED, True),  # approved
        (J.AWAITING_REVIEW, J.REJECTED, True),  # rejected
        (J.RELEASED, J.RELEASED, True),  # idempotent in a terminal state
        (J.QUEUED, J.AWAITING_REVIEW, False),  # cannot skip running
        (J.RUNNING, J.RELEASED, False),  # cannot skip review
        (J.AWAITING_REVIEW, J.RUNNING, False),  # no way back
        (J.AWAITING_REVIEW, J.FAILED, False),  # review ends in a decision
        (J.RELEASED, J.REJECTED, False),  # a release is final
        (J.REJECTED, J.RELEASED, False),  # so is a rejection
        (J.FAILED, J.QUEUED, False),  # a failed job is not retried in place
    ],
)
def test_job_check_can_transition_when_pair_then_allowed_per_table(
    current: JobStatus, target: JobStatus, ok: bool
) -> None:
    _assert_rule(
        airlock.check_can_transition,
        airlock.can_transition,
        (current, target),
        None if ok else Conflict,
        None,
    )


def test_job_status_is_terminal_when_state_then_released_rejected_returned_failed() -> None:
    assert {s for s in JobStatus if s.is_terminal()} == {
        J.RELEASED,
        J.REJECTED,
        J.RETURNED,
        J.FAILED,
    }


@pytest.mark.parametrize(
    ("role", "reviewer_org", "status", "reason", "error", "article"),
    [
        (Role.STEWARD, 1, J.AWAITING_REVIEW, "checked, fine", None, None),  # allowed
        (Role.STEWARD, 1, J.AWAITING_REVIEW, "同意", None, None),  # 2 characters: enough
        (Role.OPERATOR, 1, J.AWAITING_REVIEW, "checked", PolicyViolation, "art. 63"),  # not steward
        (Role.ADMIN, 1, J.AWAITING_REVIEW, "checked", PolicyViolation, "art. 63"),
        (Role.AUDITOR, 1, J.AWAITING_REVIEW, "checked", PolicyViolation, "art. 63"),
        (Role.STEWARD, 2, J.AWAITING_REVIEW, "checked", PolicyViolation, None),  # own organisation
        (Role.STEWARD, 1, J.RUNNING, "checked", Conflict, None),  # nothing to review yet
        (Role.STEWARD, 1, J.RELEASED, "checked", Conflict, None),  # already decided
        (Role.STEWARD, 1, J.AWAITING_REVIEW, "", InvalidRequest, None),  # no reason
        (Role.STEWARD, 1, J.AWAITING_REVIEW, "  同   ", InvalidRequest, None),  # padded 1 char
        (Role.STEWARD, 1, J.RETURNED, "checked", Conflict, None),  # returned: decided already
    ],
)
def test_check_can_review_when_reviewer_and_job_then_per_table(
    role: Role,
    reviewer_org: int,
    status: JobStatus,
    reason: str,
    error: type[Exception] | None,
    article: str | None,
) -> None:
    _assert_rule(
        airlock.check_can_review,
        airlock.can_review,
        (role, reviewer_org, 2, status, reason),
        error,
        article,
    )


@pytest.mark.parametrize(
    ("role", "caller_org", "ok"),
    [
        (Role.OPERATOR, 2, True),  # own organisation's job
        (Role.OPERATOR, 3, False),  # another firm's job does not exist for them
        (Role.STEWARD, 1, True),  # stewards see every job
        (Role.AUDITOR, 1, True),
        (Role.ADMIN, 9, True),
    ],
)
def test_check_can_see_job_when_caller_then_other_firms_jobs_not_found(
    role: Role, caller_org: int, ok: bool
) -> None:
    _assert_rule(
        airlock.check_can_see_job, None, (role, caller_org, 2), None if ok else NotFound, None
    )


@pytest.mark.parametrize(
    ("role", "caller_org", "status", "error", "article"),
    [
        (Role.OPERATOR, 2, J.RELEASED, None, None),  # the grantee gets its released product
        (Role.OPERATOR, 3, J.RELEASED, NotFound, None),  # another firm: existence does not leak
        (Role.OPERATOR, 2, J.AWAITING_REVIEW, PolicyViolation, "art. 37"),  # still quarantined
        (Role.OPERATOR, 2, J.REJECTED, PolicyViolation, "art. 37"),  # rejected never leaves
        (Role.OPERATOR, 2, J.QUEUED, PolicyViolation, "art. 37"),
        (Role.STEWARD, 1, J.AWAITING_REVIEW, None, None),  # steward reads it to review
        (Role.STEWARD, 1, J.RELEASED, None, None),
        (Role.STEWARD, 1, J.RUNNING, PolicyViolation, None),  # no output yet
        (Role.STEWARD, 1, J.FAILED, PolicyViolation, None),  # no output at all
        (Role.AUDITOR, 1, J.RELEASED, PolicyViolation, None),  # only the grantee downloads
        (Role.ADMIN, 1, J.RELEASED, PolicyViolation, None),
        (Role.AUDITOR, 1, J.AWAITING_REVIEW, PolicyViolation, "art. 37"),  # not released
    ],
)
def test_check_can_download_when_caller_and_status_then_per_table(
    role: Role,
    caller_org: int,
    status: JobStatus,
    error: type[Exception] | None,
    article: str | None,
) -> None:
    _assert_rule(
        airlock.check_can_download,
        airlock.can_download,
        (role, caller_org, 2, status),
        error,
        article,
    )


@pytest.mark.parametrize(
    ("grade", "expected"),
    [
        (Grade.GENERAL, 10),  # general data: cells of 10
        (Grade.IMPORTANT, 20),  # art. 62: stricter for important data
    ],
)
def test_min_cell_size_when_grade_then_threshold(grade: Grade, expected: int) -> None:
    assert airlock.min_cell_size(grade) == expected


def test_min_cell_size_when_core_then_policy_violation_naming_art_62() -> None:
    _assert_rule(airlock.min_cell_size, None, (Grade.CORE,), PolicyViolation, "art. 62")


# --- budget -------------------------------------------------------------------------------

B = PrivacyBudget


@pytest.mark.parametrize(
    ("total", "spent", "cost", "ok"),
    [
        (B(1.0), B(0.7), B(0.3), True),  # exactly fills the budget
        (B(1.0), B(0.0), B(0.0), True),  # a free job
        (B(1.0), B(0.7), B(0.4), False),  # ε overspent
        (B(1.0), B(1.0), B(1e-9), False),  # exhausted: one ledger unit is too much
        (B(1.0, 1e-6), B(0.0, 5e-7), B(0.1, 5e-7), True),  # δ exactly filled
        (B(1.0, 1e-6), B(0.0, 5e-7), B(0.1, 6e-7), False),  # δ overspent, ε fine
        (B(1.0, 0.0), B(0.0), B(0.1, 1e-18), False),  # no δ granted at all
    ],
)
def test_accountant_when_cost_then_fits_only_within_total(
    total: PrivacyBudget, spent: PrivacyBudget, cost: PrivacyBudget, ok: bool
) -> None:
    # the live spending rule (the dead policies.budget.check_can_spend stated it apart)
    from jobs.dp.accounting import Accountant, Charge

    acc = Accountant(total, [Charge(epsilon=spent.epsilon, delta=spent.delta)])
    _assert_rule(
        acc.check_can_charge,
        acc.can_charge,
        (Charge(epsilon=cost.epsilon, delta=cost.delta),),
        None if ok else BudgetExhausted,
        None,
    )


def _charge_on(total: PrivacyBudget, spent: PrivacyBudget) -> Callable[[PrivacyBudget], None]:
    """The accountant's rule for one cost, after ``spent`` (what the ledger asks)."""
    from jobs.dp.accounting import Accountant, Charge

    acc = Accountant(total, [Charge(epsilon=spent.epsilon, delta=spent.delta)])
    return lambda cost: acc.check_can_charge(Charge(epsilon=cost.epsilon, delta=cost.delta))


@pytest.mark.parametrize(
    ("check", "args", "needle"),
    [
        (
            catalog.check_column_use,
            ("income", T.SENSITIVE, U.GROUP_BY),
            "'income' is tagged sensitive",
        ),  # a refused column names itself ...
        (
            catalog.check_column_use,
            ("income", T.SENSITIVE, U.GROUP_BY),
            "used for: filter, measure",
        ),  # ... and what its tag allows
        (
            catalog.check_column_use,
            ("resident_id", T.DIRECT_IDENTIFIER, U.FILTER),
            "for: nothing",
        ),  # a direct identifier allows nothing
        (
            roles.check_role,
            (Role.OPERATOR, Role.STEWARD, Role.ADMIN),
            "steward or admin role",
        ),  # a refused role names the roles needed
        (
            grants.check_can_submit,
            (G.ACTIVE, LATER, NOW, "custom", ["extract", "aggregate"], ["d"], ["d"]),
            "allows: aggregate, extract",
        ),  # kinds it allows, sorted
        (
            grants.check_can_submit,
            (G.ACTIVE, LATER, NOW, "aggregate", ["aggregate"], ["d", "tax"], ["d"]),
            "scope: tax",
        ),  # datasets outside the grant are named
        (
            catalog.check_privacy_unit_coverage,
            ("resident_id", 10, 6),
            "'resident_id' is empty in 6 of 10 rows",
        ),  # a mostly empty privacy unit names itself and the counts ...
        (
            catalog.check_privacy_unit_coverage,
            ("resident_id", 10, 6),
            "declare no privacy unit if each row is one person",
        ),  # ... and the ways out
        (_charge_on(B(1.0), B(0.7)), (B(0.4),), "epsilon=0.3, delta=0 left"),  # ε left
        (_charge_on(B(1.0), B(0.7)), (B(0.1, 1e-6),), "delta does not fit"),  # δ left
    ],
)
def test_policy_message_when_refused_then_says_what_to_fix(
    check: Callable[..., object], args: tuple[Any, ...], needle: str
) -> None:
    with pytest.raises(SandboxError) as info:
        check(*args)
    assert needle in str(info.value)


def test_budget_exhausted_when_raised_then_is_a_conflict() -> None:
    assert issubclass(BudgetExhausted, Conflict)  # the service maps it to 409


def test_check_can_download_when_grant_not_active_then_refused_for_operators_only() -> None:
    from policies.airlock import can_download, check_can_download

    # art. 76: a suspended or terminated operator receives no more products
    with pytest.raises(PolicyViolation, match=r"art\. 76"):
        check_can_download(Role.OPERATOR, 1, 1, JobStatus.RELEASED, grant_active=False)
    assert not can_download(Role.OPERATOR, 1, 1, JobStatus.RELEASED, grant_active=False)
    # stewards still read what they review or released
    assert can_download(Role.STEWARD, 9, 1, JobStatus.RELEASED, grant_active=False)
