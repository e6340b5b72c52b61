"""Which rows belong to a known person: the one rule every job kind and the catalog share.

A row whose privacy unit is null (or NaN in a float column) names no one.
Jobs drop such rows before anything else (:mod:`jobs.dp.bounding`,
:mod:`jobs._train_data`; extracts in :mod:`jobs._extract_rows`), the catalog
counts them at ingest, and the client's local evaluator drops them too. Kept,
they would share one person's quota and pool different people into one.

Light on purpose (polars only): the client imports it.
"""

from __future__ import annotations

import polars as pl


def known_unit(unit: str, dtype: pl.DataType) -> pl.Expr:
    """True where the privacy unit names a person: not null, and not NaN in a float column.

    >>> frame = pl.DataFrame({"pid": [1.0, None, float("nan")]})
    >>> frame.filter(known_unit("pid", frame.schema["pid"])).height
    1
    """
    known = pl.col(unit).is_not_null()
    return known & pl.col(unit).is_not_nan() if dtype.is_float() else known
