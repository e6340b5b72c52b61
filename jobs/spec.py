"""Job specifications: what an operator may ask the sandbox to compute.

Pydantic models at the edge (``extra="forbid"``, frozen). A job spec is a
union discriminated by ``kind``; this version has the ``aggregate`` kind.
Checks that need the catalog (does the column exist, may it be grouped on)
live in :func:`validate_against_schema`, so a spec that reaches Ray already
refers only to what its grant allows.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from anonymize.hierarchies import Hierarchy
from jobs.errors import InvalidJobSpec
from policies.catalog import ColumnTag, ColumnUse, check_column_use

#: Column and output names: schema identifiers, never free text.
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$")]
Scalar = str | int | float | bool
MAX_EPSILON_PER_JOB = 10.0
#: Below this ε the noise swamps any answer; it also keeps noise parameters in range.
MIN_EPSILON_PER_JOB = 0.001
#: δ should be far below 1/n; a job may not spend more than this.
MAX_DELTA_PER_JOB = 1e-4
MAX_ROWS_PER_UNIT = 1000
MAX_GROUPS_PER_UNIT = 100
MAX_BINS = 1000
#: Clamping bounds beyond this lose all precision in float64 sums.
MAX_ABS_BOUND = 1e15


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Filter(_Spec):
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


class Count(_Spec):
    """Number of rows in each group (after contribution bounding)."""

    op: Literal["count"]
    name: Identifier = "count"

    @property
    def output_name(self) -> str:
        """Column name in the result."""
        return self.name


class CountDistinct(_Spec):
    """Number of distinct people (privacy units) in each group."""

    op: Literal["count_distinct"]
    name: Identifier = "count_distinct"

    @property
    def output_name(self) -> str:
        """Column name in the result."""
        return self.name


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
        if max(abs(self.lower), abs(self.upper)) > MAX_ABS_BOUND:
            raise ValueError(f"bounds must lie within ±{MAX_ABS_BOUND:g}")
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


class Histogram(_Spec):
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


class AggregateSpec(_Spec):
    """A differentially private aggregate query over one dataset.

    The spec states its whole privacy cost: ``epsilon`` and ``delta`` are
    what the ledger charges (:func:`jobs.dp.accounting.cost`). Inside the
    job the engine splits them evenly between the distinct noisy
    measurements it needs (see :mod:`jobs.dp.plan`); groups are disjoint, so
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
        if self.noise == "gaussian" and self.delta <= 0.0:
            raise ValueError("gaussian noise needs delta > 0; give delta or use laplace noise")
        return self

    @property
    def datasets(self) -> list[str]:
        """The datasets the job reads."""
        return [self.dataset]


class ExtractSpec(_Spec):
    """An anonymized row-level release of one dataset (art. 37).

    Attributes:
        columns: Columns to release; direct identifiers among them are dropped
            unless listed in ``pseudonymize``.
        k: Target k-anonymity on the quasi-identifiers (the grant and grade may
            demand more: the larger applies).
        l: Distinct sensitive values each equivalence class must hold; required
            when a sensitive column is released.
        suppression_limit: Largest share of records that may be suppressed.
        pseudonymize: Direct identifiers replaced by keyed HMAC pseudonyms
            instead of dropped (the grant must allow linkage).
        hierarchies: Generalization hierarchy per quasi-identifier (see
            :mod:`anonymize.hierarchies`, e.g. ``{"kind": "cuts", "levels":
            [[20, 40, 60], [40]]}``); a quasi-identifier not named here gets
            one chosen from its type and values.
    """

    kind: Literal["extract"]
    dataset: Identifier
    columns: list[Identifier] = Field(min_length=1, max_length=200)
    k: int = Field(default=5, ge=2, le=10_000)
    l: int | None = Field(default=None, ge=2, le=100)  # noqa: E741 - the model's own name
    suppression_limit: float = Field(default=0.05, ge=0.0, le=0.5)
    pseudonymize: list[Identifier] = Field(default_factory=list, max_length=20)
    hierarchies: dict[Identifier, Hierarchy] = Field(default_factory=dict, max_length=50)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if len(set(self.columns)) != len(self.columns):
            raise ValueError("columns lists a column twice")
        if len(set(self.pseudonymize)) != len(self.pseudonymize):
            raise ValueError("pseudonymize lists a column twice")
        for field_name, names in (
            ("pseudonymize", list(self.pseudonymize)),
            ("hierarchies", list(self.hierarchies)),
        ):
            outside = sorted(set(names) - set(self.columns))
            if outside:
                raise ValueError(
                    f"{field_name} names column(s) not in columns: {', '.join(outside)}; "
                    "add them to columns or remove them"
                )
        return self

    @property
    def datasets(self) -> list[str]:
        """The datasets the job reads."""
        return [self.dataset]


