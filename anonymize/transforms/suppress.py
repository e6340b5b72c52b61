"""Suppress: every cell of the column replaced by null or a fixed marker.

The column stays in the table (its name and row count are kept) but carries
no information; the record-level counterpart is the bounded record
suppression of :mod:`anonymize.kanon`.
"""

from __future__ import annotations

from typing import Literal

import polars as pl

from anonymize.transforms._base import Context, Operator


def suppress(column: str, replacement: str | None = None) -> pl.Expr:
    """``column`` with every cell replaced by ``replacement`` (null by default).

    A null replacement keeps the column's type; a marker makes it a string.

    >>> pl.DataFrame({"x": [1, 2]}).select(suppress("x", "*"))["x"].to_list()
    ['*', '*']
    """
    value = pl.col(column)
    if replacement is None:
        return pl.when(pl.lit(False)).then(value).alias(column)  # typed nulls, one per row
    marker = pl.lit(replacement, pl.String)
    return pl.when(value.is_null()).then(marker).otherwise(marker).alias(column)


class Suppress(Operator):
    """Replace every cell by null, or by ``replacement`` (e.g. ``"*"``)."""

    op: Literal["suppress"] = "suppress"
    replacement: str | None = None

    def expression(self, frame: pl.DataFrame, column: str, context: Context) -> pl.Expr | None:
        return suppress(column, self.replacement)
