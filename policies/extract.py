"""Rules of the anonymized row-level release, the ``extract`` job kind (art. 37, art. 62).

An extract releases records, so it answers to art. 37 (personal information
leaves only anonymized) and to the security grade of art. 62:

- ``core`` data is never extracted;
- the smallest equivalence class must hold at least ``k`` records: 5 for
  ``general`` data, 10 for ``important`` data; a grant may demand more,
  never less;
- a ``sensitive`` column leaves only if every class is l-diverse (l ≥ 2);
- a direct identifier never leaves as itself: it is dropped, or replaced by
  a keyed pseudonym when the grant allows linkage;
- a grant may fail at most :data:`MAX_FAILED_EXTRACTS` extracts a day: a
  failure tells its operator, at no ε, that the data cannot meet the spec,
  and resubmitting with other targets would otherwise search out a record
  count one bit at a time.

Rules come in pairs: ``check_*`` raises a precise error, ``can_*`` returns
a bool built on it. Messages name columns and grades, never data values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from policies.catalog import ColumnTag, Grade, Product, check_grade_allows
from policies.errors import InvalidJobSpec, PolicyViolation

#: art. 62: the least k of an extract by grade; core data is not extracted at all.
DEFAULT_MIN_K: Mapping[Grade, int] = {Grade.GENERAL: 5, Grade.IMPORTANT: 10}
#: art. 37: the least distinct sensitive values per equivalence class.
MIN_L = 2
#: Failed extracts a grant may have within :data:`FAILED_EXTRACT_WINDOW` before more are
#: refused: each failure is one bit about the data, told without a privacy charge.
MAX_FAILED_EXTRACTS = 3
FAILED_EXTRACT_WINDOW = dt.timedelta(days=1)


def check_failed_extracts(failed: int) -> None:
    """Raise when a grant's failed extracts of the last window reach the limit.

    Args:
        failed: The grant's extracts that ran and failed within
            :data:`FAILED_EXTRACT_WINDOW`, and those still queued or running
            (each may yet fail).

    Raises:
        PolicyViolation: ``failed`` is at least :data:`MAX_FAILED_EXTRACTS`.

    >>> check_failed_extracts(MAX_FAILED_EXTRACTS - 1)
    >>> can_submit_extract(MAX_FAILED_EXTRACTS)
    False
    """
    if failed >= MAX_FAILED_EXTRACTS:
        hours = int(FAILED_EXTRACT_WINDOW.total_seconds() // 3600)
        raise PolicyViolation(
            f"this grant has {MAX_FAILED_EXTRACTS} extracts that failed in the last {hours} "
            "hours or are still running; each failure tells whether the data can meet a spec "
            "at no privacy cost, so more extracts wait until those finish and the oldest "
            "failure is a day old (art. 37): ask the data bureau to look at the failed specs"
        )


def limits_failures(product: Product) -> bool:
    """Whether failed jobs releasing ``product`` count towards :data:`MAX_FAILED_EXTRACTS`.

    Records are released only when the data meets the spec's k and l: a failed run
    tells whether it does, at no privacy cost. A DP product's failure tells nothing
    the noise does not cover, and operator code is reviewed whether it fails or not.

    >>> limits_failures(Product.RECORDS), limits_failures(Product.STATISTICS)
    (True, False)
    """
    return product is Product.RECORDS


def can_submit_extract(failed: int) -> bool:
    """Whether a grant with ``failed`` recent failed extracts may submit another."""
    try:
        check_failed_extracts(failed)
    except PolicyViolation:
        return False
    return True


def check_can_extract_grade(grade: Grade) -> None:
    """Raise unless data of ``grade`` may be released row by row.

    Raises:
        PolicyViolation: The data is graded ``core``.

    >>> check_can_extract_grade(Grade.IMPORTANT)
    >>> can_extract_grade(Grade.CORE)
    False
    """
    # art. 62: core data (核心数据) gets the strictest protection: no record-level release.
    check_grade_allows(grade, Product.RECORDS)


def can_extract_grade(grade: Grade) -> bool:
    """Whether data of ``grade`` may be extracted; see :func:`check_can_extract_grade`."""
    try:
        check_can_extract_grade(grade)
    except PolicyViolation:
        return False
    return True


def min_k(grade: Grade, grant_k: int | None = None) -> int:
    """The least k an extract of ``grade`` data must reach under a grant.

    The grant's own k may only tighten the grade's default (art. 62: important
    data needs more protection than general data, and no grant lowers it).

    Args:
        grade: The dataset's security grade.
        grant_k: The grant's ``extract_k``, or ``None`` for the grade's default.

    Returns:
        ``max(default of the grade, grant_k)``.

    Raises:
        PolicyViolation: The data is graded ``core``.
        InvalidJobSpec: ``grant_k`` is below 2 (k = 1 protects no one).

    >>> min_k(Grade.GENERAL), min_k(Grade.IMPORTANT), min_k(Grade.GENERAL, 3)
    (5, 10, 5)
    >>> min_k(Grade.GENERAL, 20)
    20
    """
    check_can_extract_grade(grade)
    if grant_k is not None and grant_k < 2:
        raise InvalidJobSpec("a grant's extract k must be at least 2: fix the grant")
    return max(DEFAULT_MIN_K[grade], grant_k or 0)


def effective_k(requested: int, minimum: int) -> int:
    """The k an extract enforces: what the spec asks, raised to the grade's and grant's minimum.

    >>> effective_k(5, 10), effective_k(20, 10)
    (10, 20)
    """
    return max(requested, minimum)


def check_can_release_sensitive(sensitive: Sequence[str], l_target: int | None) -> None:
    """Raise unless the sensitive columns of an extract are protected by l-diversity.

    Args:
        sensitive: The released columns tagged ``sensitive``.
        l_target: The spec's l, or ``None``.

    Raises:
        PolicyViolation: A sensitive column is released without l ≥ 2.

    >>> check_can_release_sensitive([], None)
    >>> can_release_sensitive(["income"], None), can_release_sensitive(["income"], 2)
    (False, True)
    """
    # art. 37: a class of records that all share one sensitive value discloses it (homogeneity).
    if sensitive and (l_target is None or l_target < MIN_L):
        raise PolicyViolation(
            f"column(s) {', '.join(repr(c) for c in sensitive)} are tagged sensitive and "
            f"leave only l-diverse (art. 37): set l to at least {MIN_L}, "
            "or leave the column(s) out of the extract"
        )


def can_release_sensitive(sensitive: Sequence[str], l_target: int | None) -> bool:
    """Whether the sensitive columns may leave; see :func:`check_can_release_sensitive`."""
    try:
        check_can_release_sensitive(sensitive, l_target)
    except PolicyViolation:
        return False
    return True


def check_can_pseudonymize(
    pseudonymize: Sequence[str], tags: Mapping[str, ColumnTag], *, linkage: bool
) -> None:
    """Raise unless the columns to pseudonymize are direct identifiers and the grant allows linkage.

    Args:
        pseudonymize: The columns the spec wants released as keyed pseudonyms.
        tags: Column name to tag, from the catalog.
        linkage: Whether the grant allows linkable records (``allow_linkage``).

    Raises:
        InvalidJobSpec: A listed column is unknown or not a direct identifier.
        PolicyViolation: The grant does not allow linkage.

    >>> tags = {"resident_id": ColumnTag.DIRECT_IDENTIFIER}
    >>> check_can_pseudonymize(["resident_id"], tags, linkage=True)
    >>> can_pseudonymize(["resident_id"], tags, linkage=False)
    False
    """
    for column in pseudonymize:
        tag = tags.get(column)
        if tag is None:
            raise InvalidJobSpec(f"the dataset has no column '{column}' to pseudonymize")
        if tag is not ColumnTag.DIRECT_IDENTIFIER:
            raise InvalidJobSpec(
                f"column '{column}' is tagged {tag.value}: only direct identifiers are "
                "pseudonymized; remove it from pseudonymize"
            )
    # art. 37: a pseudonym links a person's records across releases; only a grant that
    # allows linkage may carry one, and never the identifier itself.
    if pseudonymize and not linkage:
        raise PolicyViolation(
            f"column(s) {', '.join(repr(c) for c in pseudonymize)} would leave as pseudonyms, "
            "but the grant does not allow linkage (art. 37): remove them from pseudonymize "
            "(they are then dropped), or ask the data bureau for a grant that allows linkage"
        )


def can_pseudonymize(
    pseudonymize: Sequence[str], tags: Mapping[str, ColumnTag], *, linkage: bool
) -> bool:
    """Whether the columns may leave as pseudonyms; see :func:`check_can_pseudonymize`."""
    try:
        check_can_pseudonymize(pseudonymize, tags, linkage=linkage)
    except (PolicyViolation, InvalidJobSpec):
        return False
    return True


__all__ = [
    "DEFAULT_MIN_K",
    "MIN_L",
    "can_extract_grade",
    "can_pseudonymize",
    "can_release_sensitive",
    "check_can_extract_grade",
    "check_can_pseudonymize",
    "check_can_release_sensitive",
    "effective_k",
    "min_k",
]
