"""The grant terms' unit conversions: the module's examples are there to run."""

from __future__ import annotations

import doctest

from sandbox.web.console import grant_terms, i18n


def test_grant_terms_when_doctests_run_then_units_convert_exactly() -> None:
    # run here too (not only by --doctest-modules): the examples must exist and hold,
    # in Chinese, the language outside a request (conftest.py reads English otherwise)
    token = i18n.use("zh_CN")
    try:
        result = doctest.testmod(grant_terms)
    finally:
        i18n._current.reset(token)
    assert result.attempted >= 4 and result.failed == 0
