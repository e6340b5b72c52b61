"""The query builder: ``ds.query().filter(...).group_by(...).agg(...).epsilon(...)``.

Each step returns a new, immutable object of a type that offers only the
steps that make sense next (after Tumult Analytics' ``QueryBuilder`` →
``GroupedQueryBuilder`` → ``Query``): ``group_by`` leads to a grouped query
that can only be aggregated; ``agg`` leads to an :class:`AggregateQuery`
that can be tried on dummy data but not submitted; only ``.epsilon(...)``
makes a :class:`PrivateQuery`, which states its privacy cost and can be
estimated and submitted. Columns are checked against the catalog at each
step with the service's own rules (unknown column, a direct identifier in a
query, a non-numeric measure), so a mistake fails where it is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import polars as pl
from pydantic import ValidationError

from jobs.kinds import parse_job_spec
from jobs.kinds.aggregate import KIND as AGGREGATE
from jobs.kinds.aggregate.spec import (
    SUPPRESSED,
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
from jobs.spec import Filter, Scalar
from policies.catalog import ColumnUse, check_column_use
from policies.errors import InvalidJobSpec
from sandbox.client import html as H
from sandbox.client import local as _client_local
from sandbox.client.job import Job
from sandbox.client.protocols import QueriedDataset
from sandbox.client.results import Estimate

FilterOp = Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "==", "!=", "<", "<=", ">", ">="]
_SYMBOLS = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}


def _build(cls: type[Any], **fields: Any) -> Any:
    try:
        return cls(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or fields['op']}: {e['msg']}"
            for e in err.errors(include_input=False, include_url=False)
        )
        raise InvalidJobSpec(f"{fields['op']}(): {problems}") from None


def count(name: str | None = None) -> Count:
    """Rows per group (people per group when every row is a person)."""
    return _build(Count, op="count", name=name)  # type: ignore[no-any-return]


def count_distinct(name: str | None = None) -> CountDistinct:
    """Distinct people (the dataset's privacy unit) per group."""
    return _build(CountDistinct, op="count_distinct", name=name)  # type: ignore[no-any-return]


def sum_(column: str, lower: float, upper: float, name: str | None = None) -> Sum:
    """Sum of ``column``, each value clamped to ``[lower, upper]`` (the bounds set the noise)."""
    return _build(Sum, op="sum", column=column, lower=lower, upper=upper, name=name)  # type: ignore[no-any-return]


def mean(column: str, lower: float, upper: float, name: str | None = None) -> Mean:
    """Mean of ``column``'s values, each clamped to ``[lower, upper]``."""
    return _build(Mean, op="mean", column=column, lower=lower, upper=upper, name=name)  # type: ignore[no-any-return]


def variance(column: str, lower: float, upper: float, name: str | None = None) -> Variance:
    """Population variance of ``column``'s values, each clamped to ``[lower, upper]``."""
    return _build(Variance, op="variance", column=column, lower=lower, upper=upper, name=name)  # type: ignore[no-any-return]


def quantile(
    column: str, q: float, lower: float, upper: float, name: str | None = None
) -> Quantile:
    """The ``q``-quantile of ``column`` within ``[lower, upper]``."""
    return _build(  # type: ignore[no-any-return]
        Quantile, op="quantile", column=column, q=q, lower=lower, upper=upper, name=name
    )


def median(column: str, lower: float, upper: float, name: str | None = None) -> Median:
    """The median of ``column`` within ``[lower, upper]``."""
    return _build(Median, op="median", column=column, lower=lower, upper=upper, name=name)  # type: ignore[no-any-return]


def histogram(column: str, edges: Sequence[float], name: str | None = None) -> Histogram:
    """Counts of ``column`` in bins ``[edges[i], edges[i+1])``; outliers go to the end bins."""
    return _build(Histogram, op="histogram", column=column, bins=list(edges), name=name)  # type: ignore[no-any-return]


def _known(ds: QueriedDataset, column: str, use: ColumnUse) -> None:
    columns = ds.columns_by_name
    if column not in columns:
        raise InvalidJobSpec(
            f"dataset '{ds.name}' has no column '{column}'; its columns are: {', '.join(columns)}"
        )
    check_column_use(column, columns[column].tag, use)


@dataclass(frozen=True)
class QueryBuilder:
    """A query on one dataset being written: add filters, then group or aggregate."""

    dataset: QueriedDataset
    filters: tuple[Filter, ...] = ()

    def filter(self, column: str, op: FilterOp, value: Scalar | Sequence[Scalar]) -> QueryBuilder:
        """Keep rows where ``column op value`` (``op`` as ``"ge"`` or ``">="``; ``"in"`` a list).

        Raises:
            InvalidJobSpec: Unknown column, a direct identifier (art. 37) or a value
                that does not fit the op or the column's type.
        """
        _known(self.dataset, column, ColumnUse.FILTER)
        name = _SYMBOLS.get(op, op)
        given = list(value) if isinstance(value, list | tuple | set | frozenset) else value
        f: Filter = _build(Filter, op=name, column=column, value=given)
        numeric = self.dataset.columns_by_name[column].is_numeric
        values = given if isinstance(given, list) else [given]
        if numeric and any(isinstance(v, str) for v in values):
            raise InvalidJobSpec(f"column '{column}' holds numbers; compare it with numbers")
        return replace(self, filters=(*self.filters, f))

    def group_by(self, *columns: str) -> GroupedQuery:
        """Group by ``columns`` (keys the catalog declares public appear in full).

        Raises:
            InvalidJobSpec: Unknown column or one whose tag forbids grouping (art. 37).
        """
        if not columns:
            raise InvalidJobSpec("group_by needs at least one column; or call .agg(...) directly")
        for c in columns:
            _known(self.dataset, c, ColumnUse.GROUP_BY)
        return GroupedQuery(self.dataset, self.filters, tuple(columns))

    def agg(self, *aggregates: AnyAggregate) -> AggregateQuery:
        """Aggregate all kept rows into one row."""
        return GroupedQuery(self.dataset, self.filters, ()).agg(*aggregates)

    def _repr_html_(self) -> str:
        return H.fields(f"query on {self.dataset.name}", {"filters": _filters(self.filters)})


@dataclass(frozen=True)
class GroupedQuery:
    """A grouped query: only ``agg`` comes next."""

    dataset: QueriedDataset
    filters: tuple[Filter, ...]
    keys: tuple[str, ...]

    def agg(self, *aggregates: AnyAggregate) -> AggregateQuery:
        """What to compute per group: :func:`count`, :func:`mean`, :func:`histogram`, ...

        Raises:
            InvalidJobSpec: No aggregate, or one measuring an unknown, forbidden or
                non-numeric column.
        """
        if not aggregates:
            raise InvalidJobSpec("agg needs at least one aggregate, e.g. agg(count())")
        for a in aggregates:
            if not isinstance(a, Count | CountDistinct):
                _known(self.dataset, a.column, ColumnUse.MEASURE)
                if not self.dataset.columns_by_name[a.column].is_numeric:
                    raise InvalidJobSpec(
                        f"column '{a.column}' is not numeric and cannot be aggregated with "
                        f"{a.op}; count rows with count() instead"
                    )
        return AggregateQuery(self.dataset, self.filters, self.keys, tuple(aggregates))

    def _repr_html_(self) -> str:
        return H.fields(
            f"query on {self.dataset.name}",
            {"filters": _filters(self.filters), "group by": list(self.keys)},
        )


@dataclass(frozen=True)
class AggregateQuery:
    """A complete query without a privacy cost: try it on dummy data, then set ``epsilon``."""

    dataset: QueriedDataset
    filters: tuple[Filter, ...]
    keys: tuple[str, ...]
    aggregates: tuple[AnyAggregate, ...]

    def epsilon(self, epsilon: float) -> PrivateQuery:
        """Spend ``epsilon`` on this query (the ledger charges it when submitted).

        Raises:
            InvalidJobSpec: ε out of range, or output names that collide.
        """
        return PrivateQuery(self, Cost(epsilon))

    @property
    def output_columns(self) -> list[str]:
        """The result's column names: keys, each aggregate with its interval, ``suppressed``."""
        return [
            *self.keys,
            *(
                n
                for a in self.aggregates
                for n in (a.output_name, f"{a.output_name}_ci_low", f"{a.output_name}_ci_high")
            ),
            SUPPRESSED,
        ]

    def run_on(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The exact answer on a local (dummy) frame, shaped like the release; no noise.

        Interval columns are null; no contribution bounding, no suppression.
        """
        return _client_local.evaluate(
            frame,
            filters=self.filters,
            group_by=self.keys,
            aggregates=self.aggregates,
            privacy_unit=self.dataset.privacy_unit,
            public_keys=self.dataset.public_keys,
        )

    def _summary(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset.name,
            "filters": _filters(self.filters),
            "group by": list(self.keys),
            "aggregates": [a.output_name for a in self.aggregates],
        }

    def _repr_html_(self) -> str:
        return H.fields("aggregate query", self._summary(), "set its cost: .epsilon(0.5)")

    if not TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any:
            if name in ("submit", "estimate", "to_spec", "delta", "noise", "contribution"):
                raise AttributeError(
                    f"a query needs its privacy cost before .{name}(): set it first, "
                    f"e.g. query.epsilon(0.5).{name}(...)"
                )
            raise AttributeError(name)


@dataclass(frozen=True)
class Cost:
    """What a query spends and how it bounds one person's influence.

    Attributes:
        epsilon: ε charged to the grant.
        delta: δ charged (pays for gaussian noise and for discovering undeclared keys).
        noise: ``laplace`` (pure ε-DP) or ``gaussian`` (needs δ > 0).
        max_rows_per_unit: Rows of one person that enter the query.
        max_groups_per_unit: Groups one person's rows may fall in.
    """

    epsilon: float
    delta: float = 0.0
    noise: Literal["laplace", "gaussian"] = "laplace"
    max_rows_per_unit: int = 1
    max_groups_per_unit: int = 1

    def _repr_html_(self) -> str:
        items = {
            "ε": self.epsilon,
            "δ": self.delta,
            "noise": self.noise,
            "rows per person": self.max_rows_per_unit,
            "groups per person": self.max_groups_per_unit,
        }
        return H.fields("privacy cost", items)


@dataclass(frozen=True)
class PrivateQuery:
    """A query with its privacy cost: estimate it, submit it, or run it on dummy data.

    The spec is validated when the object is made (ε and δ ranges, gaussian
    noise needing δ, distinct output names), where the mistake is written.
    """

    query: AggregateQuery
    cost: Cost

    def __post_init__(self) -> None:
        self.spec  # noqa: B018 - validates now

    def _with(self, **changes: Any) -> PrivateQuery:
        return PrivateQuery(self.query, replace(self.cost, **changes))

    def epsilon(self, epsilon: float) -> PrivateQuery:
        """The same query at another ε."""
        return self._with(epsilon=epsilon)

    def delta(self, delta: float) -> PrivateQuery:
        """Spend ``delta`` too: pays for gaussian noise and for discovering undeclared keys."""
        return self._with(delta=delta)

    def noise(self, noise: Literal["laplace", "gaussian"]) -> PrivateQuery:
        """``laplace`` (pure ε-DP, the default) or ``gaussian`` (needs δ > 0)."""
        return self._with(noise=noise)

    def contribution(
        self, max_rows_per_unit: int = 1, max_groups_per_unit: int = 1
    ) -> PrivateQuery:
        """How many rows and groups of one person enter the query (higher: more noise)."""
        return self._with(
            max_rows_per_unit=max_rows_per_unit, max_groups_per_unit=max_groups_per_unit
        )

    @property
    def spec(self) -> AggregateSpec:
        """The validated job spec.

        Raises:
            InvalidJobSpec: The service would refuse it; the message says which field.
        """
        q = self.query
        data = {
            "kind": AGGREGATE.name,
            "dataset": q.dataset.name,
            "filters": [f.model_dump(mode="json") for f in q.filters],
            "group_by": list(q.keys),
            "aggregates": [a.model_dump(mode="json", exclude_none=True) for a in q.aggregates],
            "epsilon": self.cost.epsilon,
            "delta": self.cost.delta,
            "noise": self.cost.noise,
            "max_rows_per_unit": self.cost.max_rows_per_unit,
            "max_groups_per_unit": self.cost.max_groups_per_unit,
        }
        spec = parse_job_spec(data)
        assert isinstance(spec, AggregateSpec)
        return spec

    def to_spec(self) -> dict[str, Any]:
        """The JSON job spec, as ``client.submit(grant_id, spec)`` takes it."""
        return self.spec.model_dump(mode="json", exclude_none=True)

    @property
    def output_columns(self) -> list[str]:
        """The result's column names."""
        return self.query.output_columns

    def run_on(self, frame: pl.DataFrame) -> pl.DataFrame:
        """See :meth:`AggregateQuery.run_on` (no noise, spends nothing)."""
        return self.query.run_on(frame)

    def estimate(
        self, grant: int | None = None, *, expected_group_size: int | None = None
    ) -> Estimate:
        """Cost, expected error and small-cell warnings; spends nothing.

        ``grant`` as in :meth:`submit`; ``expected_group_size``: rows you expect per
        group (``None``: the data bureau's band from the catalog, if declared).
        """
        client = self.query.dataset.client
        gid = client.grant_for(self.query.dataset.name, AGGREGATE.name, grant)
        return client.estimate(gid, self.to_spec(), expected_group_size=expected_group_size)

    def submit(self, purpose: str, grant: int | None = None) -> Job:
        """Submit the query; ε is reserved now.

        Args:
            purpose: What the result is for (the reviewer reads it).
            grant: The grant to charge; ``None`` picks the one active grant covering
                the dataset for aggregates.

        Raises:
            InvalidRequest: Several grants fit; the message lists their ids.
            PolicyViolation: No active grant covers the dataset.
            BudgetExhausted: The grant cannot pay (nothing is charged).
        """
        client = self.query.dataset.client
        gid = client.grant_for(self.query.dataset.name, AGGREGATE.name, grant)
        return client.submit(gid, self.to_spec(), purpose=purpose)

    def _repr_html_(self) -> str:
        cost = {"ε": self.cost.epsilon, "δ": self.cost.delta, "noise": self.cost.noise}
        return H.fields("private aggregate query", self.query._summary() | cost)


def _filters(filters: Sequence[Filter]) -> list[str]:
    return [f"{f.column} {f.op} {f.value}" for f in filters]