#: Largest width of a model's input after one-hot encoding.
MAX_TRAIN_INPUTS = 200
MAX_CATEGORIES = 100
MAX_CLASSES = 20


def _check_bounds(lower: float, upper: float) -> None:
    if not (math.isfinite(lower) and math.isfinite(upper)):
        raise ValueError("bounds must be finite numbers")
    if not lower < upper:
        raise ValueError("lower must be smaller than upper")
    if max(abs(lower), abs(upper)) > MAX_ABS_BOUND:
        raise ValueError(f"bounds must lie within ±{MAX_ABS_BOUND:g}")


def _check_distinct(values: list[Scalar], what: str) -> None:
    if len({(type(v).__name__, v) for v in values}) != len(values):
        raise ValueError(f"{what} must be distinct")


class TrainFeature(_Spec):
    """One model input: a numeric column with declared bounds, or a categorical one.

    A numeric value is clipped to ``[lower, upper]`` and scaled to [0, 1]; a
    categorical value is one-hot encoded over the declared ``categories``
    (a value outside them encodes as all zeros). The bounds and categories
    are the operator's declaration, never read from the data.
    """

    column: Identifier
    lower: float | None = None
    upper: float | None = None
    categories: list[Scalar] | None = Field(default=None, min_length=2, max_length=MAX_CATEGORIES)

    @model_validator(mode="after")
    def _numeric_or_categorical(self) -> Self:
        if self.categories is not None:
            if self.lower is not None or self.upper is not None:
                raise ValueError("a feature has either bounds (numeric) or categories, not both")
            _check_distinct(self.categories, "categories")
            return self
        if self.lower is None or self.upper is None:
            raise ValueError("a numeric feature needs lower and upper bounds (or give categories)")
        _check_bounds(self.lower, self.upper)
        return self

    @property
    def width(self) -> int:
        """Number of model inputs the feature encodes to."""
        return 1 if self.categories is None else len(self.categories)


class TrainLabel(_Spec):
    """What a model predicts.

    Exactly one of:

    - ``classes``: a categorical column with its declared classes (rows whose
      label is not one of them are left out);
    - ``threshold``: a numeric column turned into a binary label, class 1 when
      the value is at least the threshold, class 0 below;
    - ``lower`` and ``upper``: a numeric target clipped to these bounds
      (linear regression).
    """

    column: Identifier
    classes: list[Scalar] | None = Field(default=None, min_length=2, max_length=MAX_CLASSES)
    threshold: float | None = None
    lower: float | None = None
    upper: float | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        bounded = self.lower is not None or self.upper is not None
        kinds = (self.classes is not None) + (self.threshold is not None) + bounded
        if kinds != 1:
            raise ValueError("a label has exactly one of: classes, threshold, or lower and upper")
        if self.classes is not None:
            _check_distinct(self.classes, "classes")
        if self.threshold is not None and not math.isfinite(self.threshold):
            raise ValueError("threshold must be a finite number")
        if bounded:
            if self.lower is None or self.upper is None:
                raise ValueError("a numeric label needs both lower and upper")
            _check_bounds(self.lower, self.upper)
        return self

    @property
    def is_classification(self) -> bool:
        """Whether the label is a class (declared classes or a threshold)."""
        return self.classes is not None or self.threshold is not None


class LogisticRegressionModel(_Spec):
    """diffprivlib's logistic regression (objective perturbation; one-vs-rest, ε split by class).

    Attributes:
        C: Inverse regularization strength. Objective perturbation spends
            2·ln(1 + data_norm·C/4) of ε on the regularizer alone (Chaudhuri et
            al. 2011), so on inputs scaled to [0, 1] a small C (default 0.1)
            leaves more of ε for the fit than diffprivlib's default of 1.
    """

    type: Literal["logistic_regression"]
    C: float = Field(default=0.1, gt=0.0, le=1e4)
    max_iter: int = Field(default=100, ge=1, le=1000)


