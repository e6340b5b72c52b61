"""The aggregate kind's answers to :class:`jobs.kinds.base.JobKind`.

Light on import: the DP engine (:mod:`jobs.kinds.aggregate.engine`, polars,
the samplers) loads inside the members that need it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from jobs.kinds.aggregate.spec import COUNTS, AggregateSpec, _Bounded, validate_against_schema
from jobs.kinds.base import KindCheckFacts, KindDefaults, Line, OutputShape, PartitionedKind, Phrase
from policies.airlock import min_cell_size
from policies.catalog import Product

if TYPE_CHECKING:
    from jobs.dp.accounting import Charge
    from jobs.facts import DatasetFacts
    from jobs.kinds.aggregate.plan import DatasetContext
    from jobs.task import Outcome, Task

__all__ = ["KIND", "context_of", "dataset_context"]

#: How a reviewer reads a filter's operator.
_OPS = {"eq": "=", "ne": "≠", "lt": "<", "le": "≤", "gt": ">", "ge": "≥", "in": "in"}


def context_of(dataset: DatasetFacts, min_cell: int) -> DatasetContext:
    """The public facts the DP engine needs about a catalogued dataset.

    The grid of released sums is sized from the public count (the estimate's
    errors reach the operator), never the exact one.
    """
    from jobs.kinds.aggregate.plan import DatasetContext, rows_bound

    return DatasetContext(
        privacy_unit=dataset.privacy_unit,
        public_keys=dataset.public_keys,
        min_cell=min_cell,
        max_rows=rows_bound(dataset.public_row_count),
        non_null_columns=dataset.non_null_columns,
    )


def dataset_context(task: Task, dataset: str) -> DatasetContext:
    """The public facts the engine needs about ``dataset``, from a task that carries them.

    Raises:
        InternalError: The task carries no key domains for ``dataset``.
    """
    from jobs.errors import InternalError
    from jobs.kinds.aggregate.plan import DatasetContext, rows_bound

    if dataset not in task.public_keys:
        raise InternalError("the task carries no catalog context for its dataset")
    return DatasetContext(
        privacy_unit=task.privacy_units.get(dataset),
        public_keys=task.public_keys[dataset],
        min_cell=task.min_cell,
        # sized from the public count: the grid of released sums must not tell the exact one
        max_rows=(
            rows_bound(task.public_rows[dataset])
            if dataset in task.public_rows
            else task.row_counts[dataset]
        ),
        non_null_columns=frozenset(task.non_null_columns.get(dataset, ())),
    )


def _spec(task: Task) -> AggregateSpec:
    from jobs.errors import InternalError
    from jobs.spec import parse_as

    spec = parse_as(AggregateSpec, task.spec)
    if spec is None:
        raise InternalError("the aggregate executor received a job of another kind")
    return spec


class _Aggregate(KindDefaults):
    """Differentially private statistics: plan, exact partials, noise once."""

    name = "aggregate"
    spec_type: type[BaseModel] = AggregateSpec
    product = Product.STATISTICS
    untimed = False
    output_formats = frozenset({"parquet"})
    shape = OutputShape.TABLE
    description = (
        "Differentially private statistics (counts, sums, means, quantiles, histograms) "
        "over one dataset, with noise added once to the exact answers."
    )
    partitioned = True

    def ray_options(self, task: Task) -> dict[str, Any]:
        """One CPU slot a task, and polars in it on one thread.

        A partition's task reserves one CPU; polars would otherwise start a
        thread per core in every worker, and the partitions Ray runs side by
        side would contend for the cores they did not reserve (10M rows on a
        2-CPU local Ray: 0.76 s with polars' default threads, 0.61 s with one).
        Ray keeps these workers apart from those of other kinds.
        """
        del task
        return {"num_cpus": 1, "runtime_env": {"env_vars": {"POLARS_MAX_THREADS": "1"}}}

    def validate(
        self, spec: AggregateSpec, datasets: Sequence[DatasetFacts], options: Mapping[str, Any]
    ) -> None:
        """Columns exist and their tags allow each use (art. 37); no ``core`` data (art. 62).

        A spec the engine cannot run on the dataset is refused by :meth:`charge`,
        before any budget is spent.

        Raises:
            InvalidJobSpec: Unknown column, forbidden use or non-numeric measure.
            PolicyViolation: ``core`` data admits no aggregate output (art. 62).
        """
        del options
        for dataset in datasets:
            validate_against_schema(spec, dataset.dtypes, dataset.tags)
            min_cell_size(dataset.grade)  # raises for core data

    def charge(
        self, spec: AggregateSpec, datasets: Sequence[DatasetFacts], min_cell: int
    ) -> Charge:
        """The plan's charge (pure ε, ρ, δ) on the dataset's public facts.

        Raises:
            InvalidJobSpec: The spec cannot run on this dataset as written.
        """
        from jobs.kinds.aggregate.engine import charge

        return charge(spec, context_of(datasets[0], min_cell))

    def cost(self, spec: AggregateSpec, charge: Charge) -> tuple[float, float]:
        """Exactly what the spec declares (the engine spends at most this)."""
        from jobs.kinds.aggregate.engine import cost

        del charge
        return cost(spec)

    def estimate(
        self,
        spec: AggregateSpec,
        datasets: Sequence[DatasetFacts],
        min_cell: int,
        *,
        expected_group_size: int | None = None,
    ) -> dict[str, Any]:
        """ε, δ, each aggregate's expected error and 95 % half-width, small-cell warnings.

        The group size is the operator's ``expected_group_size``, else the
        steward's band for the query's keys, else the table's public size for
        an ungrouped query (:func:`jobs.kinds.aggregate.estimate.group_size_for`).
        """
        from jobs.kinds.aggregate.engine import estimate
        from jobs.kinds.aggregate.estimate import group_size_for

        size = group_size_for(spec, datasets[0], expected_group_size)
        return estimate(spec, context_of(datasets[0], min_cell), group_size=size).as_dict()

    def run(self, task: Task) -> Outcome:
        """Evaluate in this process (tests, the in-process runner), partition by partition.

        Raises:
            JobFailed: With a message that carries no data value.
            InternalError: The task carries no catalog context for its dataset, or
                the dataset no stored partition.
        """
        from jobs import storage
        from jobs.errors import InternalError
        from jobs.kinds.aggregate.engine import evaluate_partitioned
        from jobs.task import evaluation_errors, write_result

        spec = _spec(task)
        context = dataset_context(task, spec.dataset)
        paths = self.partitions(task)
        if not paths:
            raise InternalError("the dataset has no stored partitions")
        with evaluation_errors():
            frames = (storage.scan_parquet(path) for path in paths)
            result = evaluate_partitioned(frames, spec, context, seed=task.seed)
        return write_result(task, result)

    def partitions(self, task: Task) -> list[str]:
        """The dataset's stored part files, in partition order."""
        from jobs.task import partition_files

        return partition_files(task.inputs[_spec(task).dataset])

    def partial(self, task: Task, path: str) -> Any:
        """Exact partial measurements of one partition, as an Arrow table."""
        from jobs import storage
        from jobs.kinds.aggregate.engine import exact_partials
        from jobs.task import evaluation_errors

        spec = _spec(task)
        with evaluation_errors():
            frame = exact_partials(
                storage.scan_parquet(path), spec, dataset_context(task, spec.dataset)
            )
        return frame.to_arrow()

    def finish(self, task: Task, parts: Sequence[Any]) -> Outcome:
        """Combine the partials, release once (noise, selection, suppression), write quarantine."""
        import polars as pl

        from jobs.kinds.aggregate.engine import combine_partials, release
        from jobs.task import evaluation_errors, write_result

        spec = _spec(task)
        with evaluation_errors():
            exact = combine_partials([pl.DataFrame(pl.from_arrow(p)) for p in parts], spec)
            result = release(exact, spec, dataset_context(task, spec.dataset), seed=task.seed)
        return write_result(task, result)

    def check_facts(self, spec: AggregateSpec, task: Task) -> KindCheckFacts:
        """Counts (histograms included) must clear the small-cell rule."""
        del task
        counts = tuple(a.output_name for a in spec.aggregates if isinstance(a, COUNTS))
        return KindCheckFacts(formats=self.output_formats, count_columns=counts)

    def describe(self, spec: AggregateSpec) -> list[Line]:
        """Rows kept, grouping, each aggregate, and the privacy parameters."""
        rows = " ∧ ".join(f"{f.column} {_OPS.get(f.op, f.op)} {f.value}" for f in spec.filters)
        lines: list[Line] = [
            ("rows", rows or Phrase("all rows")),
            ("grouped by", ", ".join(spec.group_by) or Phrase("no grouping")),
        ]
        for a in spec.aggregates:
            column = getattr(a, "column", None)
            op = Phrase(a.op)
            what = Phrase("%(op)s of %(column)s", {"op": op, "column": column}) if column else op
            if isinstance(a, _Bounded):
                what = Phrase(
                    "%(what)s, clamped to [%(lower)s, %(upper)s]",
                    {"what": what, "lower": a.lower, "upper": a.upper},
                )
            lines.append(("computes", what))
        lines.append(
            (
                "privacy",
                Phrase(
                    "ε = %(epsilon)s, δ = %(delta)s, %(noise)s noise, at most %(rows)s rows "
                    "and %(groups)s groups per person",
                    {
                        "epsilon": spec.epsilon,
                        "delta": spec.delta,
                        "noise": Phrase(spec.noise),
                        "rows": spec.max_rows_per_unit,
                        "groups": spec.max_groups_per_unit,
                    },
                ),
            )
        )
        return lines

    def privacy_statement(self, spec: AggregateSpec, report: Mapping[str, Any]) -> dict[str, Any]:
        """Differential privacy: the noise, the contribution bounds, how ε and δ add up."""
        del report
        return {
            "guarantee": "differential privacy",
            "noise": spec.noise,
            "max_rows_per_unit": spec.max_rows_per_unit,
            "max_groups_per_unit": spec.max_groups_per_unit,
            "accounting": "pure epsilon, or zCDP for Gaussian noise (Bun & Steinke 2016) "
            "converted to (epsilon, delta) by Canonne, Kamath & Steinke 2020 (Cor. 13) where "
            "tighter than Bun & Steinke's bound",
        }


#: The aggregate kind, as the registry lists it.
KIND: PartitionedKind = _Aggregate()
