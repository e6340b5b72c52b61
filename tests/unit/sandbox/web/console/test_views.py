"""What the console shows of a job comes from its kind: common lines, then the kind's own."""

from __future__ import annotations

from jobs.kinds import KINDS
from policies.catalog import Product
from sandbox.web.console import views
from tests.unit.sandbox.web._toy import TOY, toy


def test_describe_spec_when_a_toy_kind_then_kind_and_datasets_then_its_own_lines():
    with KINDS.registered(toy()):
        lines = views.describe_spec({"kind": TOY, "dataset": "residents", "column": "age"})
    assert lines == [("kind", TOY), ("datasets", "residents"), ("counts", "age")]


def test_describe_spec_when_kind_unknown_or_spec_unreadable_then_common_lines_only():
    assert views.describe_spec({"kind": TOY, "datasets": ["a", "b"]}) == [
        ("kind", TOY),
        ("datasets", "a, b"),
    ]
    with KINDS.registered(toy()):  # the toy's spec needs a dataset
        assert views.describe_spec({"kind": TOY}) == [("kind", TOY), ("datasets", "None")]


def test_not_dp_when_kind_releases_program_output_then_true():
    with KINDS.registered(toy()):
        assert views.not_dp(TOY)
    with KINDS.registered(toy(product=Product.STATISTICS)):
        assert not views.not_dp(TOY)
    assert not views.not_dp(TOY)  # no longer registered
    assert [k.name for k in KINDS if views.not_dp(k.name)] == [
        k.name for k in KINDS if k.product is Product.PROGRAM_OUTPUT
    ]


def test_filter_options_when_a_toy_kind_is_registered_then_listed():
    class _Session:
        def execute(self, _stmt: object) -> list[object]:
            return []

        def scalars(self, _stmt: object) -> list[object]:
            return []

    with KINDS.registered(toy()):
        assert views.filter_options(_Session())["kinds"] == [*KINDS.names()]  # type: ignore[arg-type]
        assert TOY in views.filter_options(_Session())["kinds"]  # type: ignore[arg-type]
