"""A toy job kind, registered by tests only: proof that nothing outside a kind knows its name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from jobs.dp.accounting import Charge
from jobs.facts import DatasetFacts, GrantFacts
from jobs.kinds.base import KindCheckFacts, OutputShape
from jobs.spec import Identifier, SpecModel
from jobs.task import Outcome, Task, sha256_file
from policies.catalog import Product


class ToySpec(SpecModel):
    """Counts nothing; writes one line."""

    kind: Literal["toy"]
    dataset: Identifier
    note: str = "hello"

    @property
    def datasets(self) -> list[str]:
        """The datasets the job reads."""
        return [self.dataset]


class Toy:
    """A kind with every member of the protocol, and a record of how it was run."""

    name = "toy"
    spec_type: type[BaseModel] = ToySpec
    product = Product.STATISTICS
    untimed = False
    output_formats = frozenset({"txt"})
    shape = OutputShape.FILES
    description = "A toy kind for tests."
    partitioned = False

    def __init__(self) -> None:
        self.calls: list[str] = []

    def options(
        self, grant: GrantFacts, datasets: Sequence[DatasetFacts], secret: bytes
    ) -> dict[str, Any]:
        return {"grant": grant.id}

    def validate(
        self, spec: Any, datasets: Sequence[DatasetFacts], options: Mapping[str, Any]
    ) -> None:
        self.calls.append("validate")

    def charge(self, spec: Any, datasets: Sequence[DatasetFacts], min_cell: int) -> Charge:
        return Charge(epsilon=0.5)

    def cost(self, spec: Any, charge: Charge) -> tuple[float, float]:
        return charge.standalone

    def estimate(
        self,
        spec: Any,
        datasets: Sequence[DatasetFacts],
        min_cell: int,
        *,
        expected_group_size: int | None = None,
    ) -> dict[str, Any]:
        return {"kind": self.name, "epsilon": 0.5, "delta": 0.0}

    def run(self, task: Task) -> Outcome:
        self.calls.append("run")
        out = Path(task.output_path)
        out.write_text(ToySpec.model_validate(task.spec).note)
        return Outcome(str(out), sha256_file(out), rows=1, epsilon=0.5, delta=0.0)

    def failed_outcome(self, task: Task, reason: str) -> Outcome | None:
        return None

    def ray_options(self, task: Task) -> dict[str, Any]:
        return {"num_cpus": 0.5}

    def timeout_s(self, task: Task, default: float) -> float:
        return default / 2

    def check_facts(self, spec: Any, task: Task) -> KindCheckFacts:
        return KindCheckFacts(formats=self.output_formats)

    def describe(self, spec: Any) -> list[tuple[str, str]]:
        return [("says", spec.note)]

    def privacy_statement(self, spec: Any, report: Mapping[str, Any]) -> dict[str, Any]:
        return {"guarantee": "none"}


class PartitionedToy(Toy):
    """The toy, run partition by partition: each partial is a partition's byte count."""

    name = "toy"
    partitioned = True

    def partitions(self, task: Task) -> list[str]:
        return sorted(str(p) for p in Path(task.inputs["d"]).parent.glob("part-*"))

    def partial(self, task: Task, path: str) -> Any:
        self.calls.append("partial")
        return Path(path).stat().st_size

    def finish(self, task: Task, parts: Sequence[Any]) -> Outcome:
        self.calls.append("finish")
        out = Path(task.output_path)
        out.write_text(str(sum(parts)))
        return Outcome(str(out), sha256_file(out), rows=len(parts), epsilon=0.5, delta=0.0)
