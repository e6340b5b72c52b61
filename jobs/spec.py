"""Job specifications: what an operator may ask the sandbox to compute.

Pydantic models at the edge (``extra="forbid"``, frozen). A job spec is a
union discriminated by ``kind``, built from the registry
(:data:`jobs.kinds.KINDS`): each kind's own spec lives in
``jobs/kinds/<kind>/spec.py``. This module holds what the kinds share — the
base model, identifiers, filters, the per-job privacy limits, numeric dtypes
— and :func:`parse_job_spec`, whose errors never echo the input.

The kinds' spec classes are importable from here too (``from jobs.spec import
AggregateSpec``) for callers that predate the kinds' packages; new code
imports them from their kind (``jobs.kinds.<kind>.spec``).
"""

from __future__ import annotations

import functools
import importlib
import math
import operator
import threading
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self, TypeAlias, Union

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from jobs.errors import InvalidJobSpec
from jobs.kinds import KINDS

if TYPE_CHECKING:
    from jobs.kinds.aggregate.spec import (
        MAX_BINS,
        MAX_GROUPS_PER_UNIT,
        MAX_ROWS_PER_UNIT,
        MEASURES,
        AggregateSpec,
        Aggregation,
        AnyAggregate,
        Count,
        CountDistinct,
        Histogram,
        Mean,
        Median,
        Quantile,
        Sum,
        Variance,
        validate_against_schema,
    )
    from jobs.kinds.custom.spec import (
        MAX_CUSTOM_ARCHIVE_BYTES,
        MAX_CUSTOM_SOURCE_BYTES,
        CustomSpec,
        DatasetName,
        EntryPoint,
    )
    from jobs.kinds.extract.spec import ExtractSpec
    from jobs.kinds.train.spec import (
        MAX_CATEGORIES,
        MAX_CLASSES,
        MAX_TRAIN_INPUTS,
        AnyTrainModel,
        GaussianNBModel,
        KMeansModel,
        LinearRegressionModel,
        LogisticRegressionModel,
        MLPModel,
        RandomForestModel,
        TrainFeature,
        TrainLabel,
        TrainModel,
        TrainSpec,
    )

    #: Any built-in kind's spec (for annotations; a registered kind parses too).
    AnySpec: TypeAlias = AggregateSpec | ExtractSpec | TrainSpec | CustomSpec
    JobSpec: TypeAlias = Annotated[AnySpec, Field(discriminator="kind")]

__all__ = [
    "MAX_ABS_BOUND",
    "MAX_BINS",
    "MAX_CATEGORIES",
    "MAX_CLASSES",
    "MAX_CUSTOM_ARCHIVE_BYTES",
    "MAX_CUSTOM_SOURCE_BYTES",
    "MAX_DELTA_PER_JOB",
    "MAX_EPSILON_PER_JOB",
    "MAX_GROUPS_PER_UNIT",
    "MAX_ROWS_PER_UNIT",
    "MAX_TRAIN_INPUTS",
    "MEASURES",
    "MIN_EPSILON_PER_JOB",
    "NUMERIC_DTYPES",
    "AggregateSpec",
    "Aggregation",
    "AnyAggregate",
    "AnySpec",
    "AnyTrainModel",
    "Count",
    "CountDistinct",
    "CustomSpec",
    "DatasetName",
    "EntryPoint",
    "ExtractSpec",
    "Filter",
    "GaussianNBModel",
    "Histogram",
    "Identifier",
    "JobSpec",
    "KMeansModel",
    "LinearRegressionModel",
    "LogisticRegressionModel",
    "MLPModel",
    "Mean",
    "Median",
    "Quantile",
    "RandomForestModel",
    "Scalar",
    "SpecModel",
    "Sum",
    "TrainFeature",
    "TrainLabel",
    "TrainModel",
    "TrainSpec",
    "Variance",
    "check_bounds",
    "check_filter_type",
    "job_spec_adapter",
    "parse_job_spec",
    "validate_against_schema",
]

#: Column and output names: schema identifiers, never free text.
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$")]
Scalar = str | int | float | bool
MAX_EPSILON_PER_JOB = 10.0
#: Below this ε the noise swamps any answer; it also keeps noise parameters in range.
MIN_EPSILON_PER_JOB = 0.001
#: δ should be far below 1/n; a job may not spend more than this.
MAX_DELTA_PER_JOB = 1e-4
#: Clamping bounds beyond this lose all precision in float64 sums.
MAX_ABS_BOUND = 1e15

NUMERIC_DTYPES = frozenset(
    {"Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64", "Float32", "Float64"}
)


