"""The spec of a differentially private aggregate, and its check against the catalog.

Checks that need the catalog (does the column exist, may it be grouped on)
live in :func:`validate_against_schema`, so a spec that reaches Ray already
refers only to what its grant allows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from jobs.errors import InvalidJobSpec
from jobs.spec import (
    MAX_DELTA_PER_JOB,
    MAX_EPSILON_PER_JOB,
    MIN_EPSILON_PER_JOB,
    NUMERIC_DTYPES,
    Filter,
    Identifier,
    SpecModel,
    check_bounds,
    check_filter_type,
)
from policies.catalog import ColumnTag, ColumnUse, check_column_use

__all__ = [
    "COUNTS",
    "MAX_BINS",
    "MAX_GROUPS_PER_UNIT",
    "MAX_ROWS_PER_UNIT",
    "MEASURES",
    "SUPPRESSED",
    "AggregateSpec",
    "Aggregation",
    "AnyAggregate",
    "Count",
    "CountDistinct",
    "Histogram",
    "Mean",
    "Median",
    "Quantile",
    "Sum",
    "Variance",
    "validate_against_schema",
]

MAX_ROWS_PER_UNIT = 1000
MAX_GROUPS_PER_UNIT = 100
MAX_BINS = 1000
#: The result's column saying which cells of a row were suppressed and why (a reserved name).
SUPPRESSED = "suppressed"


class Count(SpecModel):
    """Number of rows in each group (after contribution bounding)."""

    op: Literal["count"]
    name: Identifier = "count"

    @property
    def output_name(self) -> str:
        """Column name in the result."""
        return self.name


class CountDistinct(SpecModel):
    """Number of distinct people (privacy units) in each group."""

    op: Literal["count_distinct"]
    name: Identifier = "count_distinct"

    @property
    def output_name(self) -> str:
        """Column name in the result."""
        return self.name


class _Bounded(SpecModel):
    column: Identifier
    lower: float
    upper: float
    name: Identifier | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        check_bounds(self.lower, self.upper)
        return self

    @property
    def output_name(self) -> str:
        """Column name in the result."""
        return self.name or f"{self.op}_{self.column}"  # type: ignore[attr-defined]


class Sum(_Bounded):
    """Sum of a numeric column, each value clamped to [lower, upper]; a null adds 0."""

    op: Literal["sum"]


class Mean(_Bounded):
    """Mean of a numeric column's non-null values, each clamped to [lower, upper]."""

    op: Literal["mean"]


class Variance(_Bounded):
    """Population variance of a numeric column's non-null values, clamped to [lower, upper]."""

    op: Literal["variance"]


class Quantile(_Bounded):
    """The ``q``-quantile of a numeric column's non-null values within [lower, upper]."""

    op: Literal["quantile"]
    q: float = Field(ge=0.0, le=1.0)

    @property
    def output_name(self) -> str:
        """Column name in the result."""
        return self.name or f"quantile_{self.column}_{self.q:g}"


class Median(_Bounded):
    """The median (0.5-quantile) of a numeric column's non-null values within [lower, upper]."""

    op: Literal["median"]

    @property
    def q(self) -> float:
        """The quantile a median is."""
        return 0.5


class Histogram(SpecModel):
    """Counts of a numeric column's values in declared bins ``[edges[i], edges[i+1])``.

    Values below the first edge count in the first bin and values at or
    above the last edge in the last bin (clamping, as for the bounded
    aggregates); nulls are not counted.
    """

    op: Literal["histogram"]
    column: Identifier
    bins: list[float] = Field(min_length=2, max_length=MAX_BINS + 1)
    name: Identifier | None = None

    @model_validator(mode="after")
    def _edges(self) -> Self:
        if not all(math.isfinite(e) for e in self.bins):
            raise ValueError("bin edges must be finite numbers")
        if any(b <= a for a, b in zip(self.bins, self.bins[1:], strict=False)):
            raise ValueError("bin edges must increase strictly")
        return self

    @property
    def output_name(self) -> str:
        """Column name in the result."""
        return self.name or f"histogram_{self.column}"


AnyAggregate = Count | CountDistinct | Sum | Mean | Variance | Quantile | Median | Histogram
Aggregation = Annotated[AnyAggregate, Field(discriminator="op")]
#: Aggregations that measure a column (all but the counts).
MEASURES = (Sum, Mean, Variance, Quantile, Median, Histogram)
#: Aggregations whose outputs are counts of people or rows (the small-cell rule applies).
COUNTS = (Count, CountDistinct, Histogram)


