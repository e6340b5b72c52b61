"""Choose a generalization hierarchy for each quasi-identifier of an extract.

The operator may name a hierarchy per column in the spec; every other
quasi-identifier gets one chosen here from its type, its name and the shape
of its values (read inside the sandbox; no value leaves through the choice,
the report names only the kind and its parameters):

======================  =====================================================
column                  hierarchy
======================  =====================================================
dates, ISO date text    month → year → decade → ``*``
named like an age       5-, 10-, 20-, 40-year bands → ``*``
other numbers           bands of a 1-2-5 width ``w`` ≈ range / 20, then
                        ``2w``, ``10w`` → ``*`` (integers: no band of width 1)
full addresses          district → city → province → ``*`` (levels that hold a
                        single value are left out)
equal-length codes      prefixes of 6 / 4 / 2 characters (GB/T 2260 region
                        codes: county → city → province) → ``*``
other categories        the parent category where another quasi-identifier
                        is a function of this one (district → city), else
                        the values held by fewer than ``k`` records merged
                        into ``其他`` → ``*``
======================  =====================================================

``*`` (suppression of the value) is always the top level, so the lattice
search of :mod:`anonymize.kanon` can trade a column away entirely.

When no category is rare, the middle level of a category equals its values
(a map hierarchy needs one level): the lattice then holds nodes of equal
loss twice, which costs search time, never quality.

Why hand-written: ARX (Java) and sdcMicro (R) offer hierarchy builders that a
steward drives; neither runs in this Python worker, and neither picks a
builder from a column's semantics. The hierarchies themselves are
:mod:`anonymize.hierarchies`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from anonymize.hierarchies import (
    SUPPRESSED,
    AddressHierarchy,
    AddressLevel,
    DateHierarchy,
    Hierarchy,
    IntervalHierarchy,
    MapHierarchy,
    PrefixHierarchy,
)

#: The label of the merged rare categories (``*`` is reserved for full suppression).
OTHER = "其他"
_AGE = re.compile(r"(^|_)age($|_)|年龄|年纪|周岁", re.IGNORECASE)
_ADDRESS_NAME = re.compile(r"addr|地址|住址|住所", re.IGNORECASE)
_CODE = re.compile(r"^[0-9A-Za-z]*[0-9][0-9A-Za-z]*$")
#: Share of values that must parse as addresses (two parts or more) for an address hierarchy.
_ADDRESS_SHARE = 0.9
_BANDS = 20


@dataclass(frozen=True, slots=True)
class Choice:
    """The hierarchy of one quasi-identifier and how it was chosen.

    Attributes:
        hierarchy: The hierarchy handed to :func:`anonymize.kanon.enforce_k_anonymity`.
        source: ``spec`` (the operator named it) or ``automatic``.
        description: Its kind and parameters, without data values (for the report).
    """

    hierarchy: Hierarchy
    source: str
    description: dict[str, Any]


def choose(
    frame: pl.DataFrame,
    quasi_identifiers: Sequence[str],
    k: int,
    given: Mapping[str, Hierarchy],
) -> dict[str, Choice]:
    """A hierarchy per quasi-identifier: the spec's where given, else one chosen from the data.

    Args:
        frame: The records to release (after identifiers are handled).
        quasi_identifiers: The released quasi-identifier columns.
        k: The enforced k (categories held by fewer records are merged first).
        given: Hierarchies the spec names, by column.

    Returns:
        Column to its :class:`Choice`, in the order of ``quasi_identifiers``.
    """
    out: dict[str, Choice] = {}
    for column in quasi_identifiers:
        if column in given:
            h = given[column]
            out[column] = Choice(h, "spec", _describe(h))
        else:
            others = [q for q in quasi_identifiers if q != column and q not in given]
            h = _automatic(frame, column, k, others)
            out[column] = Choice(h, "automatic", _describe(h))
    return out


def _describe(h: Hierarchy) -> dict[str, Any]:
    """Kind and parameters; a map hierarchy's entries are data, so only their count is shown."""
    if isinstance(h, MapHierarchy):
        return {"kind": h.kind, "levels": len(h.levels), "height": h.height}
    params = h.model_dump(mode="json")
    return params | {"height": h.height}


def _automatic(frame: pl.DataFrame, column: str, k: int, others: Sequence[str]) -> Hierarchy:
    dtype = frame.schema[column]
    values = frame[column].drop_nulls()
    if dtype.is_temporal():
        return DateHierarchy(levels=("month", "year", "decade"))
    if dtype.is_numeric() and values.n_unique() > 1:
        return _numeric(column, values, integer=dtype.is_integer())
    if dtype == pl.String and values.len():
        if _all_dates(values):
            return DateHierarchy(levels=("month", "year", "decade"))
        address = _address(frame, column)
        if address is not None:
            return address
        prefix = _prefix(values)
        if prefix is not None:
            return prefix
    return _categorical(frame, column, k, others)


