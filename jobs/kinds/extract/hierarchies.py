"""Choose a generalization hierarchy for each quasi-identifier of an extract.

The operator may name a hierarchy per column in the spec; every other
quasi-identifier gets one chosen here from its type, its name and the shape
of its values (read inside the sandbox; no value leaves through the choice,
the report names only the kind and its parameters):

======================  =====================================================
column                  hierarchy
======================  =====================================================
dates, ISO date text    month → quarter → year → decade → ``*``
named like an age       5-, 10-, 20-, 40-year bands → ``*``
other numbers           bands of a 1-2-5 width ``w`` ≈ range / 20, then
                        ``2w``, ``10w`` → ``*`` (integers: no band of width 1)
cities                  Jiangsu's: city → 苏南 / 苏中 / 苏北 → 江苏省 → ``*``;
                        other provinces': city → province → ``*``
Jiangsu districts and   district → city → region → 江苏省 → ``*`` (GB/T 2260;
counties                written alone or after the city)
education               value → 义务教育及以下 / 高中阶段 / 高等教育 → ``*``
occupations             value → GB/T 6565-2015 major group (8 大类, or
                        非从业人员 for 学生, 退休, 无业 …) → ``*``
full addresses          district → city → province → ``*`` (levels that hold a
                        single value are left out)
equal-length codes      prefixes of 6 / 4 / 2 characters (GB/T 2260 region
                        codes: county → city → province) → ``*``
other categories        the parent category where another quasi-identifier
                        is a function of this one (district → city), else
                        the values held by fewer than ``k`` records merged
                        into ``其他``, then (when it merges more) the values
                        held by under 10 % of the records too → ``*``
======================  =====================================================

A taxonomy (:mod:`anonymize.taxonomies`) is chosen by the values: when at
least 90 % of the column's non-null records hold a value it knows (60 % when
the column's name names it: 学历 / education, 职业 / occupation, 城市 / city,
区县 / district …), and the most of them as classified values rather than
bare labels. The records it does not know keep their value at its first level
when at least ``k`` records hold it (else ``其他``) and are ``其他`` above.
Levels that hold a single label, and levels above the first that merge
nothing more, are left out (with none left, the column is grouped by
frequency). The report names the basis (``taxonomy``, ``parent column``,
``frequency``), the taxonomy and its level names, never a value.

``*`` (suppression of the value) is always the top level, so the lattice
search of :mod:`anonymize.kanon` can trade a column away entirely.

When no category is rare and no taxonomy fits, the middle level of a category
equals its values (a map hierarchy needs one level): the lattice then holds
nodes of equal loss twice, which costs search time, never quality.

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
    DateLevel,
    Hierarchy,
    IntervalHierarchy,
    MapHierarchy,
    PrefixHierarchy,
    TableHierarchy,
)
from anonymize.taxonomies import TAXONOMIES, Taxonomy, coverage

#: The label of the merged rare categories (``*`` is reserved for full suppression).
OTHER = "其他"
_AGE = re.compile(r"(^|_)age($|_)|年龄|年纪|周岁", re.IGNORECASE)
_ADDRESS_NAME = re.compile(r"addr|地址|住址|住所", re.IGNORECASE)
_CODE = re.compile(r"^[0-9A-Za-z]*[0-9][0-9A-Za-z]*$")
#: Share of values that must parse as addresses (two parts or more) for an address hierarchy.
_ADDRESS_SHARE = 0.9
_BANDS = 20
#: Share of a column's records a taxonomy must know to be chosen (by values, by name).
_TAXONOMY_SHARE = 0.9
_NAMED_SHARE = 0.6
#: Second frequency level: values held by under this share of the records join 其他.
_COMMON_SHARE = 0.1
#: Automatic date levels.
_DATE_LEVELS: tuple[DateLevel, ...] = ("month", "quarter", "year", "decade")


@dataclass(frozen=True, slots=True)
class Choice:
    """The hierarchy of one quasi-identifier and how it was chosen.

    Attributes:
        hierarchy: The hierarchy handed to :func:`anonymize.kanon.enforce_k_anonymity`.
        source: ``spec`` (the operator named it) or ``automatic``.
        description: Its kind and parameters, and for an automatic map its basis
            (taxonomy and level names), without data values (for the report).
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
            h, basis = _automatic(frame, column, k, others)
            out[column] = Choice(h, "automatic", _describe(h) | basis)
    return out


def _describe(h: Hierarchy) -> dict[str, Any]:
    """Kind and parameters; a map's or a table's entries are data, so only levels are counted."""
    if isinstance(h, MapHierarchy | TableHierarchy):
        return {"kind": h.kind, "levels": h.height - 1, "height": h.height}
    params = h.model_dump(mode="json")
    return params | {"height": h.height}


_Basis = dict[str, Any]


