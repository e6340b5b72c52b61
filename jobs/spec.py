"""Job specifications: what an operator may ask the sandbox to compute.

Pydantic models at the edge (``extra="forbid"``, frozen). A job spec is a
union discriminated by ``kind``; this version has the ``aggregate`` kind.
Checks that need the catalog (does the column exist, may it be grouped on)
live in :func:`validate_against_schema`, so a spec that reaches Ray already
refers only to what its grant allows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from jobs.errors import InvalidJobSpec
from policies.catalog import ColumnTag, ColumnUse, check_column_use

#: Column and output names: schema identifiers, never free text.
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$")]
Scalar = str | int | float | bool
MAX_EPSILON_PER_JOB = 10.0


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Filter(_Spec):
    """Keep rows where ``column op value``; ``in`` takes a list."""

    column: Identifier
    op: Literal["eq", "ne", "lt", "le", "gt", "ge", "in"]
    value: Scalar | list[Scalar]

    @model_validator(mode="after")
    def _value_fits_op(self) -> Self:
        if (self.op == "in") != isinstance(self.value, list):
            raise ValueError("'in' takes a list of values; every other op takes one value")
        if isinstance(self.value, list) and not 1 <= len(self.value) <= 1000:
            raise ValueError("'in' takes between 1 and 1000 values")
        return self


class Count(_Spec):
    """Number of rows in each group."""

    op: Literal["count"]
    name: Identifier = "count"


class _Bounded(_Spec):
    column: Identifier
    lower: float
    upper: float
    name: Identifier | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if not (math.isfinite(self.lower) and math.isfinite(self.upper)):
            raise ValueError("bounds must be finite numbers")
        if not self.lower < self.upper:
            raise ValueError("lower must be smaller than upper")
        return self

    @property
    def output_name(self) -> str:
        """Column name in the result."""
        return self.name or f"{self.op}_{self.column}"  # type: ignore[attr-defined]


class Sum(_Bounded):
    """Sum of a numeric column, each value clamped to [lower, upper]."""

    op: Literal["sum"]


class Mean(_Bounded):
    """Mean of a numeric column, each value clamped to [lower, upper]."""

    op: Literal["mean"]


Aggregation = Annotated[Count | Sum | Mean, Field(discriminator="op")]


class AggregateSpec(_Spec):
    """A differentially private aggregate query over one dataset.

    ε is split evenly between one noisy count per group (always computed, as
    small-cell suppression needs it) and one noisy sum per distinct bounded
    column; groups are disjoint, so each group's cells use the full share
    (parallel composition).
    """

    kind: Literal["aggregate"]
    dataset: Identifier
    filters: list[Filter] = Field(default_factory=list, max_length=20)
    group_by: list[Identifier] = Field(default_factory=list, max_length=4)
    aggregates: list[Aggregation] = Field(min_length=1, max_length=20)
    epsilon: float = Field(gt=0, le=MAX_EPSILON_PER_JOB)

    @model_validator(mode="after")
    def _distinct_names(self) -> Self:
        names = [_output_name(a) for a in self.aggregates] + list(self.group_by)
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"output names must be distinct: {', '.join(duplicates)}")
        return self

    @property
    def datasets(self) -> list[str]:
        """The datasets the job reads."""
        return [self.dataset]

    @property
    def delta(self) -> float:
        """δ the job spends (pure ε-DP mechanisms: none)."""
        return 0.0


def _output_name(aggregate: Count | Sum | Mean) -> str:
    return aggregate.name if isinstance(aggregate, Count) else aggregate.output_name


# One member today; `extract`, `train` and `custom` join this union.
JobSpec = Annotated[AggregateSpec, Field(discriminator="kind")]
_ADAPTER: TypeAdapter[AggregateSpec] = TypeAdapter(JobSpec)


def parse_job_spec(data: object) -> AggregateSpec:
    """Validate a JSON-like object as a job spec.

    Raises:
        InvalidJobSpec: With pydantic's locations and messages, but not the input values.
    """
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as err:
        problems = "; ".join(
            _describe(e) for e in err.errors(include_input=False, include_url=False)
        )
        raise InvalidJobSpec(f"invalid job spec: {problems}") from None


def _describe(error: Any) -> str:
    """One validation problem, without echoing what was sent.

    Pydantic quotes the input in a few messages (a wrong tag, an unknown
    key); those are rewritten from the error's context.
    """
    loc = [str(p) for p in error["loc"]]
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "union_tag_invalid":
        message = f"unknown {ctx.get('discriminator', '')}; expected {ctx.get('expected_tags')}"
    elif kind == "union_tag_not_found":
        message = f"{ctx.get('discriminator', '')} is required"
    elif kind == "extra_forbidden":
        loc, message = loc[:-1], "a field that is not allowed here (see the spec's schema)"
    else:
        message = error["msg"]
    return f"{'.'.join(loc) or 'spec'}: {message}"


NUMERIC_DTYPES = frozenset(
    {"Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64", "Float32", "Float64"}
)


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
    for column in spec.group_by:
        check_column_use(column, known(column), ColumnUse.GROUP_BY)
    for a in spec.aggregates:
        if isinstance(a, Count):
            continue
        check_column_use(a.column, known(a.column), ColumnUse.MEASURE)
        if dtypes[a.column] not in NUMERIC_DTYPES:
            raise InvalidJobSpec(
                f"column '{a.column}' is not numeric and cannot be aggregated with {a.op}"
            )