def _nice(x: float) -> float:
    """The smallest of 1, 2, 5 × 10^e at or above ``x`` (``x`` > 0).

    >>> _nice(3.6), _nice(0.13), _nice(10), _nice(10.5)
    (5.0, 0.2, 10.0, 20.0)
    """
    exponent = math.floor(math.log10(x))
    for step in (1, 2, 5, 10):
        width = step * 10.0**exponent
        if width >= x * (1 - 1e-12):
            return float(round(width, 12))
    return 10.0 ** (exponent + 1)  # pragma: no cover - the loop ends at 10


def _numeric(column: str, values: pl.Series, *, integer: bool) -> IntervalHierarchy:
    if _AGE.search(column):
        return IntervalHierarchy(widths=(5, 10, 20, 40))
    numbers = values.cast(pl.Float64).to_frame("v")
    low, high = numbers.select(pl.col("v").min().alias("lo"), pl.col("v").max().alias("hi")).row(0)
    spread = float(high) - float(low)
    width = _nice(spread / _BANDS)
    if integer:
        width = max(width, 1.0)
    widths = [w for w in (width, 2 * width, 10 * width) if not (integer and w == 1)]
    return IntervalHierarchy(widths=tuple(float(round(w, 12)) for w in widths))


def _all_dates(values: pl.Series) -> bool:
    parsed = values.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    return parsed.null_count() == 0


def _address(frame: pl.DataFrame, column: str) -> AddressHierarchy | None:
    """An address hierarchy over the levels that tell records apart, if the values are addresses."""
    probe = AddressHierarchy()
    parts = frame.select(
        [probe.expr(column, level).alias(f"l{level}") for level in (1, 2, 3)]
    ).drop_nulls()
    if not parts.height:
        return None
    # An address has at least two parts: its district level differs from its city level,
    # or its city level from its province level.
    parsed = parts.select(
        (
            (pl.col("l1") != pl.col("l2"))
            | ((pl.col("l2") != pl.col("l3")) & (pl.col("l3") != SUPPRESSED))
        ).mean()
    ).item()
    share = _ADDRESS_SHARE / 2 if _ADDRESS_NAME.search(column) else _ADDRESS_SHARE
    if parsed is None or parsed < share:
        return None
    names: tuple[AddressLevel, ...] = ("district", "city", "province")
    levels = tuple(name for i, name in enumerate(names) if parts[f"l{i + 1}"].n_unique() > 1)
    return AddressHierarchy(levels=levels) if levels else None


def _prefix(values: pl.Series) -> PrefixHierarchy | None:
    """Prefixes for codes of one length (region codes, postcodes): 6, 4, 2 characters."""
    lengths = values.str.len_chars().unique()
    if lengths.len() != 1 or not values.str.contains(_CODE.pattern).all():
        return None
    size = int(lengths[0])
    cuts = tuple(n for n in (6, 4, 2) if n < size)
    return PrefixHierarchy(lengths=cuts) if cuts else None


def _categorical(frame: pl.DataFrame, column: str, k: int, others: Sequence[str]) -> MapHierarchy:
    """The parent category if one exists among the other quasi-identifiers, else rare → 其他."""
    text = frame.select(pl.col(column).cast(pl.String)).to_series()
    parent = _parent(frame, column, text, others)
    if parent is not None:
        return parent
    counts = text.drop_nulls().value_counts(name="n")
    mapping = {value: value if n >= k else OTHER for value, n in counts.iter_rows()}
    return MapHierarchy(levels=(mapping,))


def _parent(
    frame: pl.DataFrame, column: str, text: pl.Series, others: Sequence[str]
) -> MapHierarchy | None:
    """A map to another column this one determines (district → city), the finest such, if any."""
    distinct = text.n_unique()
    best: tuple[int, dict[str, str]] | None = None
    for other in others:
        if frame.schema[other] != pl.String:
            continue
        pairs = pl.DataFrame({"v": text, "p": frame[other]}).drop_nulls().unique()
        coarser = pairs["p"].n_unique()
        functional = pairs["v"].n_unique() == pairs.height
        if functional and 1 < coarser < distinct and (best is None or coarser > best[0]):
            best = (coarser, dict(zip(pairs["v"].to_list(), pairs["p"].to_list(), strict=True)))
    if best is None or not text.drop_nulls().is_in(list(best[1])).all():
        return None  # some value has no parent (its parent cell is null): no map
    return MapHierarchy(levels=(best[1],))