class LinearRegressionModel(_Spec):
    """diffprivlib's linear regression (functional mechanism); the label needs bounds."""

    type: Literal["linear_regression"]


class GaussianNBModel(_Spec):
    """diffprivlib's Gaussian naive Bayes (noisy class counts, means and variances)."""

    type: Literal["gaussian_nb"]


class KMeansModel(_Spec):
    """diffprivlib's k-means (noisy Lloyd iterations); unsupervised: no label."""

    type: Literal["kmeans"]
    n_clusters: int = Field(ge=2, le=50)


class RandomForestModel(_Spec):
    """diffprivlib's random forest: random trees, noisy leaf labels, disjoint subsets per tree."""

    type: Literal["random_forest"]
    n_estimators: int = Field(default=10, ge=1, le=100)
    max_depth: int = Field(default=5, ge=1, le=15)


class MLPModel(_Spec):
    """A small multilayer perceptron classifier trained with opacus DP-SGD.

    Attributes:
        hidden_layers: Widths of the hidden layers (at most 4, each at most 256).
        batch_size: Expected batch size: each step samples every training row
            with probability ``batch_size / rows`` (Poisson sampling; rows is
            the catalogued row count), for ``epochs * rows / batch_size`` steps.
        max_grad_norm: Per-example gradient clipping norm.
        noise_multiplier: Gaussian noise σ relative to ``max_grad_norm``. When
            omitted, the smallest σ whose ε reaches the spec's ``epsilon`` is
            used; when given, the job is refused if its ε exceeds ``epsilon``.
    """

    type: Literal["mlp"]
    hidden_layers: list[Annotated[int, Field(ge=1, le=256)]] = Field(
        default_factory=lambda: [32], min_length=1, max_length=4
    )
    activation: Literal["relu", "tanh"] = "relu"
    epochs: int = Field(default=5, ge=1, le=50)
    batch_size: int = Field(default=64, ge=8, le=4096)
    optimizer: Literal["sgd", "adam"] = "adam"
    learning_rate: float = Field(default=0.01, gt=0.0, le=10.0)
    max_grad_norm: float = Field(default=1.0, gt=0.0, le=100.0)
    noise_multiplier: float | None = Field(default=None, ge=0.3, le=100.0)


AnyTrainModel = (
    LogisticRegressionModel
    | LinearRegressionModel
    | GaussianNBModel
    | KMeansModel
    | RandomForestModel
    | MLPModel
)
TrainModel = Annotated[AnyTrainModel, Field(discriminator="type")]


class TrainSpec(_Spec):
    """A differentially private model trained on one dataset; see :mod:`jobs.kinds.train.engine`.

    diffprivlib models are pure ε-DP (``delta`` must be 0); the ``mlp`` is
    trained with DP-SGD, an (ε, δ) guarantee (``delta`` must be > 0). A
    person's rows count once: at most one row per privacy unit enters.

    Attributes:
        model: The model family and its hyper-parameters (discriminated by ``type``).
        features: Model inputs with declared bounds or categories.
        label: What the model predicts; none for ``kmeans``, bounds for
            ``linear_regression``, classes or a threshold for the classifiers.
        holdout_fraction: Share of people (chosen by a keyed hash, so the split
            does not depend on anyone else's data) kept out of training to
            measure the model with DP counts; 0 reports no metrics.
    """

    kind: Literal["train"]
    dataset: Identifier
    model: TrainModel
    features: list[TrainFeature] = Field(min_length=1, max_length=50)
    label: TrainLabel | None = None
    epsilon: float = Field(ge=MIN_EPSILON_PER_JOB, le=MAX_EPSILON_PER_JOB)
    delta: float = Field(default=0.0, ge=0.0, le=MAX_DELTA_PER_JOB)
    holdout_fraction: float = Field(default=0.2, ge=0.0, le=0.5)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        columns = [f.column for f in self.features]
        if len(set(columns)) != len(columns):
            raise ValueError("features list a column twice")
        if sum(f.width for f in self.features) > MAX_TRAIN_INPUTS:
            raise ValueError(f"features encode to more than {MAX_TRAIN_INPUTS} inputs")
        kind = self.model.type
        if kind == "kmeans":
            if self.label is not None:
                raise ValueError("kmeans is unsupervised: give no label")
        elif self.label is None:
            raise ValueError(f"{kind} needs a label")
        elif self.label.column in columns:
            raise ValueError("the label column cannot also be a feature")
        elif kind == "linear_regression" and self.label.is_classification:
            raise ValueError("linear_regression needs a numeric label with lower and upper")
        elif kind != "linear_regression" and not self.label.is_classification:
            raise ValueError(f"{kind} is a classifier: give the label classes or a threshold")
        if kind == "mlp" and self.delta <= 0.0:
            raise ValueError("DP-SGD (mlp) is (epsilon, delta)-DP: give delta > 0")
        if kind != "mlp" and self.delta != 0.0:
            raise ValueError(f"{kind} is pure epsilon-DP: set delta to 0")
        return self

    @property
    def datasets(self) -> list[str]:
        """The datasets the job reads."""
        return [self.dataset]


