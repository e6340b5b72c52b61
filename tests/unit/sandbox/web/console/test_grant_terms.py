"""The grant terms' unit conversions: the module's examples are there to run."""

from __future__ import annotations

import doctest

from sandbox.web.console import grant_terms


def test_grant_terms_when_doctests_run_then_units_convert_exactly() -> None:
    # --doctest-modules runs the examples; this keeps them from quietly disappearing
    examples = sum(len(test.examples) for test in doctest.DocTestFinder().find(grant_terms))
    assert examples >= 4
