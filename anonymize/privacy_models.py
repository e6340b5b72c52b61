"""Privacy models and information loss, measured on a table with polars ``group_by``.

An equivalence class is the set of rows sharing their quasi-identifier
values. On those classes this module measures

- k-anonymity: the size of the smallest class (Sweeney 2002);
- distinct and entropy l-diversity of a sensitive column: the fewest
  distinct values in a class, and ``exp`` of the lowest entropy of a class
  (Machanavajjhala et al. 2007);
- t-closeness: the largest earth mover's distance between a class's
  distribution of the sensitive column and the table's, with the ordered
  distance for numbers and dates and the equal distance for categories
  (Li, Li and Venkatasubramanian 2007);

and the information a generalization lost:

- normalized certainty penalty, NCP (Xu et al. 2006): per cell, the share of
  the column's domain the released value covers: ``(max - min) / range`` of
  the input values it stands for when numeric, ``(distinct - 1) /
  (domain - 1)`` when categorical, 1 when the record is suppressed; the mean
  over cells is in ``[0, 1]`` and rises monotonically along nested levels;
- non-uniform entropy, as ARX precomputes it: in :mod:`anonymize.nu_entropy`;
- discernibility (Bayardo and Agrawal 2005) and the normalized average class
  size C_avg (LeFevre et al. 2006);
- generalization height: levels used over levels available (Sweeney's
  precision is one minus it).

References:
    L. Sweeney. k-anonymity: a model for protecting privacy. IJUFKS 10(5), 2002.
    A. Machanavajjhala, D. Kifer, J. Gehrke, M. Venkitasubramaniam.
    l-diversity: privacy beyond k-anonymity. ACM TKDD 1(1), 2007.
    N. Li, T. Li, S. Venkatasubramanian. t-closeness: privacy beyond
    k-anonymity and l-diversity. ICDE 2007.
    J. Xu, W. Wang, J. Pei, X. Wang, B. Shi, A. Fu. Utility-based
    anonymization using local recoding. KDD 2006.
    R. Bayardo, R. Agrawal. Data privacy through optimal k-anonymization. ICDE 2005.
    K. LeFevre, D. DeWitt, R. Ramakrishnan. Mondrian multidimensional
    k-anonymity. ICDE 2006.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from anonymize.errors import AnonymizationError

_ONE_CLASS = "__class"  # the key when there are no quasi-identifiers
_CODE = "__s"  # the sensitive value as its index in the domain

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PrivacyReport:
    """What :func:`measure` found; carries counts and measures, no data values."""

    rows: int
    classes: int
    k: int
    l_distinct: int | None = None
    l_entropy: float | None = None
    t: float | None = None


@dataclass(frozen=True, slots=True)
class SensitiveDomain:
    """The values of a sensitive column, in order, and their reference distribution.

    Li et al. measure a class against the distribution in the whole table;
    :mod:`anonymize.kanon` passes the input table's so suppression cannot
    move the target.
    """

    values: pl.Series
    probabilities: np.ndarray
    ordered: bool

    @classmethod
    def of(cls, values: pl.Series, *, ordered: bool | None = None) -> SensitiveDomain:
        """The domain and distribution of ``values`` (nulls left out).

        Args:
            values: The sensitive column of the reference table.
            ordered: Use the ordered distance; by default for numbers and dates.
        """
        if ordered is None:
            ordered = values.dtype.is_numeric() or values.dtype.is_temporal()
        counts = values.drop_nulls().value_counts(name="n").sort(values.name)
        total = max(int(counts["n"].sum()), 1)
        return cls(counts[values.name], counts["n"].to_numpy() / total, ordered)

    def codes(self, column: str) -> pl.Expr:
        """``column`` as indices into :attr:`values` (null where absent or null)."""
        index = pl.Series(range(len(self.values)), dtype=pl.UInt32)
        return pl.col(column).replace_strict(self.values, index, default=None).alias(_CODE)


def class_statistics(
    frame: pl.DataFrame,
    keys: Sequence[str],
    sensitive: str | None = None,
    *,
    entropy: bool = False,
    domain: SensitiveDomain | None = None,
    sums: Mapping[str, pl.Expr] | None = None,
) -> pl.DataFrame:
    """One row per equivalence class: its keys, ``size`` and what was asked.

    Args:
        frame: The table.
        keys: The quasi-identifier columns.
        sensitive: A column already coded as indices ``0..m-1`` into ``domain``
            (see :meth:`SensitiveDomain.codes`); adds ``distinct``.
        entropy: Add ``entropy`` (natural log) of the sensitive column.
        domain: Add ``emd``, the earth mover's distance to ``domain``'s distribution.
        sums: Extra per-class sums of row expressions, by output name.

    Returns:
        A frame with the key columns, ``size`` and the requested statistics.
    """
    keys = list(keys)
    if not keys:
        frame, keys = frame.with_columns(pl.lit(0, pl.UInt8).alias(_ONE_CLASS)), [_ONE_CLASS]
    row_sums = [expr.sum().alias(name) for name, expr in (sums or {}).items()]
    if sensitive is None:
        return frame.group_by(keys).agg(pl.len().alias("size"), *row_sums)
    if not entropy and domain is None:  # one pass suffices for distinct values
        distinct = pl.col(sensitive).drop_nulls().n_unique().alias("distinct")
        return frame.group_by(keys).agg(pl.len().alias("size"), distinct, *row_sums)
    cells = frame.group_by([*keys, sensitive]).agg(pl.len().alias("n"), *row_sums)
    known = pl.col(sensitive).is_not_null()
    stats = [
        pl.col("n").sum().alias("size"),
        known.sum().alias("distinct"),
        *[pl.col(name).sum() for name in (sums or {})],
    ]
    share = pl.col("n") / pl.col("n").filter(known).sum()
    if entropy:
        stats.append((-(share * share.log()).filter(known).sum()).alias("entropy"))
    table = cells.group_by(keys).agg(stats)
    if domain is not None:
        distances = _emd(cells.filter(known), keys, sensitive, domain)
        # A class whose sensitive values are all null has no distribution to compare: 0.
        table = table.join(distances, on=keys, how="left", nulls_equal=True).with_columns(
            pl.col("emd").fill_null(0.0)
        )
    return table


def _emd(cells: pl.DataFrame, keys: list[str], code: str, domain: SensitiveDomain) -> pl.DataFrame:
    """Earth mover's distance of each class to the domain's distribution (Li et al. 2007).

    Ordered distance over ``m`` sorted values: ``sum_i |P_i - Q_i| / (m - 1)``
    with cumulative distributions ``P``, ``Q``. ``P`` is a step function that
    changes only at values present in the class, and ``Q`` is nondecreasing,
    so each step's sum of ``|c - Q_i|`` over an index range splits where
    ``Q`` crosses ``c`` and comes from prefix sums of ``Q``: O(cells log m),
    never a class x domain grid. Equal distance: half the L1 distance.
    """
    q = domain.probabilities
    m = len(q)
    n, s = pl.col("n"), pl.col(code).cast(pl.Int64)
    p = n / n.sum().over(keys)
    if not domain.ordered or m < 2:
        qv = pl.lit(pl.Series(q)).gather(s)
        half_l1 = 0.5 * (1 + ((p - qv).abs() - qv).sum())
        return cells.group_by(keys).agg(half_l1.clip(0.0, 1.0).alias("emd"))
    cum_q = np.minimum(np.cumsum(q), 1.0)
    prefix = pl.lit(pl.Series(np.concatenate([[0.0], np.cumsum(cum_q)])))
    big_p = (n.cum_sum() / n.sum()).over(keys)  # P after this value, within the class
    high = s.shift(-1).over(keys).fill_null(m)
    cut = pl.lit(pl.Series(cum_q)).search_sorted(big_p, side="right").cast(pl.Int64).clip(s, high)
    step = (
        big_p * (cut - s)
        - (prefix.gather(cut) - prefix.gather(s))
        + (prefix.gather(high) - prefix.gather(cut))
        - big_p * (high - cut)
    )
    head = prefix.gather(s.min().over(keys))  # P = 0 before the class's first value
    return (
        cells.sort([*keys, code])
        .with_columns(step.alias("__step"), head.alias("__head"))
        .group_by(keys)
        .agg(
            ((pl.col("__step").sum() + pl.col("__head").first()) / (m - 1))
            .clip(0.0, 1.0)
            .alias("emd")
        )
    )


def emd(p: npt.ArrayLike, q: npt.ArrayLike, *, ordered: bool) -> float:
    """Earth mover's distance between two distributions over the same ``m`` values.

    Ordered: ``sum_i |P_i - Q_i| / (m - 1)`` with cumulative ``P``, ``Q``;
    equal distance: ``sum_i |p_i - q_i| / 2`` (Li et al. 2007, section 4).

    >>> round(emd([1/3, 1/3, 1/3, 0, 0, 0, 0, 0, 0], [1/9] * 9, ordered=True), 3)
    0.375
    """
    pa, qa = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    if ordered:
        return float(np.abs(np.cumsum(pa - qa)).sum() / max(len(pa) - 1, 1))
    return float(np.abs(pa - qa).sum() / 2)


def _check_columns(frame: pl.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AnonymizationError(
            f"column(s) {', '.join(repr(c) for c in missing)} not in the table: "
            "check the names against the schema"
        )


def measure(
    frame: pl.DataFrame,
    quasi_identifiers: Sequence[str],
    sensitive: str | None = None,
    *,
    ordered: bool | None = None,
    reference: pl.Series | None = None,
) -> PrivacyReport:
    """k, l and t of a table in one pass.

    Args:
        frame: The table as it would be released.
        quasi_identifiers: The columns an attacker may know.
        sensitive: The column whose values must not be inferred; adds l and t.
        ordered: Ordered distance for t; by default for numbers and dates.
        reference: The distribution t is measured against; by default the
            sensitive column of ``frame`` itself.

    Returns:
        The report; ``k`` is 0 for an empty table.

    Raises:
        AnonymizationError: A column is missing, or a sensitive value is not
            in ``reference``.
    """
    _check_columns(frame, [*quasi_identifiers, *([sensitive] if sensitive else [])])
    if sensitive is None:
        table = class_statistics(frame, quasi_identifiers)
        return PrivacyReport(frame.height, table.height, int(_extreme(table, "size", "min")))
    domain = SensitiveDomain.of(
        frame[sensitive] if reference is None else reference, ordered=ordered
    )
    coded = frame.select(*quasi_identifiers, domain.codes(sensitive))
    lost = coded[_CODE].null_count() - frame[sensitive].null_count()
    if lost:
        # the count stays in the server log: a message can reach an operator
        log.warning("t-closeness: %d value(s) of column %r not in the reference", lost, sensitive)
        raise AnonymizationError(
            f"column '{sensitive}' holds values that are not in the reference distribution: "
            "measure against a reference that covers the released table"
        )
    table = class_statistics(coded, quasi_identifiers, _CODE, entropy=True, domain=domain)
    return PrivacyReport(
        rows=frame.height,
        classes=table.height,
        k=int(_extreme(table, "size", "min")),
        l_distinct=int(_extreme(table, "distinct", "min")),
        l_entropy=math.exp(_extreme(table, "entropy", "min")) if table.height else 0.0,
        t=_extreme(table, "emd", "max"),
    )


def _extreme(table: pl.DataFrame, column: str, which: str) -> float:
    """The min or max of a statistic over the classes; 0 when there are none."""
    value = table.select(getattr(pl.col(column), which)()).item()
    return 0.0 if value is None else float(value)


def k_anonymity(frame: pl.DataFrame, quasi_identifiers: Sequence[str]) -> int:
    """The size of the smallest equivalence class (0 for an empty table)."""
    return measure(frame, quasi_identifiers).k


def distinct_l_diversity(
    frame: pl.DataFrame, quasi_identifiers: Sequence[str], sensitive: str
) -> int:
    """The fewest distinct non-null sensitive values in any class."""
    return measure(frame, quasi_identifiers, sensitive).l_distinct or 0


def entropy_l_diversity(
    frame: pl.DataFrame, quasi_identifiers: Sequence[str], sensitive: str
) -> float:
    """``exp`` of the lowest entropy of the sensitive column in any class."""
    return measure(frame, quasi_identifiers, sensitive).l_entropy or 0.0


def t_closeness(
    frame: pl.DataFrame,
    quasi_identifiers: Sequence[str],
    sensitive: str,
    *,
    ordered: bool | None = None,
    reference: pl.Series | None = None,
) -> float:
    """The largest earth mover's distance of a class to the reference distribution."""
    report = measure(frame, quasi_identifiers, sensitive, ordered=ordered, reference=reference)
    return report.t or 0.0


