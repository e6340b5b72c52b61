"""A toy job kind for the web's and the client's tests: registered by a test, never by the package.

It has only what the API schemas, the console and the client read of a kind
(name, spec model, product, shape, formats, ``describe``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from jobs.kinds import OutputShape
from policies.catalog import Product

TOY = "toy_count"


class ToySpec(BaseModel):
    kind: Literal["toy_count"]
    dataset: str
    column: str = "city"


@dataclass(frozen=True)
class ToyKind:
    name: str = TOY
    spec_type: type[BaseModel] = ToySpec
    product: Product = Product.PROGRAM_OUTPUT
    untimed: bool = False
    output_formats: frozenset[str] = frozenset({"zip"})
    shape: OutputShape = OutputShape.FILES
    description: str = "Counts one column's values, for tests."

    def describe(self, spec: Any) -> list[tuple[str, str]]:
        return [("counts", spec.column)]


def toy(**changes: Any) -> Any:
    """The toy kind, with fields changed (``shape=OutputShape.TABLE``...)."""
    return ToyKind(**changes)
