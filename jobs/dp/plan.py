"""From a spec and its dataset's public context to calibrated noisy measurements.

A plan is everything about a job that depends only on public information
(the spec and :class:`DatasetContext`), never on the data: which integer
measurements are taken per group, their sensitivities, the noise law of
each, the partition-selection threshold and the privacy charge. Estimate
and run build the same plan, so they agree on cost and on error bars.

Measurements. Aggregates are answered from a small set of distinct noisy
integer measurements, shared where possible (a mean reuses a requested sum
with the same bounds; counts of non-null values are the row count when the
catalog says the column has no nulls; every row is one person when the
dataset has no privacy-unit column):

=========  ====================================================  ==========  =========
kind       per group, after contribution bounding                ℓ1          ℓ2²
=========  ====================================================  ==========  =========
units      distinct people (suppression, selection, distinct)    g           g
rows       rows                                                  k           k²
nonnull    rows whose column is not null                         k           k²
sum        Σ round(clamp(x) / γ)                                 k·B         (k·B)²
csum       Σ round((clamp(x) - mid) / γ)                         k·B         (k·B)²
csq        Σ round(((clamp(x) - mid)² - h²/2) / γ)               k·B         (k·B)²
hist       rows per declared bin                                 k           k²
tree       rows per node of a binary tree over [lower, upper]    D·k         D·k²
=========  ====================================================  ==========  =========

k = max_rows_per_unit, g = min(max_groups_per_unit, k) (1 without group_by),
B the largest integer one row adds, D the tree depth. Real values are put on
a power-of-two grid γ before summing, so every measurement is an exact
integer: sums are exact and associative (partials merge exactly) and the
integer noise of :mod:`jobs.dp.mechanisms` closes the floating-point attack
(Mironov 2012; Balcer & Vadhan 2018 for DP on a grid). γ is chosen about
max(2^20, 8·max_rows) times finer than the noise, so rounding moves a sum by
far less than one noise scale, and coarser when needed for a cell's integer
sum to stay below 2^53 (the engine sums in doubles, exactly, below it).

Budget. The spec's ε (Laplace) or zCDP ρ (Gaussian, from (ε, δ) by Bun &
Steinke 2016) is split evenly between the distinct measurements (sequential
composition); each covers all groups at once through its ℓ1 / ℓ2
sensitivity over groups, which contribution bounding makes finite (Wilson
et al. 2020). Discovered group keys cost δ (all of it under Laplace noise,
half under Gaussian, the other half paying the ρ → (ε, δ) conversion).

References:
    Balcer, V., Vadhan, S. (2018). Differential Privacy on Finite Computers. ITCS.
    Bun, M., Steinke, T. (2016). Concentrated Differential Privacy. TCC.
    Mironov, I. (2012). On significance of the least significant bits for
    differential privacy. CCS.
    Wilson, R. J. et al. (2020). Differentially Private SQL with Bounded User
    Contribution. PoPETs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

from jobs.dp.accounting import Charge, rho_for
from jobs.dp.mechanisms import NoiseLaw
from jobs.dp.partition import selection_threshold
from jobs.errors import InvalidJobSpec
from jobs.kinds.aggregate.spec import (
    AggregateSpec,
    AnyAggregate,
    Count,
    CountDistinct,
    Histogram,
    Mean,
    Median,
    Quantile,
    Sum,
    Variance,
)

#: Tree depth for quantiles: 2^8 = 256 leaves over [lower, upper].
TREE_DEPTH = 8
#: Most cells a query over public keys may have (the product of the key domains).
MAX_PUBLIC_CELLS = 1_000_000
#: Assumed public size bound when a caller gives no context (tests, benchmarks).
DEFAULT_MAX_ROWS = 1_000_000_000
#: Slack of :func:`rows_bound` over twice the public count (covers small tables' noise).
_BOUND_SLACK = 10_000


def rows_bound(public_rows: int) -> int:
    """A public upper bound on a table's rows from its public (noisy, rounded) count.

    The integer grids of sums are sized from the table's size; sized from the
    exact count, the grid (so the released sums' resolution and the estimate's
    errors) would tell the exact count's power-of-two band. The public count
    is the exact one plus discrete Laplace noise of scale 10, rounded to two
    significant figures (at most 5 % low), so twice it plus 10,000 exceeds
    the exact count except with probability below e^-500.

    >>> rows_bound(0), rows_bound(1_000_000)
    (10000, 2010000)
    """
    return 2 * max(public_rows, 0) + _BOUND_SLACK


_GRID_BITS = 20
_SUM_LIMIT = 1 << 53

Kind = Literal["units", "rows", "nonnull", "sum", "csum", "csq", "hist", "tree"]
KeyMode = Literal["none", "public", "discovered"]


@dataclass(frozen=True)
class DatasetContext:
    """What the catalog says about a dataset; all of it public.

    Attributes:
        privacy_unit: Column identifying a person (e.g. ``resident_id``);
            ``None`` when each row is a different person.
        public_keys: Declared domains of group-key columns (e.g. the 13
            cities). Grouping by them releases every declared key.
        min_cell: Small-cell threshold from the grade (10 general, 20 important).
        max_rows: Public bound on the table's size (its catalogued row count).
        non_null_columns: Columns the catalog declares free of nulls; a mean of
            one reuses the row count instead of counting non-null values.
    """

    privacy_unit: str | None = None
    public_keys: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    min_cell: int = 0
    max_rows: int = DEFAULT_MAX_ROWS
    non_null_columns: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.min_cell < 0 or self.max_rows < 1:
            raise InvalidJobSpec("min_cell must be >= 0 and max_rows >= 1")
        keys = {c: tuple(dict.fromkeys(v)) for c, v in self.public_keys.items()}
        object.__setattr__(self, "public_keys", keys)
        object.__setattr__(self, "non_null_columns", frozenset(self.non_null_columns))

    def as_dict(self) -> dict[str, Any]:
        """Plain values, to cross a process boundary (see :meth:`from_dict`)."""
        return {
            "privacy_unit": self.privacy_unit,
            "public_keys": {c: list(v) for c, v in self.public_keys.items()},
            "min_cell": self.min_cell,
            "max_rows": self.max_rows,
            "non_null_columns": sorted(self.non_null_columns),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DatasetContext:
        """Inverse of :meth:`as_dict`."""
        return cls(
            privacy_unit=data.get("privacy_unit"),
            public_keys=data.get("public_keys") or {},
            min_cell=int(data.get("min_cell", 0)),
            max_rows=int(data.get("max_rows", DEFAULT_MAX_ROWS)),
            non_null_columns=frozenset(data.get("non_null_columns") or ()),
        )


@dataclass(frozen=True)
class Request:
    """What is measured, before calibration; equal requests share one measurement."""

    kind: Kind
    column: str | None = None
    lower: float = 0.0
    upper: float = 0.0
    edges: tuple[float, ...] = ()


@dataclass(frozen=True)
class Measurement:
    """A calibrated integer measurement per group.

    Attributes:
        index: Position in the plan; names the exact table's columns.
        request: What is measured.
        width: Integers per group stored in the exact table (bins, tree leaves, or 1).
        grid: Value of one integer unit (a power of two; 1 for counts).
        offset: What gridding subtracts: the midpoint from a value (csum), h²/2 from a
            squared deviation (csq); 0 otherwise.
        bound: Largest absolute integer one row adds to one group.
        l1: ℓ1 sensitivity over all groups and bins, in integer units.
        l2_squared: Squared ℓ2 sensitivity, in integer units.
        law: The noise added to each noisy integer.
    """

    index: int
    request: Request
    width: int
    grid: float
    offset: float
    bound: int
    l1: int
    l2_squared: int
    law: NoiseLaw

    @property
    def columns(self) -> list[str]:
        """Its columns in the exact (partial) table."""
        if self.width == 1 and self.request.kind not in ("hist", "tree"):
            return [f"__m{self.index}"]
        return [f"__m{self.index}_{j}" for j in range(self.width)]

    @property
    def nodes(self) -> int:
        """Noisy integers per group (a tree's nodes, else its width)."""
        return 2 ** (TREE_DEPTH + 1) - 2 if self.request.kind == "tree" else self.width


@dataclass(frozen=True)
class Use:
    """How one aggregate is answered: measurement indices."""

    aggregate: AnyAggregate
    value: int
    denominator: int | None = None
    squares: int | None = None


@dataclass(frozen=True)
class Plan:
    """Everything public about a job's computation."""

    spec: AggregateSpec
    context: DatasetContext
    measurements: tuple[Measurement, ...]
    uses: tuple[Use, ...]
    units: int
    rows_per_unit: int
    groups_per_unit: int
    key_mode: KeyMode
    threshold: int | None
    rho: float | None
    charge: Charge

    @property
    def public_columns(self) -> list[str]:
        """Group keys with a declared domain."""
        return [c for c in self.spec.group_by if c in self.context.public_keys]


def make_plan(spec: AggregateSpec, context: DatasetContext) -> Plan:
    """Calibrate ``spec`` for ``context``.

    Raises:
        InvalidJobSpec: Keys to discover without δ, too many public cells, or a
            noise scale out of range; the message names columns, never values.
    """
    key_mode = _key_mode(spec, context)
    person_rows = context.privacy_unit is not None
    k = spec.max_rows_per_unit if person_rows else 1
    g = min(spec.max_groups_per_unit, k) if spec.group_by else 1

    requests: list[Request] = []

    def need(request: Request) -> int:
        if request not in requests:
            requests.append(request)
        return requests.index(request)

    units = need(Request("units"))
    rows_kind: Kind = "rows" if person_rows else "units"
    uses: list[Use] = []
    sums = {(a.column, a.lower, a.upper) for a in spec.aggregates if isinstance(a, Sum)}
    for a in spec.aggregates:
        if isinstance(a, Count):
            uses.append(Use(a, need(Request(rows_kind))))
        elif isinstance(a, CountDistinct):
            uses.append(Use(a, units))
        elif isinstance(a, Histogram):
            uses.append(Use(a, need(Request("hist", a.column, edges=tuple(a.bins)))))
        elif isinstance(a, Quantile | Median):
            uses.append(Use(a, need(Request("tree", a.column, a.lower, a.upper))))
        else:
            nonnull = (
                Request(rows_kind)
                if a.column in context.non_null_columns
                else Request("nonnull", a.column)
            )
            if isinstance(a, Sum):
                uses.append(Use(a, need(Request("sum", a.column, a.lower, a.upper))))
            elif isinstance(a, Mean):
                kind: Kind = "sum" if (a.column, a.lower, a.upper) in sums else "csum"
                value = need(Request(kind, a.column, a.lower, a.upper))
                uses.append(Use(a, value, need(nonnull)))
            elif isinstance(a, Variance):
                value = need(Request("csum", a.column, a.lower, a.upper))
                squares = need(Request("csq", a.column, a.lower, a.upper))
                uses.append(Use(a, value, need(nonnull), squares))

    share, rho, charge = _budget(spec, len(requests), key_mode == "discovered")
    try:
        measurements = tuple(
            _calibrate(i, r, spec.noise, share, k, g, context.max_rows)
            for i, r in enumerate(requests)
        )
    except ValueError as err:
        raise InvalidJobSpec(
            "the noise this query needs is out of the supported range; raise epsilon or "
            "ask for fewer aggregates"
        ) from err
    threshold = None
    if key_mode == "discovered":
        selection_delta = spec.delta if spec.noise == "laplace" else spec.delta / 2
        threshold = selection_threshold(measurements[units].law, g, selection_delta)
    return Plan(
        spec, context, measurements, tuple(uses), units, k, g, key_mode, threshold, rho, charge
    )


def _key_mode(spec: AggregateSpec, context: DatasetContext) -> KeyMode:
    if not spec.group_by:
        return "none"
    hidden = [c for c in spec.group_by if c not in context.public_keys]
    if not hidden:
        cells = math.prod(len(context.public_keys[c]) for c in spec.group_by)
        if cells > MAX_PUBLIC_CELLS:
            raise InvalidJobSpec(
                f"grouping by {', '.join(spec.group_by)} makes more than "
                f"{MAX_PUBLIC_CELLS:,} cells; group by fewer or coarser keys"
            )
        return "public"
    if spec.delta <= 0:
        raise InvalidJobSpec(
            f"group key(s) {', '.join(hidden)} have no public domain in the catalog: give "
            "delta > 0 so their values are discovered by DP partition selection, or ask the "
            "data bureau to declare the key domain"
        )
    return "discovered"


def _budget(
    spec: AggregateSpec, count: int, discovered: bool
) -> tuple[Fraction, float | None, Charge]:
    """Per-measurement share (ε or ρ), total ρ, and the job's charge."""
    if spec.noise == "laplace":
        charge = Charge(epsilon=spec.epsilon, delta=spec.delta)
        return Fraction(spec.epsilon) / count, None, charge
    selection = spec.delta / 2 if discovered else 0.0
    conversion = spec.delta - selection
    rho = rho_for(spec.epsilon, conversion)
    charge = Charge(rho=rho, delta=selection, conversion_delta=conversion)
    return Fraction(rho) / count, rho, charge


def _calibrate(
    index: int, request: Request, noise: str, share: Fraction, k: int, g: int, max_rows: int
) -> Measurement:
    kind = request.kind
    width, grid, offset, bound = 1, 1.0, 0.0, 1
    if kind == "units":
        l1, l2_squared = g, g
    elif kind in ("rows", "nonnull"):
        l1, l2_squared = k, k * k
    elif kind == "hist":
        width = len(request.edges) - 1
        l1, l2_squared = k, k * k
    elif kind == "tree":
        width = 2**TREE_DEPTH
        l1, l2_squared = TREE_DEPTH * k, TREE_DEPTH * k * k
    else:
        half = (request.upper - request.lower) / 2
        if kind == "sum":
            largest = max(abs(request.lower), abs(request.upper))
        elif kind == "csum":
            offset, largest = request.lower + half, half
        else:
            offset, largest = half * half / 2, half * half / 2
        grid = _grid(largest * k, noise, share, max_rows)
        bound = math.ceil(largest / grid) + 1  # +1: float rounding of the offset and scale
        # A cell holds at most max_rows people of k rows each; its integer sum is taken
        # in doubles, exact while every partial sum stays below 2^53.
        while bound * max_rows * k >= _SUM_LIMIT:
            grid *= 2
            bound = math.ceil(largest / grid) + 1
        l1, l2_squared = k * bound, (k * bound) ** 2
    law = (
        NoiseLaw.discrete_laplace(l1, share)
        if noise == "laplace"
        else NoiseLaw.discrete_gaussian(l2_squared, share)
    )
    return Measurement(index, request, width, grid, offset, bound, l1, l2_squared, law)


def _grid(sensitivity: float, noise: str, share: Fraction, max_rows: int) -> float:
    """A power of two about max(2^20, 8·max_rows) times below the noise scale, in value units."""
    if sensitivity == 0:
        return 1.0
    if noise == "laplace":
        scale = sensitivity / float(share)
    else:
        scale = sensitivity / math.sqrt(2 * float(share))
    finer = max(2**_GRID_BITS, 8 * max_rows)
    return 2.0 ** math.floor(math.log2(scale / finer))