def certainty_penalty(original: pl.Expr, released: pl.Expr, *, numeric: bool) -> pl.Expr:
    """Per-cell NCP of ``released`` standing for ``original`` (Xu et al. 2006).

    A released null for a non-null original is a suppressed cell: penalty 1.
    A domain of one value loses nothing: penalty 0.
    """
    if numeric:
        value = original.to_physical()
        spread = value.max().over(released) - value.min().over(released)
        share = spread.cast(pl.Float64) / (value.max() - value.min()).cast(pl.Float64)
    else:
        covered = original.drop_nulls().n_unique().over(released) - 1
        share = covered.cast(pl.Float64) / (original.drop_nulls().n_unique() - 1).cast(pl.Float64)
    share = share.fill_nan(0.0).fill_null(0.0)
    return pl.when(released.is_null() & original.is_not_null()).then(1.0).otherwise(share)


def is_numeric(dtype: pl.DataType) -> bool:
    """Whether NCP treats a column as numeric (numbers and dates) rather than categorical."""
    return dtype.is_numeric() or dtype.is_temporal()


def normalized_certainty_penalty(
    original: pl.DataFrame,
    generalized: pl.DataFrame,
    quasi_identifiers: Sequence[str],
    *,
    suppressed: pl.Series | None = None,
) -> float:
    """Mean NCP over the quasi-identifier cells, in ``[0, 1]``.

    A generalized value is scored by the input values it stands for in the
    whole input table, so removing records does not make the labels of the
    others look more precise.

    Args:
        original: The input table.
        generalized: The same rows in the same order, generalized, suppressed
            records included.
        quasi_identifiers: The columns to score.
        suppressed: Booleans marking the records removed (each cell costs 1).

    Raises:
        AnonymizationError: The tables are not row-aligned or lack a column.
    """
    _check_columns(original, quasi_identifiers)
    _check_columns(generalized, quasi_identifiers)
    rows = {original.height, generalized.height}
    if suppressed is not None:
        rows.add(len(suppressed))
    if len(rows) != 1:
        raise AnonymizationError(
            "NCP needs the generalized table row-aligned with the input: generalize "
            "every record and pass the removed ones as the suppressed mask"
        )
    if not quasi_identifiers or original.height == 0:
        return 0.0
    pairs = pl.concat(
        [original.select(pl.col(q).alias(f"o{i}")) for i, q in enumerate(quasi_identifiers)]
        + [generalized.select(pl.col(q).alias(f"g{i}")) for i, q in enumerate(quasi_identifiers)],
        how="horizontal",
    )
    penalties = [
        certainty_penalty(pl.col(f"o{i}"), pl.col(f"g{i}"), numeric=is_numeric(original.schema[q]))
        for i, q in enumerate(quasi_identifiers)
    ]
    cell = pl.mean_horizontal(penalties)
    if suppressed is not None:
        pairs = pairs.with_columns(suppressed.alias("__removed"))
        cell = pl.when(pl.col("__removed")).then(1.0).otherwise(cell)
    return float(pairs.select(cell.mean()).item())


def discernibility(
    frame: pl.DataFrame, quasi_identifiers: Sequence[str], *, suppressed: int = 0
) -> int:
    """Discernibility metric: ``sum |E|^2`` plus ``|D|`` per suppressed record (Bayardo 2005)."""
    sizes = class_statistics(frame, quasi_identifiers)["size"]
    return int((sizes.cast(pl.Int64) ** 2).sum()) + suppressed * (frame.height + suppressed)


def average_class_size(frame: pl.DataFrame, quasi_identifiers: Sequence[str], k: int) -> float:
    """C_avg: mean class size over ``k``; 1 is the ideal (LeFevre et al. 2006)."""
    classes = class_statistics(frame, quasi_identifiers).height
    return frame.height / classes / k if classes else 0.0


def generalization_height(levels: Mapping[str, int], heights: Mapping[str, int]) -> float:
    """Levels used over levels available, in ``[0, 1]`` (Sweeney's precision is 1 minus it)."""
    available = sum(heights[q] for q in levels)
    return sum(levels.values()) / available if available else 0.0
