"""Which rows belong to a known person: the one rule every job kind and the catalog share.

A row whose privacy unit is null, NaN (in a float column) or an empty or
whitespace-only string (a quoted ``""`` in CSV, ``""`` in Parquet) names no
one. Jobs drop such rows before anything else (:mod:`jobs.kinds.aggregate.bounding`,
:mod:`jobs.kinds.train.data`; extracts in :mod:`jobs.kinds.extract.rows`), the catalog
counts them at ingest, and the client's local evaluator drops them too. Kept,
they would share one person's quota and pool different people into one.

Light on purpose (polars only): the client imports it.
"""

from __future__ import annotations

import polars as pl


def only_null_missing(dtype: pl.DataType) -> bool:
    """Whether a unit of ``dtype`` is missing only when null (no NaN, no blank string).

    Then the null count is the count of rows without a unit (no second pass).
    """
    return not (dtype.is_float() or _is_text(dtype))


def _is_text(dtype: pl.DataType) -> bool:
    return dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum)


def known_unit(unit: str, dtype: pl.DataType) -> pl.Expr:
    """True where the privacy unit names a person: not null, not NaN, not a blank string.

    >>> frame = pl.DataFrame({"pid": [1.0, None, float("nan")]})
    >>> frame.filter(known_unit("pid", frame.schema["pid"])).height
    1
    >>> frame = pl.DataFrame({"pid": ["a", None, "", " \u3000"]})
    >>> frame.filter(known_unit("pid", frame.schema["pid"])).height
    1
    """
    known = pl.col(unit).is_not_null()
    if dtype.is_float():
        return known & pl.col(unit).is_not_nan()
    if _is_text(dtype):
        return known & (pl.col(unit).cast(pl.String).str.strip_chars() != "")
    return known


def person_order(unit: str, dtype: pl.DataType) -> pl.Expr:
    """The order the catalog stores rows in: each person's rows together.

    Categorical units sort by their text (their codes differ from one
    process to the next); everything else by its value. The aggregate engine
    checks this order before it measures people as runs of rows
    (:mod:`jobs.kinds.aggregate.exact`).
    """
    text = isinstance(dtype, pl.Categorical | pl.Enum)
    return pl.col(unit).cast(pl.String) if text else pl.col(unit)