#: Largest Python source a custom job may send inline (UTF-8 bytes).
MAX_CUSTOM_SOURCE_BYTES = 1_000_000
#: Largest zip a custom job may send (decoded bytes; base64 adds a third).
MAX_CUSTOM_ARCHIVE_BYTES = 5 * 1024 * 1024
#: A dataset name as the catalog writes it (no slash: it becomes ``/data/<name>.parquet``).
DatasetName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[\w.@-]+$")]
#: A relative path of ``.py`` file whose parts start with a letter, digit or underscore.
EntryPoint = Annotated[
    str,
    Field(
        min_length=4,
        max_length=200,
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*\.py$",
    ),
]


class CustomSpec(_Spec):
    """Operator code run in a jail beside the data; see :mod:`jobs.kinds.custom.engine`.

    Exactly one of ``source`` and ``archive`` carries the code. Its outputs
    are never differentially private by construction: they always need review.

    Attributes:
        datasets: Granted datasets the code may read at ``/data/<name>.parquet``.
        source: One Python file (at most 1 MB), run as ``/code/<entrypoint>``.
        archive: A base64 zip (at most 5 MiB) of ``.py`` and small data files,
            unpacked at ``/code``; ``entrypoint`` names the file to run.
        entrypoint: The file to run, relative to ``/code``.
    """

    kind: Literal["custom"]
    datasets: list[DatasetName] = Field(min_length=1, max_length=5)
    source: str | None = Field(default=None, min_length=1, max_length=MAX_CUSTOM_SOURCE_BYTES)
    archive: str | None = Field(
        default=None, min_length=4, max_length=(MAX_CUSTOM_ARCHIVE_BYTES + 2) // 3 * 4
    )
    entrypoint: EntryPoint = "main.py"

    @model_validator(mode="after")
    def _one_code(self) -> Self:
        if (self.source is None) == (self.archive is None):
            raise ValueError("give exactly one of 'source' (a Python file) and 'archive' (a zip)")
        if self.source is not None and len(self.source.encode()) > MAX_CUSTOM_SOURCE_BYTES:
            raise ValueError(f"source is larger than {MAX_CUSTOM_SOURCE_BYTES} bytes")
        if len(set(self.datasets)) != len(self.datasets):
            raise ValueError("datasets are listed more than once")
        return self


AnySpec = AggregateSpec | ExtractSpec | TrainSpec | CustomSpec
JobSpec = Annotated[AnySpec, Field(discriminator="kind")]
_ADAPTER: TypeAdapter[AnySpec] = TypeAdapter(JobSpec)


def parse_job_spec(data: object) -> AnySpec:
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


#: Catalog dtypes a filter value may be compared with, and the JSON type it must have.
_FILTER_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    **{d: ((int, float), "numbers") for d in NUMERIC_DTYPES},
    "String": ((str,), "text"),
    "Categorical": ((str,), "text"),
    "Boolean": ((bool,), "true or false"),
}


def _check_filter_type(f: Filter, dtype: str) -> None:
    """Refuse a filter whose value cannot be compared with its column (before any charge)."""
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
        _check_filter_type(f, dtypes[f.column])
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
