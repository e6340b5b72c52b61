"""The train kind's answers to :class:`jobs.kinds.base.JobKind`.

Light on import: the trainers (:mod:`jobs.kinds.train.engine`, diffprivlib,
opacus, torch) load inside the members that need them; the charge of DP-SGD
needs opacus's accountant only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from jobs.kinds.base import JobKind, KindCheckFacts, KindDefaults, Line, OutputShape
from jobs.kinds.train.spec import TrainSpec
from policies.catalog import Product

if TYPE_CHECKING:
    from jobs.dp.accounting import Charge
    from jobs.facts import DatasetFacts
    from jobs.task import Outcome, Task

__all__ = ["KIND"]


class _Train(KindDefaults):
    """A model trained with differential privacy (diffprivlib, or opacus DP-SGD)."""

    name = "train"
    spec_type: type[BaseModel] = TrainSpec
    product = Product.MODEL
    untimed = False
    output_formats = frozenset({"json", "safetensors"})
    shape = OutputShape.MODEL
    description = (
        "A model trained on one dataset with differential privacy (diffprivlib or DP-SGD), "
        "released as JSON or safetensors, never as a pickle."
    )
    partitioned = False

    def validate(
        self, spec: TrainSpec, datasets: Sequence[DatasetFacts], options: Mapping[str, Any]
    ) -> None:
        """See :func:`jobs.kinds.train.engine.validate` (per dataset)."""
        from jobs.kinds.train.engine import validate

        for dataset in datasets:
            validate(spec, dataset.dtypes, dataset.tags, dataset.grade, options)

    def charge(self, spec: TrainSpec, datasets: Sequence[DatasetFacts], min_cell: int) -> Charge:
        """The model's (ε, δ) from the spec and the public row count (never the exact one).

        Raises:
            InvalidJobSpec: DP-SGD whose batch is not below the rows, or whose
                noise multiplier spends more than the spec's ε.
        """
        from jobs.kinds.train.engine import charge

        del min_cell
        return charge(spec, datasets[0].public_row_count)

    def run(self, task: Task) -> Outcome:
        """See :func:`jobs.kinds.train.engine.run`."""
        from jobs.kinds.train.engine import run

        return run(task)

    def check_facts(self, spec: TrainSpec, task: Task) -> KindCheckFacts:
        """A model file: its formats; the checks' default row cap."""
        del spec, task
        return KindCheckFacts(formats=self.output_formats)

    def describe(self, spec: TrainSpec) -> list[Line]:
        """The privacy parameters."""
        return [("privacy", f"ε = {spec.epsilon}, δ = {spec.delta}")]

    def privacy_statement(self, spec: TrainSpec, report: Mapping[str, Any]) -> dict[str, Any]:
        """Differential privacy, and which accountant stated it."""
        del spec, report
        return {
            "guarantee": "differential privacy",
            "accounting": "pure epsilon (diffprivlib), or (epsilon, delta) from opacus's RDP "
            "accountant for DP-SGD",
        }


#: The train kind, as the registry lists it.
KIND: JobKind = _Train()
