"""The HTTP status of each error class: one table in sandbox.web, none in the error tree."""

from __future__ import annotations

import pytest

from anonymize.errors import AnonymizationError
from policies import errors as E
from sandbox.web.errors import status_of

#: The statuses the API answered with before they moved out of the tree: pinned.
EXPECTED = {
    "unauthenticated": 401,
    "too_many_attempts": 429,
    "policy_violation": 403,
    "not_found": 404,
    "conflict": 409,
    "budget_exhausted": 409,
    "invalid_job_spec": 422,
    "invalid_request": 422,
    "job_failed": 500,
    "internal_error": 500,
}


@pytest.mark.parametrize("code", sorted(E.BY_CODE))
def test_status_of_when_each_class_of_the_tree_then_its_pinned_status(code: str):
    cls = E.BY_CODE[code]
    assert status_of(cls) == status_of(cls("x")) == EXPECTED[code]


def test_status_of_when_a_package_subclass_then_its_own_or_its_parents():
    class Refused(E.PolicyViolation):
        code = "refused_for_test"

    assert status_of(AnonymizationError("x")) == 422
    assert status_of(Refused("x")) == 403  # not listed: the nearest listed ancestor's
    assert status_of(E.SandboxError("x")) == 500


def test_error_tree_when_read_then_no_http_status_in_it():
    assert all(not hasattr(cls, "status_code") for cls in E.BY_CODE.values())
