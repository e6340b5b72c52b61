"""Check contexts of the built-in kinds, for the checks' tests.

:data:`KIND_CHECKS` says what each built-in kind tells the checks (its product
and its output formats); ``test_contract`` pins it against :data:`jobs.kinds.KINDS`,
so the checks' tests exercise what the kinds declare.
"""

from __future__ import annotations

from typing import Any

from policies.catalog import Product
from sandbox.checks import CheckContext

#: Kind name -> (product, output formats), as ``jobs/kinds/<kind>`` declares them.
KIND_CHECKS: dict[str, tuple[Product, frozenset[str]]] = {
    "aggregate": (Product.STATISTICS, frozenset({"parquet"})),
    "extract": (Product.RECORDS, frozenset({"parquet"})),
    "train": (Product.MODEL, frozenset({"json", "safetensors"})),
    "custom": (Product.PROGRAM_OUTPUT, frozenset({"zip"})),
}


def context_of(kind: str, **fields: Any) -> CheckContext:
    """The check context of a job of the built-in ``kind`` (``fields``: the rest)."""
    product, formats = KIND_CHECKS[kind]
    return CheckContext(kind=kind, product=product, formats=formats, **fields)