class AggregateSpec(SpecModel):
    """A differentially private aggregate query over one dataset.

    The spec states its whole privacy cost: ``epsilon`` and ``delta`` are
    what the ledger charges (:func:`jobs.kinds.aggregate.engine.cost`). Inside the
    job the engine splits them evenly between the distinct noisy
    measurements it needs (see :mod:`jobs.kinds.aggregate.plan`); groups are disjoint, so
    each group's cells use the full share (parallel composition), and a
    person's rows are bounded first so the sensitivity holds when one person
    has many rows.

    Attributes:
        group_by: Keys whose domain the catalog declares are public: every
            declared key appears in the result, also when empty. Other keys are
            discovered: a group appears only if its noisy count of people clears
            a DP partition-selection threshold, which needs ``delta`` > 0.
        noise: ``laplace`` adds discrete Laplace (two-sided geometric) noise,
            pure ε-DP; ``gaussian`` adds discrete Gaussian noise, accounted in
            zCDP and converted to (ε, δ), which needs ``delta`` > 0.
        delta: Pays for Gaussian noise and for discovering group keys by DP
            partition selection (keys the catalog does not declare public).
        max_rows_per_unit: At most this many of one person's rows enter the
            query (a seeded random choice); ignored when every row is a person.
        max_groups_per_unit: At most this many groups one person's rows may fall in
            (binding only when below ``max_rows_per_unit``).
    """

    kind: Literal["aggregate"]
    dataset: Identifier
    filters: list[Filter] = Field(default_factory=list, max_length=20)
    group_by: list[Identifier] = Field(default_factory=list, max_length=4)
    aggregates: list[Aggregation] = Field(min_length=1, max_length=20)
    epsilon: float = Field(ge=MIN_EPSILON_PER_JOB, le=MAX_EPSILON_PER_JOB)
    delta: float = Field(default=0.0, ge=0.0, le=MAX_DELTA_PER_JOB)
    noise: Literal["laplace", "gaussian"] = "laplace"
    max_rows_per_unit: int = Field(default=1, ge=1, le=MAX_ROWS_PER_UNIT)
    max_groups_per_unit: int = Field(default=1, ge=1, le=MAX_GROUPS_PER_UNIT)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if len(set(self.group_by)) != len(self.group_by):
            raise ValueError("group_by lists a column twice")
        names = [a.output_name for a in self.aggregates] + list(self.group_by)
        columns = names + [
            f"{a.output_name}_ci_{end}" for a in self.aggregates for end in ("low", "high")
        ]
        duplicates = sorted({n for n in names if columns.count(n) > 1})
        if duplicates:
            raise ValueError(f"output names must be distinct: {', '.join(duplicates)}")
        if SUPPRESSED in columns:
            raise ValueError(
                f"'{SUPPRESSED}' is the result's column of suppressed cells: name the "
                "aggregate otherwise (or group by a renamed copy of the column)"
            )
        if self.noise == "gaussian" and self.delta <= 0.0:
            raise ValueError("gaussian noise needs delta > 0; give delta or use laplace noise")
        return self

    @property
    def datasets(self) -> list[str]:
        """The datasets the job reads."""
        return [self.dataset]


def validate_against_schema(
    spec: AggregateSpec, dtypes: Mapping[str, str], tags: Mapping[str, ColumnTag]
) -> None:
    """Raise unless every column the spec uses exists and its tag allows the use.

    Args:
        spec: The job spec.
        dtypes: Column name to polars dtype name, from the catalog.
        tags: Column name to tag, from the catalog.

    Raises:
        InvalidJobSpec: Unknown column, forbidden use (art. 37) or non-numeric measure.
    """

    def known(column: str) -> ColumnTag:
        if column not in tags:
            raise InvalidJobSpec(
                f"dataset '{spec.dataset}' has no column '{column}'; "
                "list its schema with client.datasets()"
            )
        return tags[column]

    for f in spec.filters:
        check_column_use(f.column, known(f.column), ColumnUse.FILTER)
        check_filter_type(f, dtypes[f.column])
    for column in spec.group_by:
        check_column_use(column, known(column), ColumnUse.GROUP_BY)
    for a in spec.aggregates:
        if not isinstance(a, MEASURES):
            continue
        check_column_use(a.column, known(a.column), ColumnUse.MEASURE)
        if dtypes[a.column] not in NUMERIC_DTYPES:
            raise InvalidJobSpec(
                f"column '{a.column}' is not numeric and cannot be aggregated with {a.op}"
            )