class SpecModel(BaseModel):
    """Base of every spec model: unknown fields refused, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def check_bounds(lower: float, upper: float) -> None:
    """Refuse declared bounds that are not finite, not ordered or too large.

    Raises:
        ValueError: With what to change (pydantic turns it into a validation error).
    """
    if not (math.isfinite(lower) and math.isfinite(upper)):
        raise ValueError("bounds must be finite numbers")
    if not lower < upper:
        raise ValueError("lower must be smaller than upper")
    if max(abs(lower), abs(upper)) > MAX_ABS_BOUND:
        raise ValueError(f"bounds must lie within ±{MAX_ABS_BOUND:g}")


class Filter(SpecModel):
    """Keep rows where ``column op value``; ``in`` takes a list."""

    column: Identifier
    op: Literal["eq", "ne", "lt", "le", "gt", "ge", "in"]
    value: Scalar | list[Scalar]

    def expr(self) -> pl.Expr:
        """The filter as a polars expression: the one definition the engine, the
        differencing check and the client's local dry run all use."""
        column = pl.col(self.column)
        if isinstance(self.value, list):  # the op is "in" (checked on construction)
            return column.is_in(self.value)
        compare = getattr(operator, self.op)  # eq, ne, lt, le, gt, ge
        result: pl.Expr = compare(column, self.value)
        return result

    @model_validator(mode="after")
    def _value_fits_op(self) -> Self:
        if (self.op == "in") != isinstance(self.value, list):
            raise ValueError("'in' takes a list of values; every other op takes one value")
        if isinstance(self.value, list) and not 1 <= len(self.value) <= 1000:
            raise ValueError("'in' takes between 1 and 1000 values")
        if any(isinstance(v, float) and not math.isfinite(v) for v in self.values):
            raise ValueError("filter values must be finite numbers (not NaN or infinity)")
        return self

    @property
    def values(self) -> list[Scalar]:
        """The value, or the values of ``in``, as a list."""
        return list(self.value) if isinstance(self.value, list) else [self.value]


#: Catalog dtypes a filter value may be compared with, and the JSON type it must have.
_FILTER_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    **{d: ((int, float), "numbers") for d in NUMERIC_DTYPES},
    "String": ((str,), "text"),
    "Categorical": ((str,), "text"),
    "Boolean": ((bool,), "true or false"),
}


def check_filter_type(f: Filter, dtype: str) -> None:
    """Refuse a filter whose value cannot be compared with its column (before any charge).

    Raises:
        InvalidJobSpec: The column's type cannot be filtered, or the value has another type.
    """
    types = _FILTER_TYPES.get(dtype.split("(")[0])
    if types is None:
        raise InvalidJobSpec(
            f"column '{f.column}' has type {dtype}, which filters cannot compare; filter on "
            "columns of numbers, text or true/false"
        )
    allowed, what = types
    # bool is an int in Python: a true/false value never filters a numeric column
    wrong = [v for v in f.values if isinstance(v, bool) != (bool in allowed)]
    if wrong or not all(isinstance(v, allowed) for v in f.values):
        raise InvalidJobSpec(
            f"filter on column '{f.column}' ({dtype}) must compare with {what}; write the value "
            "in that type"
        )


_adapter_lock = threading.Lock()
_adapter: tuple[int, TypeAdapter[Any]] | None = None


def job_spec_adapter() -> TypeAdapter[Any]:
    """The pydantic adapter of the spec union over the registered kinds.

    Built again when the registry changes (a kind registered later parses too).
    """
    global _adapter
    with _adapter_lock:
        kinds = tuple(KINDS)
        version = KINDS.version
        if _adapter is None or _adapter[0] != version:
            types = tuple(k.spec_type for k in kinds)
            union: Any = types[0] if len(types) == 1 else Union[types]  # noqa: UP007
            if len(types) > 1:
                union = Annotated[union, Field(discriminator="kind")]
            _adapter = (version, TypeAdapter(union))
        return _adapter[1]


def parse_job_spec(data: object) -> AnySpec:
    """Validate a JSON-like object as a job spec of a registered kind.

    Raises:
        InvalidJobSpec: With pydantic's locations and messages, but not the input values.
    """
    try:
        spec: AnySpec = job_spec_adapter().validate_python(data)
    except ValidationError as err:
        problems = "; ".join(
            _describe(e) for e in err.errors(include_input=False, include_url=False)
        )
        raise InvalidJobSpec(f"invalid job spec: {problems}") from None
    return spec


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


@functools.cache
def _moved() -> dict[str, Any]:
    """The kinds' public spec names, found in each registered kind's spec module."""
    found: dict[str, Any] = {}
    for kind in KINDS:
        module = importlib.import_module(kind.spec_type.__module__)
        for name in getattr(module, "__all__", ()):
            found.setdefault(name, getattr(module, name))
    return found


def __getattr__(name: str) -> Any:
    """The names that moved into the kinds' packages, for callers that predate them."""
    if name == "AnySpec":
        return Union[tuple(k.spec_type for k in KINDS)]  # noqa: UP007
    if name == "JobSpec":
        return Annotated[__getattr__("AnySpec"), Field(discriminator="kind")]
    if not name.startswith("__") and name in _moved():
        return _moved()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
