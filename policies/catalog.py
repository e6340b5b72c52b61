"""Classification of datasets and columns (art. 20, 34, 62).

Pure values: the open attribute a dataset is published under, its security
grade, and the tag of each column that decides how jobs may use it.
"""

from __future__ import annotations

from enum import StrEnum

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
