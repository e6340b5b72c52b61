"""policies.access: a bureau acts on its own datasets; who reads exact facts (art. 63)."""

from __future__ import annotations

import pytest

from policies import access
from policies.errors import PolicyViolation
from policies.roles import Role


@pytest.mark.parametrize(
    ("role", "caller_org", "owners", "ok"),
    [
        (Role.STEWARD, 1, [1], True),  # the bureau's own dataset
        (Role.STEWARD, 1, [1, 1], True),  # several, all its own
        (Role.STEWARD, 1, [2], False),  # another bureau's dataset
        (Role.STEWARD, 1, [1, 2], False),  # a grant or job spanning two bureaus
        (Role.STEWARD, 1, [None], False),  # an owner nobody recorded is nobody's to grant
        (Role.OPERATOR, 1, [1], False),  # firms never grant or review
        (Role.AUDITOR, 1, [1], False),  # auditors read, never act
        (Role.ADMIN, 1, [1], False),  # admins run the platform, not the data
    ],
)
def test_check_can_manage_datasets_when_owner_and_role_then_own_bureau_only(
    role: Role, caller_org: int, owners: list[int | None], ok: bool
) -> None:
    if ok:
        access.check_can_manage_datasets(role, caller_org, owners)
    else:
        with pytest.raises(PolicyViolation, match=r"art\. 63") as info:
            access.check_can_manage_datasets(role, caller_org, owners)
        assert "ask a steward" in str(info.value)  # says what to do next
    assert access.can_manage_datasets(role, caller_org, owners) is ok


@pytest.mark.parametrize(
    ("role", "ok"),
    [
        (Role.STEWARD, True),  # the bureau holds the data
        (Role.AUDITOR, True),  # auditors check the bureau
        (Role.OPERATOR, False),  # a firm sees the public count and keyed digest only
        (Role.ADMIN, False),  # so does the platform's admin
    ],
)
def test_check_can_read_exact_facts_when_role_then_stewards_and_auditors_only(
    role: Role, ok: bool
) -> None:
    if ok:
        access.check_can_read_exact_facts(role)
    else:
        with pytest.raises(PolicyViolation, match=r"art\. 63"):
            access.check_can_read_exact_facts(role)
    assert access.can_read_exact_facts(role) is ok
