"""The custom kind's answers to :class:`jobs.kinds.base.JobKind`.

Light on import: the jail (:mod:`jobs.kinds.custom.jail`) and the output gate
load inside the members that need them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from jobs.kinds.base import JobKind, KindCheckFacts, KindDefaults, Line, OutputShape, Phrase
from jobs.kinds.custom.spec import CustomSpec
from policies.catalog import Product

if TYPE_CHECKING:
    from jobs.dp.accounting import Charge
    from jobs.facts import DatasetFacts, GrantFacts
    from jobs.task import Outcome, Task

__all__ = ["CUSTOM_WRAPPER_MEMORY", "KIND"]

#: Memory Ray reserves for a custom job's trusted wrapper (the jail's own is capped apart).
CUSTOM_WRAPPER_MEMORY = 512 * 1024 * 1024
#: How much longer than the jail's wall-clock limit the runner waits for the wrapper.
_WRAPPER_SLACK_S = 60.0


class _Custom(KindDefaults):
    """Operator code run in a jail; no guarantee by construction, always reviewed."""

    name = "custom"
    spec_type: type[BaseModel] = CustomSpec
    product = Product.PROGRAM_OUTPUT
    untimed = True
    output_formats = frozenset({"zip"})
    shape = OutputShape.FILES
    description = (
        "Operator code run in a jail beside the data, without network; every file it "
        "writes is read by a person before anything is released."
    )
    partitioned = False

    def options(
        self, grant: GrantFacts, datasets: Sequence[DatasetFacts], secret: bytes
    ) -> dict[str, Any]:
        """The grant's jail limits (missing keys take the jail's defaults)."""
        del datasets, secret
        return {"limits": dict(grant.limits or {})}

    def validate(
        self, spec: CustomSpec, datasets: Sequence[DatasetFacts], options: Mapping[str, Any]
    ) -> None:
        """See :func:`jobs.kinds.custom.engine.validate` (per dataset)."""
        from jobs.kinds.custom.engine import validate

        for dataset in datasets:
            validate(spec, dataset.dtypes, dataset.tags, dataset.grade, options)

    def charge(self, spec: CustomSpec, datasets: Sequence[DatasetFacts], min_cell: int) -> Charge:
        """Nothing: the output is not DP and always reviewed."""
        from jobs.kinds.custom.engine import charge

        del datasets, min_cell
        return charge(spec)

    def run(self, task: Task) -> Outcome:
        """See :func:`jobs.kinds.custom.engine.run`."""
        from jobs.kinds.custom.engine import run

        return run(task)

    def failed_outcome(self, task: Task, reason: str) -> Outcome | None:
        """An empty outcome for review: the operator must not see why the code failed."""
        from jobs.kinds.custom.engine import failed_outcome

        return failed_outcome(task, reason)

    def ray_options(self, task: Task) -> dict[str, Any]:
        """No CPU slot, and the trusted wrapper's memory.

        Custom code's run time is hidden from the operator; holding one of Ray's CPU
        slots for as long as it chose, it would hold back the tasks of the operator's
        visible jobs in Ray's queue. It takes no slot (its jail caps its CPU and
        memory); it still shares the cores. The trusted wrapper's own memory is
        bounded (chunked copies, capped images and JSON) and reserved.
        """
        del task
        return {"num_cpus": 0, "memory": CUSTOM_WRAPPER_MEMORY}

    def timeout_s(self, task: Task, default: float) -> float:
        """At least the jail's wall-clock limit and a minute.

        The jail kills the code at its own wall-clock limit and reports why;
        Ray must not cut the trusted wrapper off before that.
        """
        from jobs.kinds.custom.limits import Limits

        wall = Limits.from_grant(task.options.get("limits")).wall_s
        return max(default, wall + _WRAPPER_SLACK_S)

    def check_facts(self, spec: CustomSpec, task: Task) -> KindCheckFacts:
        """A zip of files: its format; the checks' default row cap."""
        del spec, task
        return KindCheckFacts(formats=self.output_formats)

    def describe(self, spec: CustomSpec) -> list[Line]:
        """What runs, and how."""
        path = f"/code/{spec.entrypoint}"
        return [("runs", Phrase("%(path)s, jailed (no network)", {"path": path}))]

    def privacy_statement(self, spec: CustomSpec, report: Mapping[str, Any]) -> dict[str, Any]:
        """None by construction: a person reviewed every file."""
        del spec, report
        return {"guarantee": "none by construction: every file was reviewed by a person"}


#: The custom kind, as the registry lists it.
KIND: JobKind = _Custom()