def _automatic(
    frame: pl.DataFrame, column: str, k: int, others: Sequence[str]
) -> tuple[Hierarchy, _Basis]:
    """The hierarchy of one column and what it was built from (names only, for the report)."""
    dtype = frame.schema[column]
    values = frame[column].drop_nulls()
    if dtype.is_temporal():
        return DateHierarchy(levels=_DATE_LEVELS), {}
    if dtype.is_numeric() and values.n_unique() > 1:
        return _numeric(column, values, integer=dtype.is_integer()), {}
    textual = dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum)
    if textual and values.len():
        if dtype == pl.String and _all_dates(values):
            return DateHierarchy(levels=_DATE_LEVELS), {}
        taxonomic = _taxonomic(column, _counts(frame, column), k)
        if taxonomic is not None:
            return taxonomic
    if dtype == pl.String and values.len():
        address = _address(frame, column)
        if address is not None:
            return address, {}
        prefix = _prefix(values)
        if prefix is not None:
            return prefix, {}
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


def _counts(frame: pl.DataFrame, column: str) -> list[tuple[str, int]]:
    """Each non-null value of the column as text, with the number of records holding it."""
    text = frame.select(pl.col(column).cast(pl.String)).to_series().drop_nulls()
    return [(str(v), int(n)) for v, n in text.value_counts(name="n").iter_rows()]


def _taxonomy_for(column: str, counts: Sequence[tuple[str, int]]) -> Taxonomy | None:
    """The taxonomy that knows the column's records, the most of them as classified values."""
    best: tuple[tuple[float, bool], Taxonomy] | None = None
    for taxonomy in TAXONOMIES:
        named = taxonomy.named(column)
        known, leaves = coverage(taxonomy, counts)
        share = _NAMED_SHARE if named else _TAXONOMY_SHARE
        if known < share or leaves < share / 2:
            continue  # a column of bare labels (provinces only) has no level to gain
        if best is None or (leaves, named) > best[0]:
            best = ((leaves, named), taxonomy)
    return None if best is None else best[1]


def _taxonomic(
    column: str, counts: Sequence[tuple[str, int]], k: int
) -> tuple[MapHierarchy, _Basis] | None:
    """A map up the taxonomy that fits the column; unknown values are grouped by frequency.

    >>> h, basis = _taxonomic("学历", [("本科", 9), ("硕士", 5), ("初中", 7), ("夜校", 1)], 5)
    >>> h.levels
    ({'本科': '高等教育', '硕士': '高等教育', '初中': '义务教育及以下', '夜校': '其他'},)
    >>> basis["taxonomy"], basis["level_names"]
    ('education_stages', ['stage'])
    """
    taxonomy = _taxonomy_for(column, counts)
    if taxonomy is None:
        return None
    above = len(taxonomy.levels) - 1
    paths = {
        value: taxonomy.path(value) or ((value if n >= k else OTHER),) + (OTHER,) * above
        for value, n in counts
    }
    # Keep the first level (as a frequency map keeps one), then the levels that merge
    # something more; none that holds a single label (it would merge like ``*``).
    keep: list[int] = []
    previous = len(paths) + 1
    for i in range(len(taxonomy.levels)):
        labels = len({path[i] for path in paths.values()})
        if 1 < labels < previous:
            keep.append(i)
            previous = labels
    if not keep:
        return None
    maps: list[dict[str, str]] = [{} for _ in keep]
    for value, path in paths.items():
        below = value
        for mapping, i in zip(maps, keep, strict=True):
            if mapping.setdefault(below, path[i]) != path[i]:
                return None  # pragma: no cover - taxonomies nest (checked when built)
            below = path[i]
    basis: _Basis = {
        "basis": "taxonomy",
        "taxonomy": taxonomy.name,
        "standard": taxonomy.standard,
        "level_names": [taxonomy.levels[i] for i in keep],
    }
    return MapHierarchy(levels=tuple(maps)), basis


def _categorical(
    frame: pl.DataFrame, column: str, k: int, others: Sequence[str]
) -> tuple[MapHierarchy, _Basis]:
    """The parent category if one exists among the other quasi-identifiers, else by frequency."""
    text = frame.select(pl.col(column).cast(pl.String)).to_series()
    parent = _parent(frame, column, text, others)
    if parent is not None:
        return parent, {"basis": "parent column"}
    return _frequency(_counts(frame, column), k), {"basis": "frequency"}


def _frequency(counts: Sequence[tuple[str, int]], k: int) -> MapHierarchy:
    """Values held by fewer than ``k`` records → 其他; then those under 10 % of records too.

    >>> counts = [("工人", 60), ("农民", 30), ("教师", 8), ("船长", 2)]
    >>> [sorted(set(level.values())) for level in _frequency(counts, 5).levels]
    [['其他', '农民', '工人', '教师'], ['其他', '农民', '工人']]
    """
    rare = {value: value if n >= k else OTHER for value, n in counts}
    held: dict[str, int] = {}
    for value, n in counts:
        held[rare[value]] = held.get(rare[value], 0) + n
    total = sum(held.values())
    common = {
        label: label if label != OTHER and n >= _COMMON_SHARE * total else OTHER
        for label, n in held.items()
    }
    if 1 < len(set(common.values())) < len(held):
        return MapHierarchy(levels=(rare, common))
    return MapHierarchy(levels=(rare,))


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
