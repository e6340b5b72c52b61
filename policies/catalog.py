"""Classification of datasets and columns (art. 20, 34, 62).

Pure values: the open attribute a dataset is published under, its security
grade, the tag of each column that decides how jobs may use it, and the
group-size bands a steward declares for estimates.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from policies.errors import InvalidJobSpec, InvalidRequest, PolicyViolation


class OpenAttribute(StrEnum):
    """Art. 34: public data is open unconditionally, conditionally, or not at all."""

    UNCONDITIONAL = "unconditional"  # 无条件开放
    CONDITIONAL = "conditional"  # 有条件开放
    CLOSED = "closed"  # 不予开放


class Grade(StrEnum):
    """Art. 62: data security grade (一般 / 重要 / 核心数据)."""

    GENERAL = "general"
    IMPORTANT = "important"
    CORE = "core"


class Product(StrEnum):
    """What kind of derived product (数据产品) a job kind releases.

    The rules on grades (art. 62) and on review are written per product, so no
    rule names a job kind: each kind declares the product it releases.
    """

    #: Differentially private statistics (tables of noisy counts, sums, means...).
    STATISTICS = "statistics"
    #: Anonymized row-level records (k-anonymity, l-diversity; art. 37).
    RECORDS = "records"
    #: A model trained with differential privacy.
    MODEL = "model"
    #: Whatever operator code wrote: no guarantee by construction, always reviewed.
    PROGRAM_OUTPUT = "program_output"


#: art. 62: which derived products may be made from data of each grade. Core data
#: (核心数据) gets the strictest protection: no product of any kind leaves it.
_PRODUCTS_BY_GRADE: dict[Grade, frozenset[Product]] = {
    Grade.GENERAL: frozenset(Product),
    Grade.IMPORTANT: frozenset(Product),
    Grade.CORE: frozenset(),
}
#: Why a product may not be made from core data, in the words its operators know.
_CORE_REFUSALS: dict[Product, str] = {
    Product.STATISTICS: "core data (核心数据) admits no row-level or small-area output (art. 62)",
    Product.RECORDS: "the dataset is graded core (art. 62): core data cannot be extracted row "
    "by row; ask the data bureau for an aggregate product or a dataset of a lower grade",
    Product.MODEL: "core data (核心数据) admits no model training (art. 62); "
    "ask the data bureau for an aggregate instead",
    Product.PROGRAM_OUTPUT: "operator code may not run on core data (核心数据, art. 62); "
    "use a declarative job kind (aggregate) instead",
}


def check_grade_allows(grade: Grade, product: Product) -> None:
    """Raise unless ``product`` may be made from data of ``grade`` (the grade × product table).

    Raises:
        PolicyViolation: The grade admits no such product (core data: none, art. 62).

    >>> check_grade_allows(Grade.IMPORTANT, Product.RECORDS)
    >>> grade_allows(Grade.CORE, Product.STATISTICS)
    False
    """
    if product not in _PRODUCTS_BY_GRADE[grade]:
        raise PolicyViolation(
            _CORE_REFUSALS[product]
            if grade is Grade.CORE
            else f"data graded {grade.value} admits no {product.value} product (art. 62)"
        )


def grade_allows(grade: Grade, product: Product) -> bool:
    """Whether the grade admits the product; see :func:`check_grade_allows`."""
    return product in _PRODUCTS_BY_GRADE[grade]


class ColumnTag(StrEnum):
    """How a column may be used by a job."""

    #: Identifies a person on its own (name, resident ID, phone). Never leaves; art. 37.
    DIRECT_IDENTIFIER = "direct_identifier"
    #: Identifies a person in combination (age, district, sex).
    QUASI_IDENTIFIER = "quasi_identifier"
    #: Sensitive personal information (income, health).
    SENSITIVE = "sensitive"
    #: Neither.
    PLAIN = "plain"


class ColumnUse(StrEnum):
    """The roles a column can play in an aggregate query."""

    FILTER = "filter"
    GROUP_BY = "group_by"
    MEASURE = "measure"


# Which tags each use admits. art. 37: direct identifiers never enter a query,
# not even as a filter (a filter on an ID singles out one person).
_ALLOWED_USES: dict[ColumnTag, frozenset[ColumnUse]] = {
    ColumnTag.DIRECT_IDENTIFIER: frozenset(),
    ColumnTag.QUASI_IDENTIFIER: frozenset({ColumnUse.FILTER, ColumnUse.GROUP_BY}),
    ColumnTag.SENSITIVE: frozenset({ColumnUse.MEASURE, ColumnUse.FILTER}),
    ColumnTag.PLAIN: frozenset(ColumnUse),
}


def check_column_use(column: str, tag: ColumnTag, use: ColumnUse) -> None:
    """Raise unless a column with ``tag`` may be used as ``use`` in a query.

    Args:
        column: The column name (a schema name, safe to show).
        tag: The column's catalog tag.
        use: How the query wants to use it.

    Raises:
        InvalidJobSpec: The tag forbids the use.

    >>> check_column_use("age", ColumnTag.QUASI_IDENTIFIER, ColumnUse.GROUP_BY)
    >>> can_use_column(ColumnTag.DIRECT_IDENTIFIER, ColumnUse.FILTER)
    False
    """
    if use not in _ALLOWED_USES[tag]:
        allowed = sorted(u.value for u in _ALLOWED_USES[tag]) or ["nothing"]
        raise InvalidJobSpec(
            f"column '{column}' is tagged {tag.value} and cannot be used as {use.value} "
            f"(art. 37); a {tag.value} column may be used for: {', '.join(allowed)}"
        )


def can_use_column(tag: ColumnTag, use: ColumnUse) -> bool:
    """Whether a column with ``tag`` may be used as ``use``; see :func:`check_column_use`."""
    return use in _ALLOWED_USES[tag]


#: art. 37: a product may leave only when no person can be singled out, and the DP
#: guarantee is per person, told apart by the privacy unit. Rows whose unit is missing
#: (null, NaN, a blank string) are dropped from every job (they are no known person's);
#: when they are more than this share of the rows the unit does not identify people and
#: the dataset is refused.
MAX_NULL_UNIT_SHARE = 0.5


def check_privacy_unit_coverage(unit: str, rows: int, null_units: int) -> None:
    """Raise unless at most :data:`MAX_NULL_UNIT_SHARE` of the rows lack a privacy unit.

    Args:
        unit: The privacy-unit column (a schema name, safe to show).
        rows: Rows in the dataset.
        null_units: Rows whose privacy unit is null, NaN or a blank string.

    Raises:
        InvalidRequest: More than half of the rows have no privacy unit (art. 37).

    >>> check_privacy_unit_coverage("resident_id", 10, 5)
    >>> can_cover_privacy_units(10, 6)
    False
    """
    if not can_cover_privacy_units(rows, null_units):
        raise InvalidRequest(
            f"the privacy unit '{unit}' is empty in {null_units} of {rows} rows, more than "
            f"{MAX_NULL_UNIT_SHARE:.0%}: rows without it belong to no known person and are "
            "dropped from every job (art. 37). Fill the column, choose a column that names "
            "a person in most rows, or declare no privacy unit if each row is one person"
        )


def can_cover_privacy_units(rows: int, null_units: int) -> bool:
    """Whether the unit names a person in enough rows; see :func:`check_privacy_unit_coverage`."""
    return null_units <= MAX_NULL_UNIT_SHARE * rows


#: Largest group size a band may declare (far above any table the sandbox holds).
MAX_GROUP_SIZE = 10**12
#: Most columns one band's key may combine (as many as a query may group by).
MAX_BAND_COLUMNS = 4


@dataclass(frozen=True, slots=True)
class GroupSizeBand:
    """How many rows a group holds, as the data bureau expects: ``low`` to ``high``.

    A planning figure the steward declares in the catalog, never measured from
    the data (a measured size would be a data-derived number the operator sees).
    Estimates of means, variances and quantiles, and the small-cell warnings,
    are given at ``low`` (the worst case) and at ``high``.

    Raises:
        InvalidRequest: Not whole numbers with 1 <= low <= high <= MAX_GROUP_SIZE.

    >>> GroupSizeBand(200, 2000).as_dict()
    {'low': 200, 'high': 2000}
    """

    low: int
    high: int

    def __post_init__(self) -> None:
        whole = all(isinstance(v, int) and not isinstance(v, bool) for v in (self.low, self.high))
        if not whole or not 1 <= self.low <= self.high <= MAX_GROUP_SIZE:
            raise InvalidRequest(
                'a group-size band is {"low": L, "high": H} with whole numbers '
                f"1 <= L <= H <= {MAX_GROUP_SIZE:,}"
            )

    def as_dict(self) -> dict[str, int]:
        """As the catalog stores it."""
        return {"low": self.low, "high": self.high}


def band_columns(key: str) -> tuple[str, ...]:
    """The columns a band's key names: ``"city"`` or ``"city,sex"`` (a group of both).

    >>> band_columns("city, sex")
    ('city', 'sex')
    """
    return tuple(c.strip() for c in key.split(","))


def check_group_size_bands(
    bands: Mapping[str, Any], tags: Mapping[str, ColumnTag]
) -> dict[str, GroupSizeBand]:
    """Parse the steward's group-size bands, or raise a message that says what to write.

    Format: ``{"city": {"low": 200, "high": 2000}, "city,sex": {"low": 80, "high": 1000}}``
    means a group of rows sharing one city holds 200 to 2,000 rows, one sharing a city
    and a sex 80 to 1,000. A key names one column, or several joined by commas (at most
    :data:`MAX_BAND_COLUMNS`), each a column of the dataset that a query may group by.

    Args:
        bands: The declared bands, as JSON gives them.
        tags: The dataset's columns and their tags.

    Returns:
        Normalized key (the columns sorted, joined by ``,``) -> band.

    Raises:
        InvalidRequest: Unknown or ungroupable column, a repeated column, a malformed band.

    >>> check_group_size_bands({"city": {"low": 200, "high": 2000}},
    ...                        {"city": ColumnTag.QUASI_IDENTIFIER})
    {'city': GroupSizeBand(low=200, high=2000)}
    >>> can_declare_group_size_bands({"name": {"low": 1, "high": 1}},
    ...                              {"name": ColumnTag.DIRECT_IDENTIFIER})
    False
    """
    parsed: dict[str, GroupSizeBand] = {}
    for key, band in bands.items():
        columns = band_columns(key)
        if not 1 <= len(columns) <= MAX_BAND_COLUMNS or len(set(columns)) != len(columns):
            raise InvalidRequest(
                f"a group-size band's key names 1 to {MAX_BAND_COLUMNS} distinct columns "
                'joined by commas, e.g. "city" or "city,sex"'
            )
        for column in columns:
            if column not in tags:
                raise InvalidRequest(f"a group-size band names a column the data lacks: {column}")
            if not can_use_column(tags[column], ColumnUse.GROUP_BY):
                raise InvalidRequest(
                    f"column '{column}' is tagged {tags[column].value} and cannot be grouped "
                    "on: it takes no group-size band"
                )
        if not isinstance(band, Mapping) or set(band) != {"low", "high"}:
            raise InvalidRequest(
                f'the group-size band of \'{key}\' must be {{"low": L, "high": H}}'
            )
        normal = ",".join(sorted(columns))  # a group of city and sex is one of sex and city
        if normal in parsed:
            raise InvalidRequest(f"two group-size bands name the same columns: {normal}")
        parsed[normal] = GroupSizeBand(band["low"], band["high"])
    return parsed


def can_declare_group_size_bands(bands: Mapping[str, Any], tags: Mapping[str, ColumnTag]) -> bool:
    """Whether the bands are well formed; see :func:`check_group_size_bands`."""
    try:
        check_group_size_bands(bands, tags)
    except InvalidRequest:
        return False
    return True


def band_for(
    bands: Mapping[str, GroupSizeBand],
    group_by: Sequence[str],
    domain_sizes: Mapping[str, int],
) -> GroupSizeBand | None:
    """The band of the groups a query makes, from the declared ones; ``None`` if none fits.

    A band declared for exactly the query's columns (in any order) is taken as
    is. Otherwise the band of the most columns among them is spread evenly over
    the declared domains of the query's other columns (a group by city and sex,
    with a band for city and two declared sexes, gets half the city's band);
    without a band or without those domains there is nothing to say.

    >>> band_for({"city": GroupSizeBand(200, 2000)}, ["sex", "city"], {"sex": 2})
    GroupSizeBand(low=100, high=1000)
    """
    wanted = frozenset(group_by)
    best: tuple[int, GroupSizeBand] | None = None
    for key, band in bands.items():
        columns = frozenset(band_columns(key))
        if columns == wanted:
            return band
        rest = wanted - columns
        if not columns < wanted or any(c not in domain_sizes for c in rest):
            continue
        spread = math.prod(domain_sizes[c] for c in rest)
        shared = GroupSizeBand(max(1, band.low // spread), max(1, band.high // spread))
        if best is None or len(columns) > best[0]:
            best = (len(columns), shared)
    return best[1] if best is not None else None
